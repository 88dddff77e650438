"""Schemas of bulk imports of data values: the JSON body and the summary answered."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from app.schemas.common import Strict

MAX_ROWS = 50_000


class ImportCreate(Strict):
    """A JSON import: rows of any variables of one agency, any quarters."""

    agency: str | None = Field(
        default=None, description="Agency code; optional when only one agency exists"
    )
    rows: list[dict[str, Any]] = Field(max_length=MAX_ROWS)


class ImportRowError(BaseModel):
    """A rejected row of an import."""

    row: int = Field(
        description="1-based row number (CSV: the header is row 0; a workbook: the sheet's "
        "row number, the header being row 1)"
    )
    variable: str | None = Field(default=None, description="The row's variable code")
    value: Any = Field(default=None, description="The row's value as sent")
    field: str | None = Field(default=None, description="The column at fault")
    code: str = Field(description="Kind of error", examples=["out_of_range"])
    message: str = Field(description="What is wrong", examples=["must be at least 0"])


class ImportSummary(BaseModel):
    """What an import did (or, on a dry run, would do)."""

    dry_run: bool = Field(description="Nothing was stored: validation only")
    atomic: bool = Field(description="All or nothing")
    created: int = Field(description="Values stored for the first time", examples=[10])
    updated: int = Field(description="Values changed", examples=[2])
    unchanged: int = Field(description="Rows equal to what was stored", examples=[0])
    skipped: int = Field(
        default=0,
        description="Workbook rows whose value cell is blank: not reported, nothing stored",
        examples=[0],
    )
    rejected: int = Field(description="Rows refused", examples=[0])
    errors: list[ImportRowError] = Field(
        description="The refused rows, the first 1000 (`rejected` counts them all); values "
        "are quoted back at most 100 characters long"
    )
