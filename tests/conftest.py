"""Test fixtures: one migrated, seeded database per run; each test in a rolled-back transaction.

The database is SQLite (a temporary file) unless TEST_DATABASE_URL names a PostgreSQL server,
in which case a fresh database is created on that server for the run and dropped after it.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

# Throttling of failed authentication is off in tests (tests of it turn it on).
os.environ.setdefault("AUTH_FAILURE_LIMIT", "0")
# Webhook secrets are encrypted under a key of the run's own (no key file is left behind).
os.environ.setdefault("WEBHOOK_ENCRYPTION_KEY", "Yi1AfDvs1ynPyRGGGZTG8VWvC2c0aHcfHgzzG9bN96M=")
from fastapi.testclient import TestClient
from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.engine import make_url
from sqlmodel import Session, select

from app.core.config import get_settings
from app.core.db import for_writes, get_session, get_write_session, make_engine
from app.core.migrations import upgrade
from app.main import app
from app.models import Role, Unit
from app.services.keys import create_key
from app.services.seed import load_seed

SEED_DIR = Path(__file__).resolve().parents[1] / "seed"


class DatabaseFactory:
    """Makes empty databases of the kind under test and drops them at the end of the run."""

    def __init__(self, base_url: str | None, tmp_dir: Path) -> None:
        self.base_url = base_url
        self.tmp_dir = tmp_dir
        self.created: list[str] = []

    @property
    def is_postgres(self) -> bool:
        return bool(self.base_url) and self.base_url.startswith("postgresql")  # type: ignore[union-attr]

    def new_url(self, label: str) -> str:
        if not self.is_postgres:
            return f"sqlite:///{self.tmp_dir / f'{label}-{uuid.uuid4().hex[:8]}.db'}"
        name = f"iki_test_{label}_{uuid.uuid4().hex[:8]}"
        self._admin(f'CREATE DATABASE "{name}"')
        self.created.append(name)
        return make_url(self.base_url).set(database=name).render_as_string(hide_password=False)  # type: ignore[arg-type]

    def drop_all(self) -> None:
        for name in self.created:
            self._admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def _admin(self, statement: str) -> None:
        engine = create_engine(self.base_url, isolation_level="AUTOCOMMIT")  # type: ignore[arg-type]
        try:
            with engine.connect() as conn:
                conn.execute(text(statement))
        finally:
            engine.dispose()


@pytest.fixture(scope="session")
def databases(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DatabaseFactory]:
    factory = DatabaseFactory(os.environ.get("TEST_DATABASE_URL"), tmp_path_factory.mktemp("db"))
    yield factory
    factory.drop_all()


@pytest.fixture(scope="session")
def engine(databases: DatabaseFactory) -> Iterator[Engine]:
    """The run's database: migrated to head and seeded."""
    engine = make_engine(databases.new_url("main"))
    upgrade(engine)
    with Session(engine) as session:
        load_seed(session, SEED_DIR)
        session.commit()
    yield engine
    engine.dispose()


@pytest.fixture
def session(engine: Engine) -> Iterator[Session]:
    """A session whose work is rolled back after the test (commits become savepoints)."""
    connection = engine.connect()
    transaction = connection.begin()
    session = Session(
        bind=connection, join_transaction_mode="create_savepoint", expire_on_commit=False
    )
    try:
        yield session
    finally:
        session.close()
        transaction.rollback()
        connection.close()


@pytest.fixture
def client(session: Session) -> Iterator[TestClient]:
    app.dependency_overrides[get_session] = lambda: session
    app.dependency_overrides[get_write_session] = lambda: session
    with TestClient(app) as test_client:
        yield test_client
    app.dependency_overrides.clear()


