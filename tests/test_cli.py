"""The `iki` command, run as a user would, against its own SQLite database: in this process
(typer's runner), except where the test is about a process of its own."""

import os
import re
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlmodel import Session, select
from typer.testing import CliRunner

from app.cli import cli
from app.core.config import get_settings
from app.core.db import get_engine, get_write_engine, make_engine
from app.core.migrations import current_revision, head_revision
from app.core.security import Principal, authenticate_secret
from app.models import Role, Unit

ROOT = Path(__file__).resolve().parents[1]


# The tables the seed fills; every row in them after a first seed was created by it.
SEEDED_TABLES = (
    "agency",
    "unit",
    "position",
    "decree",
    "objective",
    "variable",
    "indicator",
    "indicator_source_unit",
    "rating_scale",
    "quality_rule",
)
SEED_FILES = (
    "rating_scale.yaml",
    "dinsosp3a-probolinggo/organization.yaml",
    "dinsosp3a-probolinggo/decree-2025.yaml",
    "dinsosp3a-probolinggo/quality-rules.yaml",
)
SEED_SUMMARY = re.compile(r"files loaded: (.*); (\d+) rows created, (\d+) updated$")


def row_counts(url: str, tables: tuple[str, ...] = SEEDED_TABLES) -> dict[str, int]:
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            return {
                table: connection.execute(text(f"SELECT count(*) FROM {table}")).scalar_one()
                for table in tables
            }
    finally:
        engine.dispose()


def seed_summary(stderr: str) -> tuple[str, int, int]:
    """(files loaded, rows created, rows updated) from what `iki seed` printed."""
    match = SEED_SUMMARY.search(stderr.strip())
    assert match, f"no seed summary in: {stderr!r}"
    return match[1], int(match[2]), int(match[3])


def authenticate(url: str, secret: str) -> Principal | None:
    engine = make_engine(url)
    try:
        with Session(engine) as session:
            return authenticate_secret(session, secret)
    finally:
        engine.dispose()


def unit_id(url: str, code: str) -> int:
    engine = make_engine(url)
    try:
        with Session(engine) as session:
            unit = session.exec(select(Unit).where(Unit.code == code)).one()
            assert unit.id is not None
            return unit.id
    finally:
        engine.dispose()


@pytest.fixture
def database_url(tmp_path) -> str:
    return f"sqlite:///{tmp_path / 'cli.db'}"


@pytest.fixture
def iki(tmp_path, database_url, monkeypatch):
    """Runs the command in this process, as a user would in tmp_path with DATABASE_URL set."""
    env = {"DATABASE_URL": database_url, "SEED_DIR": str(ROOT / "seed"), "TEST_DATABASE_URL": None}
    monkeypatch.chdir(tmp_path)
    runner = CliRunner()

    def run(*args: str, check: bool = True, **environment: str) -> subprocess.CompletedProcess[str]:
        with settings_of_the_environment():
            result = runner.invoke(cli, list(args), env={**env, **environment})
        if result.exception is not None and not isinstance(result.exception, SystemExit):
            raise result.exception
        done = subprocess.CompletedProcess(args, result.exit_code, result.stdout, result.stderr)
        if check:
            assert done.returncode == 0, done.stderr
        return done

    return run


@contextmanager
def settings_of_the_environment() -> Iterator[None]:
    """The settings and engine read afresh from the environment, as by a new process, and
    forgotten after (the rest of the run keeps its own)."""
    forget_settings()
    try:
        yield
    finally:
        forget_settings()


def forget_settings() -> None:
    for engine in (get_write_engine, get_engine):
        if engine.cache_info().currsize:
            engine().dispose()
        engine.cache_clear()
    get_settings.cache_clear()


def test_migrate_then_seed_once(iki, database_url):
    iki("migrate")
    assert row_counts(database_url) == dict.fromkeys(SEEDED_TABLES, 0)

    files, created, updated = seed_summary(iki("seed").stderr)
    counts = row_counts(database_url)
    assert files.split(", ") == list(SEED_FILES)
    assert counts["indicator"] == 39 and counts["unit"] == 6 and counts["agency"] == 1
    assert all(counts.values()), counts
    assert (created, updated) == (sum(counts.values()), 0), counts

    files, created, updated = seed_summary(iki("seed").stderr)
    assert files.startswith("none")
    assert (created, updated) == (0, 0)
    assert row_counts(database_url) == counts


