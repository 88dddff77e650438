"""Reported data and what it is measured against: data values and targets."""

from datetime import datetime

from sqlalchemy import CheckConstraint, Column, Float, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from app.achievement import ANNUAL
from app.core.types import Quarter, Year
from app.models.base import timestamp_field


class DataValue(SQLModel, table=True):
    """A variable's value for one quarter of one year."""

    __tablename__ = "data_value"

    __table_args__ = (
        UniqueConstraint("variable_id", "year", "quarter"),
        CheckConstraint("quarter BETWEEN 1 AND 4", name="quarter"),
    )

    id: int | None = Field(default=None, primary_key=True)
    variable_id: int = Field(foreign_key="variable.id", index=True)
    year: Year
    quarter: Quarter
    value: float = Field(sa_column=Column(Float, nullable=False))
    note: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    evidence: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    version: int = Field(default=1)
    created_at: datetime = timestamp_field()
    updated_at: datetime = timestamp_field(index=True)
    updated_by: str | None = Field(default=None, max_length=100)


class Target(SQLModel, table=True):
    """A Perjanjian Kinerja target of an indicator: annual (quarter 0) or year-to-date."""

    __tablename__ = "target"

    __table_args__ = (
        UniqueConstraint("indicator_id", "year", "quarter"),
        CheckConstraint("quarter BETWEEN 0 AND 4", name="quarter"),
    )

    id: int | None = Field(default=None, primary_key=True)
    indicator_id: int = Field(foreign_key="indicator.id", index=True)
    year: Year
    quarter: int = Field(default=ANNUAL, description="0 for the annual target")
    value: float = Field(sa_column=Column(Float, nullable=False))
    created_at: datetime = timestamp_field()
    updated_at: datetime = timestamp_field()
    updated_by: str | None = Field(default=None, max_length=100)