@pytest.fixture
def forgetful(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every figure computed at every read (none served as remembered: FIGURE_MEMO_SIZE 0)."""
    monkeypatch.setattr(get_settings(), "figure_memo_size", 0)


KeyMaker = Callable[..., dict[str, str]]


@pytest.fixture
def make_key(session: Session) -> KeyMaker:
    """Creates a key and returns the Authorization header that carries it."""

    def _make(
        role: Role = Role.reader, units: tuple[str, ...] = (), name: str | None = None
    ) -> dict[str, str]:
        _, secret = create_key(session, name or f"{role}-{uuid.uuid4().hex[:6]}", role, units)
        return {"Authorization": f"Bearer {secret}"}

    return _make


@pytest.fixture
def reader(make_key: KeyMaker) -> dict[str, str]:
    return make_key(Role.reader)


@pytest.fixture
def admin(make_key: KeyMaker) -> dict[str, str]:
    return make_key(Role.admin)


@pytest.fixture
def psm(make_key: KeyMaker) -> dict[str, str]:
    """An operator of Bidang Pemberdayaan Sosial dan Masyarakat."""
    return make_key(Role.operator, units=("BID_PSM",), name="psm-operator")


@pytest.fixture
def rpjs(make_key: KeyMaker) -> dict[str, str]:
    """An operator of Bidang Rehabilitasi dan Perlindungan Jaminan Sosial."""
    return make_key(Role.operator, units=("BID_RPJS",), name="rpjs-operator")


@pytest.fixture
def verifier(make_key: KeyMaker) -> dict[str, str]:
    """A verifier with no unit (Kepala Dinas): it checks, it never enters data."""
    return make_key(Role.verifier, name="kepala-dinas")


@pytest.fixture
def psm_verifier(make_key: KeyMaker) -> dict[str, str]:
    """A verifier also scoped to BID_PSM (Sekretaris), so it may enter that unit's data."""
    return make_key(Role.verifier, units=("BID_PSM",), name="sekretaris")


@pytest.fixture
def agency_verifier(session: Session, make_key: KeyMaker) -> dict[str, str]:
    """A verifier scoped to every unit of the seeded agency: it may enter any of its data."""
    units = tuple(session.exec(select(Unit.code).order_by(Unit.code)))
    return make_key(Role.verifier, units=units, name="verifier-all-units")


class StatementCounter:
    """Counts the SQL statements an engine executes while active."""

    def __init__(self) -> None:
        self.statements: list[str] = []

    def __call__(self, conn: object, cursor: object, statement: str, *args: object) -> None:
        self.statements.append(statement)

    @property
    def count(self) -> int:
        return len(self.statements)


@pytest.fixture
def count_statements(engine: Engine) -> Iterator[StatementCounter]:
    counter = StatementCounter()
    event.listen(engine, "before_cursor_execute", counter)
    yield counter
    event.remove(engine, "before_cursor_execute", counter)


@contextmanager
def serving_own_database(databases: DatabaseFactory, label: str) -> Iterator[Engine]:
    """A database of its own, migrated and seeded, that the app uses for the block: for
    tests that commit for real."""
    engine = make_engine(databases.new_url(label))
    upgrade(engine)
    with Session(engine) as session:
        load_seed(session, SEED_DIR)
        session.commit()
    writes = for_writes(engine)

    def session_for(bind: Engine) -> Iterator[Session]:
        with Session(bind, expire_on_commit=False) as session:
            yield session

    app.dependency_overrides[get_session] = lambda: (yield from session_for(engine))
    app.dependency_overrides[get_write_session] = lambda: (yield from session_for(writes))
    try:
        yield engine
    finally:
        app.dependency_overrides.clear()
        engine.dispose()


@pytest.fixture
def committed_engine(databases: DatabaseFactory) -> Iterator[Engine]:
    """A database of its own, for tests that commit for real (the app uses it too)."""
    with serving_own_database(databases, "concurrency") as engine:
        yield engine


# Webhook URLs are resolved before they are stored: tests resolve names from this table, so
# that no test asks a DNS server (addresses written as such resolve as themselves).
FAKE_DNS = {
    "esakip.probolinggokota.go.id": ["103.151.20.7"],
    "esakip.example.go.id": ["103.151.20.8", "2001:df0:27a::8"],
    "sneaky.example": ["127.0.0.1"],
    "rebound.example": ["103.151.20.9", "10.1.2.3"],
}


@pytest.fixture
def fake_dns(monkeypatch: pytest.MonkeyPatch) -> dict[str, list[str]]:
    """`socket.getaddrinfo` answering from `FAKE_DNS` (editable by the test), addresses as
    themselves, and any other name as unknown."""
    import ipaddress
    import socket

    table = {name: list(found) for name, found in FAKE_DNS.items()}

    def getaddrinfo(host: str, port: int, *args: object, **kwargs: object) -> list[tuple]:
        try:
            addresses = [str(ipaddress.ip_address(host))]
        except ValueError:
            if host not in table:
                raise socket.gaierror(socket.EAI_NONAME, "Name or service not known") from None
            addresses = table[host]
        return [
            (
                socket.AF_INET6 if ":" in a else socket.AF_INET,
                socket.SOCK_STREAM,
                6,
                "",
                (a, port, 0, 0) if ":" in a else (a, port),
            )
            for a in addresses
        ]

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    return table
