"""Schema plumbing shared by every resource: the list envelope and the base of inputs."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

from pydantic import BaseModel, ConfigDict, Field

T = TypeVar("T")


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


class Input(BaseModel):
    """A request body: unknown members are refused and text is stripped of outer spaces."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class Strict(BaseModel):
    """A request body whose unknown members are refused, text kept as sent."""

    model_config = ConfigDict(extra="forbid")
