"""Schemas of the printed documents' data: a position's IKI (the SK lampiran for a Jabatan)."""

from __future__ import annotations

from pydantic import Field
from sqlmodel import SQLModel

from app.schemas.decrees import DecreePublic
from app.schemas.indicators import IndicatorPublic
from app.schemas.organization import PositionPublic


class IkiObjective(SQLModel):
    """A Sasaran Kinerja with its indicators, as in the SK lampiran."""

    id: int = Field(description="Objective id", examples=[1])
    number: int = Field(description="Number in the SK", examples=[1])
    statement: str = Field(description="The Sasaran Kinerja, verbatim")
    indicators: list[IndicatorPublic]


class IkiDocument(SQLModel):
    """A position's IKI for one year: the lampiran of the SK for that Jabatan."""

    position: PositionPublic
    decree: DecreePublic
    objectives: list[IkiObjective]
