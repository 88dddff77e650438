"""Schemas of the verification workflow: a unit's quarter and the steps that move it."""

from __future__ import annotations

import datetime as dt
from enum import StrEnum
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from app.core.types import MAX_TEXT, SeveralLines
from app.models import PeriodState, Role
from app.schemas.common import Strict


class Step(StrEnum):
    """A step of the workflow, as the last segment of its path."""

    submit = "submit"
    verify = "verify"
    return_ = "return"
    reopen = "reopen"

    @property
    def past(self) -> str:
        return {"submit": "submitted", "verify": "verified", "return": "returned"}.get(
            self.value, "reopened"
        )


class PeriodStep(Strict):
    """A workflow step's note: required to return (what to fix) and to reopen (why)."""

    model_config = ConfigDict(
        json_schema_extra={"example": {"note": "Jumlah PSKS TW I belum sesuai data SIKS-NG"}}
    )

    note: Annotated[str, SeveralLines] | None = Field(
        default=None,
        min_length=1,
        max_length=MAX_TEXT,
        description="For the unit's operators (return) or the record (reopen, submit, verify)",
    )


class PeriodPublic(BaseModel):
    """A unit's quarter in the verification workflow."""

    agency: str = Field(examples=["DINSOSP3A"])
    unit: str = Field(description="Unit code", examples=["BID_PSM"])
    unit_name: str = Field(examples=["Bidang Pemberdayaan Sosial dan Masyarakat"])
    year: int = Field(examples=[2025])
    quarter: int = Field(examples=[1])
    state: PeriodState = Field(
        description="`open`, `submitted`, `returned` or `verified`; submitted and verified "
        "quarters are locked"
    )
    note: str | None = Field(
        description="The note of the last step (what to fix, when returned)", examples=[None]
    )
    changed_at: dt.datetime | None = Field(description="When it last moved; null: never")
    changed_by: str | None = Field(
        description="Name of the key that moved it last", examples=["sekretaris"]
    )
    changed_by_role: Role | None = Field(description="That key's role", examples=["verifier"])
