"""Shared model plumbing: the MetaData naming convention and common field helpers."""

from enum import StrEnum
from typing import Any

from pydantic_core import to_jsonable_python
from sqlalchemy import JSON, Integer, MetaData, Table
from sqlalchemy import Enum as SAEnum
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator
from sqlmodel import Field, SQLModel

from app.core.db import UTCDateTime, utcnow

# Set before any table is declared so constraint names are stable across databases.
SQLModel.metadata.naming_convention = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


IDS_NEVER_FREED = frozenset({"audit_event"})
"""Tables with a surrogate key left without AUTOINCREMENT, because no row of theirs is ever
deleted: their largest id is never freed for SQLite to give again. The audit trail: its
triggers refuse UPDATE and DELETE on both databases (an id taken by an insert that was rolled
back is given again, but no one saw the event that had it). Declaring it AUTOINCREMENT would
copy the whole trail, the largest table, and recreate its triggers, for nothing."""


def has_surrogate_key(table: Table) -> bool:
    """Whether the table's primary key is one integer column named `id`."""
    key = list(table.primary_key.columns)
    return len(key) == 1 and key[0].name == "id" and isinstance(key[0].type, Integer)


def never_reuse_ids(metadata: MetaData) -> None:
    """Declare every table with a surrogate key AUTOINCREMENT on SQLite (bar those in
    `IDS_NEVER_FREED`): without it SQLite gives the id of a deleted row to the next row when
    the deleted row had the largest id, and the audit trail, which names rows by id, would
    tell two rows' histories as one. PostgreSQL's sequences never give an id twice.

    A migration that recreates one of these tables on SQLite (a batch operation) must pass
    `table_kwargs={"sqlite_autoincrement": True}`: SQLAlchemy does not read AUTOINCREMENT
    back from an existing table, so the copy would be made without it (tests/test_ids.py
    checks the migrated schema)."""
    for table in metadata.tables.values():
        if has_surrogate_key(table) and table.name not in IDS_NEVER_FREED:
            table.dialect_kwargs["sqlite_autoincrement"] = True


def enum_column(enum: type[StrEnum], name: str) -> Any:
    """A VARCHAR with a CHECK of the allowed values (no native enum type to migrate),
    read back as the enum."""
    return SAEnum(
        enum,
        name=name,
        native_enum=False,
        create_constraint=True,
        length=max(len(m.value) for m in enum),
        values_callable=lambda members: [m.value for m in members],
    )


class JSONValue(TypeDecorator[Any]):
    """JSON of values that may be Pydantic models (stored as their JSON form)."""

    impl = JSON
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> Any:
        return None if value is None else to_jsonable_python(value)


def timestamp_field(*, index: bool = False) -> Any:
    """A timezone-aware time, set to now when the row is created (created_at, updated_at)."""
    return Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False, index=index)
