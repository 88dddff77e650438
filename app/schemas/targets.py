"""Schemas of Perjanjian Kinerja targets: annual and year-to-date per quarter."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from app.core.types import Number, Quarter
from app.schemas.common import Strict

TargetValue = Annotated[Number, Field(ge=0)]


class TargetsPut(Strict):
    """Perjanjian Kinerja targets of an indicator for one year."""

    model_config = ConfigDict(
        json_schema_extra={"example": {"annual": 80, "quarters": {"1": 20, "2": 40, "4": 80}}},
    )

    annual: TargetValue | None = Field(description="The target for the whole year")
    quarters: dict[Quarter, TargetValue] = Field(
        default_factory=dict,
        description="Targets for the year to date at the end of a quarter, by quarter 1-4; "
        "a quarter without one is measured against the annual target",
    )


class TargetsPublic(BaseModel):
    """An indicator's targets for a year, with who set them and when."""

    indicator_id: int = Field(description="Indicator id", examples=[1])
    indicator_code: str = Field(examples=["KADIS.1.1"])
    year: int = Field(examples=[2025])
    annual: float | None = Field(examples=[80])
    quarters: dict[int, float] = Field(examples=[{"1": 20, "2": 40}])
    updated_at: dt.datetime | None = Field(description="When they were last set")
    updated_by: str | None = Field(description="Name of the key that last set them")
