"""Objectives (Sasaran Kinerja) of a position in a decree.

The fields are declared once, in `ObjectiveBase`; the table adds its keys and timestamps, and
the schemas in `app/schemas/objectives.py` derive from the same base.
"""

import datetime as dt

from sqlalchemy import Text as TextColumn
from sqlalchemy import UniqueConstraint
from sqlmodel import Field, SQLModel

from app.core.types import SkNumber, Text
from app.models.base import timestamp_field


class ObjectiveBase(SQLModel):
    number: SkNumber
    statement: Text = Field(
        sa_type=TextColumn,
        description="The Sasaran Kinerja, verbatim",
        schema_extra={
            "examples": [
                "Meningkatnya Kualitas dan Kemampuan Penyandang Masalah Kesejahteraan Sosial "
                "(PMKS)."
            ]
        },
    )


class Objective(ObjectiveBase, table=True):
    """A Sasaran Kinerja of a position in a decree."""

    __tablename__ = "objective"

    __table_args__ = (UniqueConstraint("decree_id", "position_id", "number"),)

    id: int | None = Field(default=None, primary_key=True)
    decree_id: int = Field(foreign_key="decree.id", index=True)
    position_id: int = Field(foreign_key="position.id", index=True)
    created_at: dt.datetime = timestamp_field()
    updated_at: dt.datetime = timestamp_field()
