"""Variables: the reported quantities (komponen data) that formulas are written over.

The fields are declared once, in `VariableBase`; the table adds its keys and timestamps, and
the schemas in `app/schemas/variables.py` derive from the same base.
"""

import datetime as dt
from enum import StrEnum

from pydantic import ValidationInfo, field_validator
from sqlalchemy import CheckConstraint, Float, UniqueConstraint
from sqlalchemy import Text as TextColumn
from sqlmodel import Field, SQLModel

from app.achievement.aggregation import Aggregation
from app.core.types import Bound, Flag, FreeText, Label, Measure, VariableCode
from app.models.base import enum_column, timestamp_field


class ValueType(StrEnum):
    """`integer` for counts, `number` for quantities that may have fractions."""

    integer = "integer"
    number = "number"


class VariableBase(SQLModel):
    code: VariableCode
    label: Label = Field(
        description="Label as in the SK",
        schema_extra={"examples": ["Total Jumlah PSKS yang terdata"]},
    )
    unit_of_measure: Measure
    value_type: ValueType = Field(
        default=ValueType.integer,
        sa_type=enum_column(ValueType, "value_type"),
        description="`integer` counts or `number`",
    )
    aggregation: Aggregation = Field(
        sa_type=enum_column(Aggregation, "aggregation"),
        description="How quarters combine into the year to date: `sum` (a flow), `last` (a "
        "stock), `max`, `min`, `avg`",
    )
    min_value: Bound | None = Field(
        default=0.0,
        sa_type=Float,
        description="Smallest allowed value; null for none",
        schema_extra={"examples": [0]},
    )
    max_value: Bound | None = Field(
        default=None, sa_type=Float, description="Largest allowed value; null for none"
    )
    description: FreeText | None = Field(
        default=None, sa_type=TextColumn, description="What exactly is counted"
    )
    needs_evidence: Flag = Field(
        default=False,
        description="A value needs evidence (bukti dukung): one stored without it is a "
        "data-quality error (`missing_evidence`)",
    )

    @field_validator("max_value")
    @classmethod
    def _max_not_below_min(cls, high: float | None, info: ValidationInfo) -> float | None:
        low = info.data.get("min_value")
        if low is not None and high is not None and low > high:
            raise ValueError(f"must not be less than min_value ({low:g})")
        return high


class Variable(VariableBase, table=True):
    """A reported quantity (komponen data) of an agency, owned by one unit."""

    __tablename__ = "variable"

    __table_args__ = (
        UniqueConstraint("agency_id", "code"),
        CheckConstraint(
            "max_value IS NULL OR min_value IS NULL OR max_value >= min_value", name="range"
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    agency_id: int = Field(foreign_key="agency.id", index=True)
    owner_unit_id: int = Field(foreign_key="unit.id", index=True)
    created_at: dt.datetime = timestamp_field()
    updated_at: dt.datetime = timestamp_field()
