"""Schema management through Alembic: upgrade to head, and whether a database is at head."""

from __future__ import annotations

from argparse import Namespace
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, text

_ENV_MARK = "import app.models"


def project_root() -> Path:
    """The folder holding `alembic.ini` and `migrations/`: beside the `app` package in a
    checkout, else the working directory (an installed package, as in the Docker image)."""
    candidates = [Path(__file__).resolve().parents[2], Path.cwd()]
    for folder in candidates:
        env = folder / "migrations" / "env.py"
        # Only this project's migrations: their env.py builds on the app's models.
        if (folder / "alembic.ini").is_file() and env.is_file() and _ENV_MARK in env.read_text():
            return folder
    raise RuntimeError(
        "alembic.ini and migrations/ not found beside the app package nor in "
        f"{Path.cwd()}: run the command from the project's folder"
    )


def alembic_config(connection: Connection | None = None) -> Config:
    """An Alembic config for this project; with a connection, migrations run on it."""
    root = project_root()
    config = Config(str(root / "alembic.ini"))
    config.set_main_option("script_location", str(root / "migrations"))
    config.attributes["configure_logging"] = False
    if connection is not None:
        config.attributes["connection"] = connection
    return config


MIGRATION_LOCK = 0x494B49  # "IKI": the PostgreSQL advisory lock that migrations hold


@contextmanager
def _migrating(engine: Engine) -> Iterator[Connection]:
    """A connection in a transaction for migrations.

    On PostgreSQL the transaction first takes an advisory lock, so that replicas started
    together migrate one at a time: the first migrates, the others wait for it to commit, then
    find the database at head and do nothing. On SQLite the transaction begins with the
    database's write lock, for the same queue.

    SQLite alters a table by copying it and dropping the original, which its enforced foreign
    keys would refuse (or cascade) while rows refer to it: they are off during the migration,
    as SQLite's own procedure for schema changes says, and checked whole before it commits."""
    # SQLite: the write lock from the start (BEGIN IMMEDIATE), so that a second migrator
    # waits for the first instead of failing when both read and then both want to write.
    with engine.execution_options(sqlite_begin="IMMEDIATE").connect() as connection:
        sqlite = connection.dialect.name == "sqlite"
        # On the driver's connection, before any transaction: inside one it is a no-op.
        raw = connection.connection.driver_connection if sqlite else None
        if raw is not None:
            raw.execute("PRAGMA foreign_keys=OFF")
        try:
            with connection.begin():
                if connection.dialect.name == "postgresql":
                    connection.execute(
                        text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK}
                    )
                yield connection
                if sqlite:
                    broken = connection.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
                    if broken:
                        raise RuntimeError(f"The migration broke foreign keys: {broken[:10]}")
        finally:
            if raw is not None:
                raw.execute("PRAGMA foreign_keys=ON")


def upgrade(engine: Engine, revision: str = "head") -> tuple[str | None, str | None]:
    """Migrate the database of `engine` up to `revision`; the revisions it was at before and
    is at after (equal when there was nothing to do)."""
    with _migrating(engine) as connection:
        before = current_revision(connection)
        command.upgrade(alembic_config(connection), revision)
        return before, current_revision(connection)


def downgrade(engine: Engine, revision: str, *, allow_audit_loss: bool = False) -> None:
    """Migrate the database of `engine` down to `revision` (past the audit trail's
    migrations only while it is empty, or with `allow_audit_loss`)."""
    with _migrating(engine) as connection:
        config = alembic_config(connection)
        if allow_audit_loss:
            config.cmd_opts = Namespace(x=[f"{ALLOW_AUDIT_LOSS}=yes"])
        command.downgrade(config, revision)


def head_revision() -> str | None:
    return ScriptDirectory.from_config(alembic_config()).get_current_head()


def current_revision(connection: Connection) -> str | None:
    return MigrationContext.configure(connection).get_current_revision()


ALLOW_AUDIT_LOSS = "allow_audit_loss"
"""`alembic -x allow_audit_loss=yes downgrade ...`: let a downgrade drop the audit trail's
protection or the trail itself while it holds events."""


def refuse_losing_audit_events(step: str) -> None:
    """Called by a migration's downgrade that would drop the audit trail or its protection:
    refuses while events exist, unless the downgrade was given `-x allow_audit_loss=yes`."""
    from alembic import context, op
    from sqlalchemy import text

    if context.get_x_argument(as_dictionary=True).get(ALLOW_AUDIT_LOSS) == "yes":
        return
    count = op.get_bind().execute(text("SELECT count(*) FROM audit_event")).scalar_one()
    if count:
        raise RuntimeError(
            f"The audit trail holds {count} events and this downgrade would {step}; "
            f"refused. Back the database up, then run it with -x {ALLOW_AUDIT_LOSS}=yes."
        )
