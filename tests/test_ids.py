"""An id names one row for ever: the audit trail names rows by id, so no table may give the id
of a deleted row to another (SQLite does, for a table not declared AUTOINCREMENT)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    Date,
    DateTime,
    Float,
    Integer,
    Numeric,
    String,
    Table,
    func,
    insert,
    select,
    text,
)
from sqlalchemy import Enum as SAEnum
from sqlalchemy.exc import DBAPIError
from sqlalchemy.types import TypeDecorator, TypeEngine
from sqlmodel import Session, SQLModel

import app.models  # noqa: F401  (registers every table on the metadata)
from app.core.db import utcnow
from app.models.base import IDS_NEVER_FREED, has_surrogate_key

SURROGATE_KEYED = sorted(t.name for t in SQLModel.metadata.tables.values() if has_surrogate_key(t))


def test_every_table_with_a_surrogate_key_is_declared_autoincrement():
    declared = {
        t.name
        for t in SQLModel.metadata.tables.values()
        if t.dialect_options["sqlite"]["autoincrement"]
    }
    assert declared == set(SURROGATE_KEYED) - IDS_NEVER_FREED
    assert set(SURROGATE_KEYED) >= IDS_NEVER_FREED
    assert len(declared) >= 20


def test_the_migrated_schema_declares_them_autoincrement(session: Session):
    """SQLAlchemy does not read AUTOINCREMENT back from a table, so a migration that
    recreates one of these tables on SQLite without `table_kwargs={"sqlite_autoincrement":
    True}` (or creates a new one without the model's declaration) would lose it unseen."""
    if session.get_bind().dialect.name != "sqlite":
        pytest.skip("PostgreSQL's sequences never give an id twice")
    created = dict(
        session.execute(text("SELECT name, sql FROM sqlite_master WHERE type = 'table'")).all()
    )
    autoincrement = {name for name, sql in created.items() if "AUTOINCREMENT" in sql.upper()}
    declared = {
        t.name
        for t in SQLModel.metadata.tables.values()
        if t.dialect_options["sqlite"]["autoincrement"]
    }
    assert autoincrement == declared, "a migration made these tables without AUTOINCREMENT"


KINDS: tuple[tuple[type[TypeEngine[Any]], Any], ...] = (
    (Boolean, False),
    (Integer, 1),
    (Float, 1.0),
    (Numeric, 1),
    (DateTime, utcnow()),
    (Date, dt.date(2025, 1, 1)),
    (JSON, {}),
    (String, "x"),
)


def _any_value(column: Column[Any]) -> Any:
    kind = column.type
    if isinstance(kind, TypeDecorator):
        kind = kind.impl_instance
    if isinstance(kind, SAEnum):  # before String, which it is
        return kind.enums[0]
    return next(value for base, value in KINDS if isinstance(kind, base))


def _some_row(table: Table) -> dict[str, Any]:
    """Values for a first row of an empty table, which neither its foreign keys nor its
    CHECK constraints need to allow (see `unchecked`)."""
    return {
        c.name: _any_value(c)
        for c in table.columns
        if c.name != "id" and not c.nullable and c.server_default is None
    }


@pytest.fixture
def unchecked(session: Session) -> Iterator[Session]:
    """The session, on SQLite, with foreign keys checked only at a commit (which never
    comes: the test's transaction is rolled back) and CHECK constraints not at all."""
    if session.get_bind().dialect.name != "sqlite":
        pytest.skip("PostgreSQL's sequences never give an id twice")
    session.execute(text("PRAGMA defer_foreign_keys = ON"))  # ends with the transaction
    session.execute(text("PRAGMA ignore_check_constraints = ON"))
    try:
        yield session
    finally:
        session.execute(text("PRAGMA ignore_check_constraints = OFF"))  # the connection's


@pytest.mark.parametrize("name", SURROGATE_KEYED)
def test_a_row_made_after_the_newest_was_deleted_gets_a_new_id(unchecked: Session, name: str):
    """For every table with a surrogate key, on the migrated database: the newest row
    deleted, a copy of it gets an id of its own (or, for a table in `IDS_NEVER_FREED`, the
    delete is refused)."""
    session = unchecked
    table = SQLModel.metadata.tables[name]
    if name in IDS_NEVER_FREED:
        # Its largest id is never freed: no row of it is ever deleted.
        session.execute(insert(table).values(_some_row(table)))
        with pytest.raises(DBAPIError, match="append-only"), session.begin_nested():
            session.execute(
                table.delete().where(table.c.id == select(func.max(table.c.id)).scalar_subquery())
            )
        return
    if session.execute(select(func.count()).select_from(table)).scalar_one() == 0:
        session.execute(insert(table).values(_some_row(table)))
    newest = session.execute(select(table).order_by(table.c.id.desc()).limit(1)).one()._asdict()
    session.execute(table.delete().where(table.c.id == newest["id"]))
    made = session.execute(
        insert(table).values({k: v for k, v in newest.items() if k != "id"}).returning(table.c.id)
    ).scalar_one()
    assert made > newest["id"]