def test_manage_keys(iki, database_url):
    iki("migrate")
    iki("seed")

    created = iki("keys", "create", "--name", "esakip", "--role", "reader")
    secret = created.stdout.strip()
    assert secret.startswith("iki_") and "\n" not in secret
    reader = authenticate(database_url, secret)
    assert reader is not None
    assert (reader.name, reader.role, reader.unit_ids) == ("esakip", Role.reader, frozenset())

    operator = iki("keys", "create", "--name", "psm", "--role", "operator", "--unit", "BID_PSM")
    principal = authenticate(database_url, operator.stdout.strip())
    assert principal is not None
    assert principal.role == Role.operator
    assert principal.unit_ids == {unit_id(database_url, "BID_PSM")}

    unscoped = iki("keys", "create", "--name", "x", "--role", "operator", check=False)
    assert unscoped.returncode == 1 and "unit" in unscoped.stderr
    duplicate = iki("keys", "create", "--name", "esakip", "--role", "admin", check=False)
    assert duplicate.returncode == 1 and "already exists" in duplicate.stderr
    assert row_counts(database_url, ("api_key",)) == {"api_key": 2}
    assert authenticate(database_url, secret) == reader  # still the reader key

    listing = iki("keys", "list").stdout.splitlines()
    rows = {line.split("\t")[0]: line.split("\t") for line in listing[1:]}
    assert set(rows) == {"esakip", "psm"}
    assert rows["esakip"][1:3] == ["reader", "-"] and rows["psm"][1:3] == ["operator", "BID_PSM"]
    assert rows["esakip"][-1] == "-"  # not revoked
    assert secret not in "\n".join(listing)

    iki("keys", "revoke", "esakip")
    assert authenticate(database_url, secret) is None
    assert authenticate(database_url, operator.stdout.strip()) is not None
    revoked = {
        line.split("\t")[0]: line.split("\t")[-1]
        for line in iki("keys", "list").stdout.splitlines()[1:]
    }
    assert revoked["esakip"] != "-" and revoked["psm"] == "-"
    assert iki("keys", "revoke", "nobody", check=False).returncode == 1


def test_migrate_from_an_installed_package(tmp_path):
    """As in the Docker image: the package is installed elsewhere, the command runs in the
    folder that holds alembic.ini, migrations/ and seed/."""
    import shutil

    site, home = tmp_path / "site", tmp_path / "home"
    shutil.copytree(ROOT / "app", site / "app", ignore=shutil.ignore_patterns("__pycache__"))
    home.mkdir()
    shutil.copy(ROOT / "alembic.ini", home)
    shutil.copytree(ROOT / "migrations", home / "migrations")
    shutil.copytree(ROOT / "seed", home / "seed")
    env = {**os.environ, "PYTHONPATH": str(site), "DATABASE_URL": "sqlite:///data/iki.db"}
    for name in ("TEST_DATABASE_URL", "SEED_DIR"):
        env.pop(name, None)
    for command in ("migrate", "seed"):
        result = subprocess.run(
            [sys.executable, "-m", "app.cli", command],
            cwd=home,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert result.returncode == 0, result.stderr
    # The relative paths resolved in the working folder: its seed/ was loaded into data/iki.db.
    files, created, _ = seed_summary(result.stderr)
    assert files.split(", ") == list(SEED_FILES)
    url = f"sqlite:///{home / 'data' / 'iki.db'}"
    counts = row_counts(url)
    assert counts["indicator"] == 39 and created == sum(counts.values())
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            assert current_revision(connection) == head_revision()
    finally:
        engine.dispose()


def test_migrations_of_another_project_are_not_used(tmp_path, monkeypatch):
    from app.core import migrations

    (tmp_path / "migrations").mkdir()
    (tmp_path / "alembic.ini").write_text("[alembic]\n")
    (tmp_path / "migrations" / "env.py").write_text("import other_project.models\n")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(migrations, "__file__", str(tmp_path / "site" / "app" / "core" / "m.py"))
    with pytest.raises(RuntimeError, match="not found"):
        migrations.project_root()
    (tmp_path / "migrations" / "env.py").write_text("import app.models\n")
    assert migrations.project_root() == tmp_path


def test_keys_of_every_role_and_lookalike_names(iki, database_url):
    iki("migrate")
    iki("seed")
    for role in ("viewer", "auditor"):
        secret = iki("keys", "create", "--name", f"Inspektorat {role}", "--role", role).stdout
        principal = authenticate(database_url, secret.strip())
        assert principal is not None
        assert (principal.name, principal.role) == (f"inspektorat {role}", Role(role))
    lookalike = iki(
        "keys", "create", "--name", "ＩＮＳＰＥＫＴＯＲＡＴ viewer", "--role", "viewer", check=False
    )
    assert lookalike.returncode == 1 and "already exists" in lookalike.stderr
    hidden = iki("keys", "create", "--name", "sekretaris\u200b", "--role", "verifier", check=False)
    assert hidden.returncode == 1 and "U+200B" in hidden.stderr


def test_seals_check(iki, database_url):
    iki("migrate")
    iki("seed")
    checked = iki("seals", "check", "--year", "2025")
    assert checked.stdout == "" and "0 sealed figures checked, 0 drifted" in checked.stderr


def test_forget_revises_every_agency(iki, database_url):
    iki("migrate")
    iki("seed")
    engine = make_engine(database_url)
    read = text("SELECT id, data_revision FROM agency ORDER BY id")
    try:
        with engine.connect() as connection:
            before = connection.execute(read).all()
        done = iki("forget")
        with engine.connect() as connection:
            after = connection.execute(read).all()
    finally:
        engine.dispose()
    assert len(before) == len(after) == 1 and before[0][0] == after[0][0]
    assert before[0][1] != after[0][1]
    assert "1 agencies revised" in done.stderr


def one_line_error(done: subprocess.CompletedProcess[str], code: int = 1) -> str:
    """The single line an expected error printed (and nothing on stdout)."""
    assert done.returncode == code, (done.returncode, done.stderr)
    assert done.stdout == "" and "Traceback" not in done.stderr, done.stderr
    lines = done.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), done.stderr
    return lines[0]


