"""IKI definitions: decrees (SK), objectives (sasaran), indicators and their variables."""

import datetime as dt
from enum import StrEnum

from sqlalchemy import CheckConstraint, Column, Float, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from app.models.base import enum_column, timestamp_field


class Polarity(StrEnum):
    """Whether a higher realization is better, or a lower one (e.g. a rate of cases)."""

    higher_is_better = "higher_is_better"
    lower_is_better = "lower_is_better"


class ValueType(StrEnum):
    """`integer` for counts, `number` for quantities that may have fractions."""

    integer = "integer"
    number = "number"


class Aggregation(StrEnum):
    """How a variable's quarterly values combine into a year-to-date value."""

    sum = "sum"
    last = "last"
    max = "max"
    min = "min"
    avg = "avg"


class Decree(SQLModel, table=True):
    """A Surat Keputusan fixing one year's IKI of an agency."""

    __tablename__ = "decree"

    __table_args__ = (
        UniqueConstraint("agency_id", "year"),
        UniqueConstraint("agency_id", "number"),
    )

    id: int | None = Field(default=None, primary_key=True)
    agency_id: int = Field(foreign_key="agency.id", index=True)
    number: str = Field(max_length=100)
    title: str | None = Field(default=None, max_length=500)
    date: dt.date
    year: int = Field(index=True)
    signatory: str | None = Field(default=None, max_length=255)
    signatory_title: str | None = Field(default=None, max_length=255)
    signatory_rank: str | None = Field(default=None, max_length=100)
    signatory_nip: str | None = Field(default=None, max_length=50)
    created_at: dt.datetime = timestamp_field()
    updated_at: dt.datetime = timestamp_field()


class Objective(SQLModel, table=True):
    """A Sasaran Kinerja of a position in a decree."""

    __tablename__ = "objective"

    __table_args__ = (UniqueConstraint("decree_id", "position_id", "number"),)

    id: int | None = Field(default=None, primary_key=True)
    decree_id: int = Field(foreign_key="decree.id", index=True)
    position_id: int = Field(foreign_key="position.id", index=True)
    number: int
    statement: str = Field(sa_column=Column(Text, nullable=False))
    created_at: dt.datetime = timestamp_field()
    updated_at: dt.datetime = timestamp_field()


class Variable(SQLModel, table=True):
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
    code: str = Field(max_length=64)
    label: str = Field(max_length=500)
    unit_of_measure: str = Field(max_length=50)
    value_type: ValueType = Field(
        default=ValueType.integer, sa_type=enum_column(ValueType, "value_type")
    )
    aggregation: Aggregation = Field(
        default=Aggregation.sum, sa_type=enum_column(Aggregation, "aggregation")
    )
    min_value: float | None = Field(default=0.0, sa_column=Column(Float, nullable=True))
    max_value: float | None = Field(default=None, sa_column=Column(Float, nullable=True))
    owner_unit_id: int = Field(foreign_key="unit.id", index=True)
    description: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    created_at: dt.datetime = timestamp_field()
    updated_at: dt.datetime = timestamp_field()


class Indicator(SQLModel, table=True):
    """An Indikator Kinerja Individu: a formula over variables, measured against a target."""

    __tablename__ = "indicator"

    __table_args__ = (UniqueConstraint("decree_id", "code"),)

    id: int | None = Field(default=None, primary_key=True)
    decree_id: int = Field(foreign_key="decree.id", index=True)
    objective_id: int = Field(foreign_key="objective.id", index=True)
    code: str = Field(max_length=64)
    number: int
    name: str = Field(sa_column=Column(Text, nullable=False))
    formula: str = Field(max_length=500)
    unit_of_measure: str = Field(max_length=50)
    polarity: Polarity = Field(
        default=Polarity.higher_is_better, sa_type=enum_column(Polarity, "polarity")
    )
    decimals: int = Field(default=2)
    explanation: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    data_source: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    notes: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    parent_id: int | None = Field(default=None, foreign_key="indicator.id")
    created_at: dt.datetime = timestamp_field()
    updated_at: dt.datetime = timestamp_field()


class IndicatorSourceUnit(SQLModel, table=True):
    """The units named as an indicator's Sumber Data."""

    __tablename__ = "indicator_source_unit"

    indicator_id: int = Field(foreign_key="indicator.id", primary_key=True)
    unit_id: int = Field(foreign_key="unit.id", primary_key=True, index=True)
