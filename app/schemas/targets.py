"""Schemas of Perjanjian Kinerja targets: annual and year-to-date per quarter, of one indicator
or of many at once."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, model_validator

from app.core.types import KEYS_BY_PATTERN, AgencyCode, Id, IndicatorCode, Number, QuarterKey
from app.schemas.common import Strict

TargetValue = Annotated[Number, Field(ge=0)]


class TargetsPut(Strict):
    """Perjanjian Kinerja targets of an indicator for one year."""

    model_config = ConfigDict(
        json_schema_extra={"example": {"annual": 80, "quarters": {"1": 20, "2": 40, "4": 80}}},
    )

    annual: TargetValue | None = Field(description="The target for the whole year")
    quarters: Annotated[dict[QuarterKey, TargetValue], KEYS_BY_PATTERN] = Field(
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
    quarters: Annotated[dict[QuarterKey, float], KEYS_BY_PATTERN] = Field(
        description="Targets for the year to date at the end of a quarter, by quarter 1-4",
        examples=[{"1": 20, "2": 40}],
    )
    updated_at: dt.datetime | None = Field(description="When they were last set")
    updated_by: str | None = Field(description="Name of the key that last set them")


MAX_INDICATORS = 10_000  # per bulk write


class IndicatorTargetsPut(TargetsPut):
    """The targets of one indicator in a bulk write: the indicator by id, or by its code in
    the SK of the year (with its agency's code when the service holds several agencies)."""

    model_config = ConfigDict(
        json_schema_extra={
            "example": {
                "indicator": "KADIS.1.1",
                "agency": "DINSOSP3A",
                "annual": 80,
                "quarters": {"1": 20, "2": 40, "3": 60, "4": 80},
            }
        },
    )

    indicator_id: Id | None = Field(
        default=None, description="Indicator id; or name it by `indicator` (and `agency`)"
    )
    indicator: IndicatorCode | None = Field(
        default=None, description="Indicator code in the SK of the year, e.g. `KADIS.1.1`"
    )
    agency: AgencyCode | None = Field(
        default=None,
        description="Agency code of `indicator`; optional when the service holds one agency",
    )

    @model_validator(mode="after")
    def _one_name(self) -> IndicatorTargetsPut:
        if (self.indicator_id is None) == (self.indicator is None):
            raise ValueError("name the indicator by indicator_id or by indicator, not both")
        if self.agency is not None and self.indicator is None:
            raise ValueError("agency goes with indicator (a code), not with indicator_id")
        return self


class TargetsWritten(BaseModel):
    """What a bulk write of targets did: each indicator's targets as stored now, in the order
    sent, and counts of target values (annual or quarter)."""

    year: int = Field(examples=[2025])
    items: list[TargetsPublic]
    created: int = Field(description="Target values set for the first time", examples=[5])
    updated: int = Field(description="Target values changed", examples=[1])
    removed: int = Field(description="Target values removed (not given)", examples=[0])
    unchanged: int = Field(description="Target values sent as they already were", examples=[0])


class TargetsItemError(BaseModel):
    """A refused item of a bulk write of targets."""

    index: int = Field(description="0-based position of the item in the body", examples=[3])
    field: str = Field(
        description="Dotted path of the field at fault, e.g. `body.3.indicator`",
        examples=["body.3"],
    )
    indicator_id: int | None = Field(description="The indicator's id, when it was found")
    indicator: str | None = Field(
        description="The indicator's code (as sent, when it was named by code)",
        examples=["KADIS.1.1"],
    )
    agency: str | None = Field(description="Its agency's code", examples=["DINSOSP3A"])
    code: str = Field(
        description="Kind of error: `unknown_indicator`, `unknown_agency`, `agency_required`, "
        "`other_year`, `duplicate` or `verified_data`",
        examples=["verified_data"],
    )
    message: str = Field(description="What is wrong")
    quarters: list[int] | None = Field(
        default=None,
        description="For `verified_data`: the verified quarters whose target would change",
    )
