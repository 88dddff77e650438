"""Schemas of the verification workflow: a unit's quarter and the steps that move it."""

from __future__ import annotations

import datetime as dt
from enum import StrEnum
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from app.core.text import control_characters
from app.core.types import KEYS_BY_PATTERN, MAX_TEXT, SeveralLines
from app.models import PeriodState, Role
from app.schemas.common import Strict
from app.schemas.quality import FindingKey, QualityFinding

MAX_EXPLANATIONS = 500


def _no_controls(text: str) -> str:
    found = control_characters(text, multiline=True)
    if found:
        raise ValueError(f"must not hold control characters ({', '.join(found)})")
    if not text.strip():
        raise ValueError("must not be blank")
    return text


Explanation = Annotated[
    str,
    Field(min_length=1, max_length=MAX_TEXT, description="Why the finding is so"),
    AfterValidator(_no_controls),
]


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
    """A workflow step's note (required to return: what to fix; and to reopen: why) and, to
    submit or verify, the explanations of the quarter's data-quality findings."""

    model_config = ConfigDict(
        json_schema_extra={
            "example": {
                "note": "Data TW I",
                "explanations": {
                    "numerator_exceeds_denominator:KADIS.1.2": "Termasuk PPKS dari luar "
                    "kota yang dilayani; pendataan SIKS-NG menyusul pada TW II"
                },
            }
        }
    )

    note: Annotated[str, SeveralLines] | None = Field(
        default=None,
        min_length=1,
        max_length=MAX_TEXT,
        description="For the unit's operators (return) or the record (reopen, submit, verify)",
    )
    explanations: Annotated[dict[FindingKey, Explanation], KEYS_BY_PATTERN] | None = Field(
        default=None,
        max_length=MAX_EXPLANATIONS,
        description="Submit and verify: an explanation per finding `key` of the quarter's "
        "checks (`GET .../checks`). A submit with errors is refused (409 `quality_errors`) "
        "unless each error is explained; a verify may explain errors found since the "
        "submit. Stored with the step and in the audit trail",
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
    explanations: Annotated[dict[FindingKey, str], KEYS_BY_PATTERN] | None = Field(
        default=None,
        description="The explanations of data-quality findings given at the last submit (and "
        "verify), by finding key",
    )
    findings: list[QualityFinding] | None = Field(
        default=None,
        description="The data-quality findings as they stood at the last submit or verify, "
        "each with its explanation: for a verified quarter, what the verifier saw when it was "
        "signed (a later change of rules or data does not change them)",
    )
