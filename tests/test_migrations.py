"""The schema exists only through Alembic: upgrade from empty, match the models, downgrade."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect
from sqlmodel import SQLModel

from app.core.db import make_engine
from app.core.migrations import current_revision, downgrade, head_revision, upgrade
from app.models import Agency


def test_upgrade_from_empty_matches_models_and_downgrades_to_empty(databases):
    engine = make_engine(databases.new_url("migrations"))
    try:
        upgrade(engine)
        with engine.connect() as conn:
            assert current_revision(conn) == head_revision()
            diff = compare_metadata(
                MigrationContext.configure(conn, opts={"compare_type": True}), SQLModel.metadata
            )
            assert diff == []
            tables = set(inspect(conn).get_table_names())
        assert set(SQLModel.metadata.tables) <= tables

        downgrade(engine, "base")
        with engine.connect() as conn:
            assert set(inspect(conn).get_table_names()) <= {"alembic_version"}

        upgrade(engine)  # and up again from a downgraded database
        with engine.connect() as conn:
            assert current_revision(conn) == head_revision()
    finally:
        engine.dispose()


def test_foreign_keys_are_enforced(session):
    from sqlalchemy.exc import IntegrityError

    from app.models import Unit

    session.add(Unit(agency_id=999_999, code="X", name="Nowhere"))
    try:
        session.flush()
    except IntegrityError:
        session.rollback()
    else:  # pragma: no cover - the assertion below reports it
        raise AssertionError("a unit of a missing agency was stored")


def test_every_enum_check_constraint_allows_exactly_its_enum(databases):
    """A member added to an enum (a role, an aggregation ...) without the migration of its
    CHECK constraint would be refused by the database at the first write."""
    import re

    from sqlalchemy import Enum as SAEnum

    engine = make_engine(databases.new_url("checks"))
    try:
        upgrade(engine)
        inspector = inspect(engine)
        compared = []
        for table in SQLModel.metadata.sorted_tables:
            constraints = {
                c["name"]: c["sqltext"] for c in inspector.get_check_constraints(table.name)
            }
            for column in table.columns:
                if not isinstance(column.type, SAEnum):
                    continue
                name = f"ck_{table.name}_{column.type.name}"
                assert name in constraints, f"{table.name}.{column.name}: no CHECK {name}"
                allowed = set(re.findall(r"'([^']*)'", constraints[name]))
                assert allowed == set(column.type.enums), (table.name, column.name)
                compared.append(name)
        assert len(compared) >= 6  # role (twice), polarity, value type, aggregation, state
    finally:
        engine.dispose()


def test_0008_refuses_stored_text_that_breaks_the_new_limits(databases):
    """A definition stored before 0008 that is too long for its field, or holds a control
    character, would fail every read of it: the upgrade refuses, naming each one, and goes
    through once they are corrected."""
    from pathlib import Path

    from sqlalchemy import text
    from sqlmodel import Session

    from app.services.seed import load_seed

    engine = make_engine(databases.new_url("limits"))
    try:
        # Seeded by today's models, then taken back to before 0008.
        upgrade(engine)
        with Session(engine) as session:
            load_seed(session, Path(__file__).resolve().parents[1] / "seed")
            session.commit()
        downgrade(engine, "0007")
        broken = {
            "UPDATE indicator SET name = :text WHERE code = 'KADIS.1.1'": "A" * 20_000,
            "UPDATE unit SET name = :text WHERE code = 'BID_PSM'": "Bidang\x1fPSM",
            "UPDATE position SET duties = :text WHERE code = 'KADIS'": '["ok", "a\\u0007b"]',
        }
        with engine.begin() as conn:
            for statement, value in broken.items():
                conn.execute(text(statement), {"text": value})
            ids = {
                table: conn.execute(
                    text(f"SELECT id FROM {table} WHERE code = :c"), {"c": code}
                ).scalar_one()
                for table, code in (
                    ("indicator", "KADIS.1.1"),
                    ("unit", "BID_PSM"),
                    ("position", "KADIS"),
                )
            }
        with pytest.raises(RuntimeError) as refused:
            upgrade(engine)
        message = str(refused.value)
        assert message.startswith("3 stored text(s) break the input rules")
        assert f"indicator {ids['indicator']} name: 20000 characters, at most 600" in message
        assert f"unit {ids['unit']} name: holds control characters (U+001F)" in message
        assert f"position {ids['position']} duties[1]: holds control characters (U+0007)" in message
        with engine.connect() as conn:
            assert current_revision(conn) == "0007"  # nothing was done

        with engine.begin() as conn:
            conn.execute(text("UPDATE indicator SET name = 'Persentase' WHERE code = 'KADIS.1.1'"))
            conn.execute(text("UPDATE unit SET name = 'Bidang PSM' WHERE code = 'BID_PSM'"))
            conn.execute(text("UPDATE position SET duties = '[\"ok\"]' WHERE code = 'KADIS'"))
        upgrade(engine)
        with engine.connect() as conn:
            assert current_revision(conn) == head_revision()
    finally:
        engine.dispose()


def test_replicas_migrating_at_once_migrate_once(databases):
    """Three `iki migrate` started together (replicas starting at once) on an empty
    database: one migrates, the others wait for it and find the database at head; none
    fails. On SQLite the database's lock queues them the same way."""
    url = databases.new_url("replicas")
    iki = str(Path(sys.executable).with_name("iki"))
    env = {**os.environ, "DATABASE_URL": url}
    runs = [
        subprocess.Popen(
            [iki, "migrate"], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        for _ in range(3)
    ]
    said = []
    for run in runs:
        _out, err = run.communicate(timeout=120)
        assert run.returncode == 0, err
        said.append(err.strip().splitlines()[-1])
    head = head_revision()
    assert sorted(said) == sorted(
        [f"database migrated from empty to head ({head})"]
        + [f"database already at head ({head})"] * 2
    )
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            assert current_revision(conn) == head
    finally:
        engine.dispose()


def test_0013_gives_every_agency_a_revision(databases):
    """Agencies stored before 0013 start at a revision of their own (random: not the
    column's default of 0, which two agencies would share)."""
    from pathlib import Path

    from sqlalchemy import text
    from sqlmodel import Session

    from app.services.seed import load_seed

    engine = make_engine(databases.new_url("revisions"))
    try:
        upgrade(engine)
        with Session(engine) as session:
            load_seed(session, Path(__file__).resolve().parents[1] / "seed")
            session.add(Agency(code="DINAS_LAIN", name="Dinas Lain"))
            session.commit()
        downgrade(engine, "0012")
        upgrade(engine)
        with engine.connect() as conn:
            revisions = dict(conn.execute(text("SELECT id, data_revision FROM agency")).all())
        assert len(revisions) == 2
        assert len(set(revisions.values())) == 2 and all(r > 0 for r in revisions.values())
    finally:
        engine.dispose()


def _schema_shape(conn) -> dict[str, object]:
    """Every table's columns (types, defaults), keys, constraints, indexes (partial ones with
    their condition) and, on SQLite, triggers; not the name of a primary key, which SQLite
    keeps nowhere for a key declared AUTOINCREMENT on its column."""
    from sqlalchemy import text

    inspector = inspect(conn)

    def text_of(value: object) -> object:  # a partial index's condition is a clause
        if isinstance(value, dict):
            return {k: text_of(v) for k, v in value.items()}
        return str(value)

    def plain(items: list) -> list[str]:
        return sorted(repr(text_of(item)) for item in items)

    shape: dict[str, object] = {
        table: (
            plain(inspector.get_columns(table)),
            inspector.get_pk_constraint(table)["constrained_columns"],
            plain(inspector.get_foreign_keys(table)),
            plain(inspector.get_unique_constraints(table)),
            plain(inspector.get_check_constraints(table)),
            plain(inspector.get_indexes(table)),
        )
        for table in inspector.get_table_names()
        if table != "alembic_version"
    }
    if conn.dialect.name == "sqlite":
        shape["sql of indexes and triggers"] = conn.execute(
            text(
                "SELECT type, name, tbl_name, sql FROM sqlite_master "
                "WHERE type IN ('index', 'trigger') ORDER BY name"
            )
        ).all()
    return shape


def test_0014_keeps_every_row_and_gives_no_id_the_trail_names_twice(databases):
    """On SQLite every table with a surrogate key is recreated AUTOINCREMENT, keeping its
    rows; the next id is above any the audit trail names, so a variable deleted before the
    upgrade, whose id was the largest, leaves its id to no other variable. (PostgreSQL's
    sequences never gave an id twice: there the upgrade does nothing.)"""
    from pathlib import Path

    from sqlalchemy import text
    from sqlalchemy.exc import DBAPIError
    from sqlmodel import Session, col, select

    from app.models import AuditEvent, Variable
    from app.services import audit
    from app.services.seed import load_seed

    engine = make_engine(databases.new_url("rowids"))
    try:
        upgrade(engine)
        with Session(engine) as session:
            load_seed(session, Path(__file__).resolve().parents[1] / "seed")
            session.commit()
        downgrade(engine, "0013")

        def copy_of_newest_variable(session: Session, code: str) -> Variable:
            newest = session.exec(select(Variable).order_by(col(Variable.id).desc())).first()
            assert newest is not None
            copy = Variable.model_validate(newest.model_dump(exclude={"id"}) | {"code": code})
            session.add(copy)
            session.commit()
            return copy

        with Session(engine) as session:
            audit.act_as(session, "cli", "admin", "test-0014")
            gone = copy_of_newest_variable(session, "dihapus")
            session.delete(gone)
            session.commit()
        with engine.connect() as conn:
            tables = inspect(conn).get_table_names()
            counts = {
                t: conn.execute(text(f'SELECT count(*) FROM "{t}"')).scalar_one() for t in tables
            }
            shape = _schema_shape(conn)
            largest = conn.execute(text("SELECT max(id) FROM variable")).scalar_one()
        assert gone.id is not None and gone.id > largest  # its id was the largest

        upgrade(engine)
        with engine.connect() as conn:
            assert current_revision(conn) == head_revision()
            assert {
                t: conn.execute(text(f'SELECT count(*) FROM "{t}"')).scalar_one() for t in tables
            } == counts
            assert _schema_shape(conn) == shape

        with Session(engine) as session:
            audit.act_as(session, "cli", "admin", "test-0014")
            made = copy_of_newest_variable(session, "baru")
            assert made.id is not None and made.id > gone.id
            named = session.exec(
                select(AuditEvent.action).where(
                    AuditEvent.entity == "variable", AuditEvent.entity_id == str(made.id)
                )
            ).all()
            assert named == ["create"]  # the trail of this id tells of this variable only
            session.delete(made)
            session.commit()
            again = copy_of_newest_variable(session, "lagi")
            assert again.id is not None and again.id > made.id

        with engine.connect() as conn:  # the trail is still append-only
            for statement in ("UPDATE audit_event SET actor = 'x'", "DELETE FROM audit_event"):
                with pytest.raises(DBAPIError, match="append-only"):
                    conn.execute(text(statement))
                conn.rollback()

        downgrade(engine, "0013")  # and back, as it was
        with engine.connect() as conn:
            assert _schema_shape(conn) == shape
    finally:
        engine.dispose()
