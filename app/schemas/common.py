"""Schema plumbing shared by every resource: the list envelope and the base of inputs."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from pydantic import BaseModel, ConfigDict, Field
from sqlmodel import SQLModel
from sqlmodel.main import SQLModelConfig

T = TypeVar("T")

CURSOR_PATTERN = r"^c1-[0-9]{1,18}$"
"""A cursor of an incremental pull (`app/services/changes.py`)."""


@dataclass(frozen=True)
class PageParams:
    """A page of a list: at most `limit` items from `offset` on."""

    limit: int = 100
    offset: int = 0


class ListPage(BaseModel, Generic[T]):
    """The envelope of every list: one page of items and the total count."""

    model_config = ConfigDict(
        json_schema_extra={"description": "One page of a list, and the total count"}
    )

    items: list[T] = Field(description="This page's items")
    total: int = Field(description="How many items match, over all pages", examples=[39])
    limit: int = Field(description="Page size asked for", examples=[100])
    offset: int = Field(description="Index of the first item of this page", examples=[0])

    @classmethod
    def of(cls, found: tuple[Sequence[T], int], page: PageParams) -> ListPage[T]:
        """The envelope of a service's `(items, total)` for `page`."""
        items, total = found
        return cls(items=list(items), total=total, limit=page.limit, offset=page.offset)


class CursorPage(ListPage[T], Generic[T]):
    """A page of an incremental pull: the items, and the cursor to resume from."""

    model_config = ConfigDict(
        json_schema_extra={"description": "One page of a pull, and the cursor of the next pull"}
    )

    cursor: str = Field(
        pattern=CURSOR_PATTERN,
        max_length=21,
        description="Where the next pull starts: an opaque token (`c1-` and up to 18 digits) "
        "to send back as the `cursor` parameter, to get only what changed since this pull "
        "(a change may come twice, none is missed). Of a pull of several pages, keep the "
        "first page's cursor",
        examples=["c1-7342"],
    )

    @classmethod
    def resuming(
        cls, found: tuple[Sequence[T], int], page: PageParams, cursor: str
    ) -> CursorPage[T]:
        """The envelope of a service's `(items, total)` for `page`, with the next cursor."""
        items, total = found
        return cls(
            items=list(items), total=total, limit=page.limit, offset=page.offset, cursor=cursor
        )


class Input(SQLModel):
    """A request body: unknown members are refused and text is stripped of outer spaces.

    A `XCreate` body is `class XCreate(Input, XBase)`: the entity's fields, as its Base
    declares them, plus the references a new row needs (by code)."""

    model_config = SQLModelConfig(extra="forbid", str_strip_whitespace=True)


class Patch(Input):
    """A PATCH body: `class XUpdate(Patch, XBase)` takes every field of the entity's Base,
    each of which may be left out (left unchanged). A field whose type admits null may be
    sent as null to clear it; the others may be left out but not set to null."""

    @classmethod
    def __pydantic_init_subclass__(cls, **kwargs: Any) -> None:
        super().__pydantic_init_subclass__(**kwargs)
        for field in cls.model_fields.values():
            # A default is never validated, so None stands for "left out" even where the
            # type refuses null; services read `model_dump(exclude_unset=True)`.
            field.default = None
            field.default_factory = None
        cls.model_rebuild(force=True)


class Strict(BaseModel):
    """A request body whose unknown members are refused, text kept as sent."""

    model_config = ConfigDict(extra="forbid")
