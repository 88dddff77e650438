"""Shared model plumbing: the MetaData naming convention and common field helpers."""

from datetime import datetime
from enum import StrEnum
from typing import Any, Generic, TypeVar

from pydantic import BaseModel, ConfigDict
from pydantic import Field as PydanticField
from sqlalchemy import Enum as SAEnum
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


def created_at_field() -> Any:
    return Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)


def updated_at_field() -> Any:
    return Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)


# Ids are PostgreSQL `integer`s: anything larger cannot name a row (and would overflow).
MAX_ID = 2_147_483_647

T = TypeVar("T")


class ListPage(BaseModel, Generic[T]):
    """The envelope of every list: one page of items and the total count."""

    model_config = ConfigDict(
        json_schema_extra={"description": "One page of a list, and the total count"}
    )

    items: list[T] = PydanticField(description="This page's items")
    total: int = PydanticField(description="How many items match, over all pages", examples=[39])
    limit: int = PydanticField(description="Page size asked for", examples=[100])
    offset: int = PydanticField(description="Index of the first item of this page", examples=[0])


__all__ = ["ListPage", "created_at_field", "datetime", "updated_at_field"]