def test_expected_errors_are_one_line_messages(iki, tmp_path):
    unmigrated = one_line_error(iki("keys", "list", check=False))
    assert "cannot use the database sqlite:///" in unmigrated and "no such table" in unmigrated
    unreachable = one_line_error(
        iki(
            "keys",
            "list",
            check=False,
            DATABASE_URL="postgresql+psycopg://iki:secret@127.0.0.1:1/iki",
        )
    )
    assert "cannot use the database postgresql+psycopg://iki:***@127.0.0.1:1/iki" in unreachable
    assert "secret" not in unreachable
    assert "DATABASE_URL" in one_line_error(
        iki("keys", "list", check=False, DATABASE_URL="not a url")
    )

    iki("migrate")
    iki("seed")
    for args, code, says in (
        (("keys", "create", "--name", "x", "--role", "boss"), 2, "Invalid value for '--role'"),
        (("seals", "check", "--year", "abc"), 2, "Invalid value for '--year'"),
        (("keys", "create", "--name", "x", "--role", "operator", "--unit", "NOPE"), 1, "NOPE"),
        (("keys", "revoke", "nobody"), 1, "No key named 'nobody'"),
        (("seed", "--seed-dir", str(tmp_path / "nowhere")), 1, "does not exist"),
        (("nosuch",), 2, "No such command"),
    ):
        assert says in one_line_error(iki(*args, check=False), code), args


@pytest.mark.parametrize(
    ("year", "says"),
    [
        ("1_0", "digits 0-9"),
        ("2_025", "digits 0-9"),
        ("+2025", "digits 0-9"),
        (" 2025", "digits 0-9"),
        ("２０２５", "digits 0-9"),
        ("1999", "greater than or equal to 2000"),
    ],
)
def test_a_year_is_plain_digits(iki, year, says):
    refused = one_line_error(iki("seals", "check", "--year", year, check=False), 2)
    assert "Invalid value for '--year'" in refused and says in refused, refused


def test_a_key_name_too_long_is_refused_alike_on_both_databases(iki, databases):
    url = databases.new_url("cli")
    iki("migrate", DATABASE_URL=url)
    refused = iki(
        "keys", "create", "--name", "k" * 150, "--role", "reader", check=False, DATABASE_URL=url
    )
    assert one_line_error(refused) == "error: A name has at most 100 characters"
    assert row_counts(url, ("api_key",)) == {"api_key": 0}
    created = iki("keys", "create", "--name", "k" * 100, "--role", "reader", DATABASE_URL=url)
    assert created.stdout.startswith("iki_")


def test_replicas_starting_together_create_one_admin_key(iki, databases, monkeypatch):
    """Three servers starting at once on a database without keys (the bootstrap of `iki
    serve`): one creates the admin key, the others wait for it and find it; none fails. The
    key is made slowly, so that without the wait all three would count no key."""
    from app import cli as iki_cli
    from app.services import keys

    url = databases.new_url("bootstrap")
    iki("migrate", DATABASE_URL=url)
    create_key = keys.create_key

    def slowly(*args, **kwargs):
        time.sleep(0.3)
        return create_key(*args, **kwargs)

    monkeypatch.setattr(keys, "create_key", slowly)
    together = threading.Barrier(3)

    def replica() -> str | None:
        together.wait(timeout=30)
        return iki_cli.bootstrap_admin()

    with settings_of_the_environment(), monkeypatch.context() as environment:
        environment.setenv("DATABASE_URL", url)
        with ThreadPoolExecutor(max_workers=3) as pool:
            starting = [pool.submit(replica) for _ in range(3)]
            secrets = [server.result(timeout=60) for server in starting]

    created = [secret for secret in secrets if secret is not None]
    assert len(created) == 1, secrets
    assert row_counts(url, ("api_key",)) == {"api_key": 1}
    admin = authenticate(url, created[0])
    assert admin is not None and (admin.name, admin.role) == ("admin", Role.admin)
