"""Indicators (Indikator Kinerja Individu) of an objective, and the units they draw on.

The fields are declared once, in `IndicatorBase`; the table adds its keys and timestamps, and
the schemas in `app/schemas/indicators.py` derive from the same base.
"""

import datetime as dt

from sqlalchemy import Text as TextColumn
from sqlalchemy import UniqueConstraint
from sqlmodel import Field, SQLModel

from app.achievement.polarity import Polarity
from app.core.types import (
    Decimals,
    Flag,
    FormulaText,
    FreeText,
    IndicatorCode,
    Measure,
    Notes,
    SkNumber,
    Text,
)
from app.models.base import enum_column, timestamp_field


class IndicatorBase(SQLModel):
    code: IndicatorCode = Field(description="`POSITION.objective.number`, unique in its decree")
    number: SkNumber
    name: Text = Field(
        sa_type=TextColumn,
        description="The indicator's name, verbatim",
        schema_extra={
            "examples": [
                "Persentase Potensi Sumber Kesejahteraan Sosial yang mendapatkan Pemberdayaan "
                "Sosial"
            ]
        },
    )
    formula: FormulaText
    unit_of_measure: Measure = Field(schema_extra={"examples": ["%"]})
    polarity: Polarity = Field(
        default=Polarity.higher_is_better,
        sa_type=enum_column(Polarity, "polarity"),
        description="`higher_is_better` or `lower_is_better` (e.g. a poverty rate)",
    )
    decimals: Decimals = 2
    explanation: FreeText | None = Field(
        default=None, sa_type=TextColumn, description="The SK's Penjelasan/Formulasi, verbatim"
    )
    data_source: FreeText | None = Field(
        default=None, sa_type=TextColumn, description="The SK's Sumber Data, verbatim"
    )
    notes: Notes | None = Field(
        default=None,
        sa_type=TextColumn,
        description="Notes, e.g. discrepancies in the SK and their encoding",
    )
    parent_inferred: Flag = Field(
        default=False,
        description="The cascade link (`parent`) is inferred, not stated in the SK",
    )


class Indicator(IndicatorBase, table=True):
    """An Indikator Kinerja Individu: a formula over variables, measured against a target."""

    __tablename__ = "indicator"

    __table_args__ = (UniqueConstraint("decree_id", "code"),)

    id: int | None = Field(default=None, primary_key=True)
    decree_id: int = Field(foreign_key="decree.id", index=True)
    objective_id: int = Field(foreign_key="objective.id", index=True)
    parent_id: int | None = Field(default=None, foreign_key="indicator.id")
    created_at: dt.datetime = timestamp_field()
    updated_at: dt.datetime = timestamp_field()


class IndicatorSourceUnit(SQLModel, table=True):
    """The units named as an indicator's Sumber Data."""

    __tablename__ = "indicator_source_unit"

    indicator_id: int = Field(foreign_key="indicator.id", primary_key=True)
    unit_id: int = Field(foreign_key="unit.id", primary_key=True, index=True)
