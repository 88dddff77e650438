"""Database engine and sessions: SQLite (embedded default) or PostgreSQL (production)."""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any

from fastapi import Depends
from sqlalchemy import DateTime, Engine, event
from sqlalchemy.engine import Dialect, make_url
from sqlalchemy.types import TypeDecorator
from sqlmodel import Session, create_engine

from app.core.config import get_settings


def utcnow() -> datetime:
    """The current time, timezone-aware, in UTC."""
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """A timezone-aware timestamp on both databases (SQLite keeps no zone: it is stored as UTC)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTCDateTime column")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class StoredTime(TypeDecorator[Any]):
    """A `UTCDateTime` column read as the driver gives it, unconverted: on SQLite the text
    of one fixed format (which sorts as time does), on PostgreSQL an aware datetime. For
    code that compares thousands of timestamps and converts only the few it keeps (see
    `StoredTimes`); select it with `type_coerce(column, StoredTime())`."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def result_processor(self, dialect: Dialect, coltype: object) -> None:
        return None


@dataclass(frozen=True)
class StoredTimes:
    """Conversions between `StoredTime` values and what a `UTCDateTime` column reads as, for
    one database."""

    read: Callable[[Any], datetime]
    """A stored value as an aware datetime in UTC."""
    write: Callable[[datetime], Any]
    """An aware datetime as the database stores it (to compare with stored values)."""

    @classmethod
    def of(cls, dialect: Dialect) -> StoredTimes:
        column = UTCDateTime().dialect_impl(dialect)
        read = column.result_processor(dialect, None)
        write = column.bind_processor(dialect)
        assert read is not None and write is not None
        return cls(read, write)  # type: ignore[arg-type]  # never None for a non-None value


# How long a writer waits for another's lock before the request is answered 503.
BUSY_TIMEOUT_MS = 10_000


def _configure_sqlite(engine: Engine) -> None:
    # pysqlite's own transaction handling defers BEGIN and breaks SAVEPOINT; SQLAlchemy's
    # documented recipe lets SQLAlchemy emit BEGIN itself.
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        # Write paths take SQLite's write lock when they begin (see get_write_session), so a
        # transaction that read a value cannot be overtaken before it writes.
        mode = conn.get_execution_options().get("sqlite_begin", "DEFERRED")
        conn.exec_driver_sql(f"BEGIN {mode}")


def make_engine(
    url: str, *, echo: bool = False, pool_size: int = 10, pool_timeout: float = 30.0
) -> Engine:
    """An engine for `url`, with the pragmas (SQLite) or pool (PostgreSQL) the service needs;
    a connection not free within `pool_timeout` seconds raises sqlalchemy's TimeoutError
    (answered 503 busy)."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database
        in_file = bool(database) and database != ":memory:"
        if in_file:
            Path(database).parent.mkdir(parents=True, exist_ok=True)  # type: ignore[arg-type]
        engine = create_engine(
            url,
            echo=echo,
            connect_args={"check_same_thread": False},
            # A file has a queue of connections, as PostgreSQL's (the admission of requests
            # counts on it: app/api/limits.py); memory one connection per thread.
            **(
                {"pool_size": pool_size, "max_overflow": pool_size, "pool_timeout": pool_timeout}
                if in_file
                else {}
            ),
        )
        _configure_sqlite(engine)
        return engine
    return create_engine(
        url,
        echo=echo,
        pool_size=pool_size,
        max_overflow=pool_size,
        pool_timeout=pool_timeout,
        pool_pre_ping=True,
        connect_args={"options": f"-c lock_timeout={BUSY_TIMEOUT_MS}"},
    )


@lru_cache
def get_engine() -> Engine:
    """The process-wide engine for the configured DATABASE_URL."""
    settings = get_settings()
    return make_engine(
        settings.database_url,
        echo=settings.db_echo,
        pool_size=settings.db_pool_size,
        pool_timeout=settings.db_pool_timeout_seconds,
    )


def get_session() -> Iterator[Session]:
    """One session per request; services flush, the request's unit of work commits."""
    with Session(get_engine(), expire_on_commit=False) as session:
        yield session


def release_connection(session: Session) -> None:
    """End a reading session's transaction, so that its connection goes back to the pool
    before slow work that needs no database (rendering a document); what was read stays
    usable (sessions do not expire their objects on commit)."""
    session.commit()


@contextmanager
def session_outside_routes(overrides: dict[Any, Any]) -> Iterator[Session]:
    """A session for work done before a route runs (the request's authentication), from
    where the routes get theirs: `get_session`, or what `overrides` (the app's
    dependency_overrides, set by tests) put in its place. Closed at the end of the block, so
    its connection goes back to the pool."""
    provider = overrides.get(get_session, get_session)
    if inspect.isgeneratorfunction(provider):
        with contextmanager(provider)() as session:
            yield session
    else:
        yield provider()


def for_writes(engine: Engine) -> Engine:
    """The engine to use for a use case that reads then writes: on SQLite its transactions
    begin with the write lock held (BEGIN IMMEDIATE); PostgreSQL write paths lock the rows
    they read instead."""
    if engine.dialect.name == "sqlite":
        return engine.execution_options(sqlite_begin="IMMEDIATE")
    return engine


@lru_cache
def get_write_engine() -> Engine:
    return for_writes(get_engine())


def get_write_session() -> Iterator[Session]:
    """One session per writing request (see `for_writes`)."""
    with Session(get_write_engine(), expire_on_commit=False) as session:
        yield session


SessionDep = Annotated[Session, Depends(get_session)]
