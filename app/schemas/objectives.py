"""Request and response schemas of objectives (see `app/models/objectives` for their fields)."""

from __future__ import annotations

from pydantic import Field
from sqlmodel import SQLModel
from sqlmodel.main import SQLModelConfig

from app.core.types import Id, Omittable, PositionCode
from app.models.objectives import ObjectiveBase
from app.schemas.common import Input, Patch
from app.schemas.decrees import DecreeRef
from app.schemas.organization import PositionRef


class ObjectiveCreate(Input, ObjectiveBase):
    """A new Sasaran Kinerja of a position in a decree."""

    model_config = SQLModelConfig(
        json_schema_extra={
            "example": {
                "decree_id": 1,
                "position": "KADIS",
                "number": 6,
                "statement": "Meningkatnya kualitas pelayanan sosial dasar.",
            }
        }
    )

    decree_id: Id = Field(description="Id of the decree it belongs to", examples=[1])
    position: PositionCode = Field(description="Code of the position whose objective it is")


class ObjectiveUpdate(Patch, ObjectiveBase):
    """Changes to an objective; fields left out stay as they are."""

    model_config = SQLModelConfig(json_schema_extra={"example": {"number": 2}})

    position: Omittable[PositionCode] = Field(default=None, description="Code of the position")


class ObjectiveRef(SQLModel):
    """A Sasaran Kinerja."""

    id: int = Field(description="Objective id", examples=[1])
    number: int = Field(examples=[1])
    statement: str = Field(description="The Sasaran Kinerja, verbatim")


# Here rather than in `indicators`, which refers to objectives: an objective lists its indicators.
class IndicatorRef(SQLModel):
    """An indicator, briefly."""

    id: int = Field(description="Indicator id", examples=[1])
    code: str = Field(examples=["KADIS.1.1"])


class ObjectivePublic(ObjectiveBase):
    """A Sasaran Kinerja of a position in a decree, with the codes of its indicators."""

    id: int = Field(description="Objective id", examples=[1])
    decree: DecreeRef
    position: PositionRef
    indicators: list[IndicatorRef] = Field(description="Its indicators, in SK order")
