"""Sealed figures: the capaian served as verified, stored when they were verified."""

from datetime import datetime
from typing import Any

from sqlalchemy import CheckConstraint, UniqueConstraint
from sqlmodel import Field, SQLModel

from app.core.types import Quarter, Year
from app.models.base import JSONValue, timestamp_field


class SealedFigure(SQLModel, table=True):
    """An indicator's achievement up to a quarter as `verified_only=true` computed it when a
    unit's quarter it rests on was verified (or reopened): what is served as verified from
    then on, whatever changes later, until another verification or a reopen seals it anew."""

    __tablename__ = "sealed_figure"

    __table_args__ = (
        UniqueConstraint("indicator_id", "year", "quarter"),
        CheckConstraint("quarter BETWEEN 1 AND 4", name="quarter"),
    )

    id: int | None = Field(default=None, primary_key=True)
    indicator_id: int = Field(foreign_key="indicator.id", ondelete="CASCADE", index=True)
    year: Year
    quarter: Quarter
    figure: dict[str, Any] = Field(sa_type=JSONValue, description="The pull's row")
    sealed_at: datetime = timestamp_field()
