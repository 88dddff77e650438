"""Shared model plumbing: the MetaData naming convention and common field helpers."""

from enum import StrEnum
from typing import Any

from pydantic_core import to_jsonable_python
from sqlalchemy import JSON
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
