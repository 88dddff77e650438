"""Data-quality rules written by people (DHIS2's validation rules): `left operator right`.

The fields are declared once, in `QualityRuleBase`; the table adds its keys and timestamps,
and the schemas in `app/schemas/quality.py` derive from the same base.
"""

import datetime as dt
from typing import Annotated

from pydantic import Field as Limits
from sqlalchemy import Text as TextColumn
from sqlalchemy import UniqueConstraint
from sqlmodel import Field, SQLModel

from app.core.types import VARIABLE_CODE_PATTERN, FormulaText, FreeText, Name
from app.models.base import enum_column, timestamp_field
from app.quality import Operator, RulePeriod, Severity

RuleCode = Annotated[
    str,
    Limits(
        max_length=64,
        pattern=VARIABLE_CODE_PATTERN,
        description="snake_case, unique in its agency; names the rule's findings "
        "(`rule_violated:<code>`)",
        examples=["ppks_rehabilitasi_maks_terdata"],
    ),
]


class QualityRuleBase(SQLModel):
    code: RuleCode
    name: Name = Field(
        description="What must hold, in Indonesian",
        schema_extra={"examples": ["PPKS yang direhabilitasi tidak melebihi PPKS yang terdata"]},
    )
    description: FreeText | None = Field(
        default=None,
        sa_type=TextColumn,
        description="Why it must hold, in Indonesian; shown with each finding",
    )
    left: FormulaText = Field(
        description="Left side: an expression over the agency's variable codes, in the "
        "formula language (see `POST /formulas/check`)",
        schema_extra={"examples": ["ppks_rehabilitasi"]},
    )
    operator: Operator = Field(
        sa_type=enum_column(Operator, "rule_operator"),
        description="How the sides compare: `<=`, `<`, `==`, `!=`, `>=`, `>`",
    )
    right: FormulaText = Field(
        description="Right side, as the left", schema_extra={"examples": ["ppks_terdata"]}
    )
    period: RulePeriod = Field(
        default=RulePeriod.quarter,
        sa_type=enum_column(RulePeriod, "rule_period"),
        description="`quarter`: the quarter's own values; `year_to_date`: each variable "
        "aggregated over quarters 1..q by its own aggregation",
    )
    severity: Severity = Field(
        default=Severity.error,
        sa_type=enum_column(Severity, "severity"),
        description="Of its findings: `error` (a submit needs an explanation), `warning`, `info`",
    )


class QualityRule(QualityRuleBase, table=True):
    """A rule an agency's values must satisfy in each quarter (or year to date)."""

    __tablename__ = "quality_rule"

    __table_args__ = (UniqueConstraint("agency_id", "code"),)

    id: int | None = Field(default=None, primary_key=True)
    agency_id: int = Field(foreign_key="agency.id", index=True)
    created_at: dt.datetime = timestamp_field()
    updated_at: dt.datetime = timestamp_field()
