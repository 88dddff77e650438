"""The verification workflow: the state of each unit's quarter."""

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import CheckConstraint, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from app.core.db import UTCDateTime
from app.core.types import Quarter, Year
from app.models.base import JSONValue, enum_column
from app.models.security import Role


class PeriodState(StrEnum):
    """Where a unit's quarter is in the workflow: `open` (being filled), `submitted` (waiting
    for a verifier), `returned` (sent back with a note), `verified` (official)."""

    open = "open"
    submitted = "submitted"
    returned = "returned"
    verified = "verified"

    @property
    def locked(self) -> bool:
        """Whether the unit's data of the quarter may not be written."""
        return self in (PeriodState.submitted, PeriodState.verified)


class Period(SQLModel, table=True):
    """A unit's quarter that has left `open` at least once (a quarter without a row is open)."""

    __tablename__ = "period"

    __table_args__ = (
        UniqueConstraint("unit_id", "year", "quarter"),
        CheckConstraint("quarter BETWEEN 1 AND 4", name="quarter"),
    )

    id: int | None = Field(default=None, primary_key=True)
    agency_id: int = Field(foreign_key="agency.id", index=True)
    unit_id: int = Field(foreign_key="unit.id", index=True)
    year: Year
    quarter: Quarter
    state: PeriodState = Field(sa_type=enum_column(PeriodState, "period_state"))
    note: str | None = Field(default=None, sa_type=Text)
    changed_at: datetime = Field(sa_type=UTCDateTime, nullable=False)
    changed_by: str = Field(max_length=100)
    changed_by_role: Role | None = Field(default=None, sa_type=enum_column(Role, "role"))
    explanations: dict[str, str] | None = Field(
        default=None,
        sa_type=JSONValue,
        description="The explanations of the quarter's data-quality findings, by finding key, "
        "as given at its last submit (and verify)",
    )
    findings: list[dict[str, Any]] | None = Field(
        default=None,
        sa_type=JSONValue,
        description="The data-quality findings as they stood at the last submit or verify, "
        "each with its explanation: what the verifier saw when the quarter was signed",
    )
