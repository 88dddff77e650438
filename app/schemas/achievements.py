"""Schemas of achievements (capaian): one indicator's result for a (year, quarter)."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from pydantic import BaseModel, Field

from app.core.types import KEYS_BY_PATTERN, VariableKey
from app.models import Polarity
from app.schemas.rating_scales import Rating


class AchievementIndicator(BaseModel):
    """The indicator an achievement is of."""

    id: int = Field(description="Indicator id", examples=[1])
    code: str = Field(examples=["KADIS.1.1"])
    name: str = Field(description="Name as in the SK")
    unit_of_measure: str = Field(examples=["%"])
    polarity: Polarity
    decimals: int = Field(description="Decimals to show", examples=[2])


class AchievementPosition(BaseModel):
    """The position whose IKI the indicator is."""

    code: str = Field(examples=["KADIS"])
    title: str = Field(
        examples=["Kepala Dinas Sosial, Pemberdayaan Perempuan dan Perlindungan Anak"]
    )


class AchievementQuality(BaseModel):
    """The data-quality findings that touch an achievement's indicator: those of the
    quarter `quarter` of the units owning its variables (`GET .../checks`). A quarter that
    is verified counts the findings stored with its verification, as its verifier saw them
    (a rule added later moves nothing); any other counts the findings of the current data,
    with the explanations of its last submit. With `verified_only`, only verified quarters
    count, as only their data does."""

    error: int = Field(description="Errors that touch the indicator", examples=[1])
    warning: int = Field(description="Warnings that touch the indicator", examples=[0])
    info: int = Field(description="Findings of severity `info` that touch it", examples=[0])
    errors_explained: bool = Field(
        description="Whether every error has an explanation (given at submit or verify); "
        "true when there is no error",
        examples=[True],
    )


class AchievementPublic(BaseModel):
    """The capaian of one indicator for one (year, quarter), with what it was computed from."""

    indicator: AchievementIndicator
    position: AchievementPosition
    agency: str = Field(examples=["DINSOSP3A"])
    year: int = Field(examples=[2025])
    quarter: int = Field(description="s.d. triwulan: 4 is the annual view", examples=[4])
    values: Annotated[dict[VariableKey, float | None], KEYS_BY_PATTERN] = Field(
        description="Year-to-date value of each variable (aggregated over quarters 1..q)",
        examples=[{"psks_diberdayakan": 90, "psks_terdata": 120}],
    )
    quarter_values: Annotated[dict[VariableKey, float | None], KEYS_BY_PATTERN] = Field(
        description="Each variable's value for this quarter alone"
    )
    quarter_realization: float | None = Field(description="The formula over this quarter's values")
    realization: float | None = Field(description="The year-to-date realization", examples=[75])
    target: float | None = Field(description="The quarter's target, else the annual one")
    achievement: float | None = Field(
        description="Capaian in percent, not capped", examples=[93.75]
    )
    rating: Rating | None
    status: str = Field(
        description="ok, no_data, partial_data, undefined or no_target", examples=["ok"]
    )
    reason: str | None = Field(
        description="Why a status is not ok: no_values, missing_values, division_by_zero, "
        "zero_target, no_target ...",
        examples=[None],
    )
    missing_variables: list[str] = Field(description="Variables lacking data for the period")
    verified: bool = Field(description="Whether all data behind it has been verified")
    verification: str = Field(
        description="The workflow state of the units' quarters behind it: `open`, "
        "`submitted`, `returned`, `verified`, or `mixed` when they differ",
        examples=["verified"],
    )
    unverified: list[str] = Field(
        default_factory=list,
        description="With `verified_only`: the units' quarters it needs that are not verified "
        "yet, e.g. `BID_PSM Q2 (submitted)`",
    )
    quality: AchievementQuality = Field(
        description="The data-quality findings that touch its indicator in this quarter: "
        "counts per severity, and whether the errors were explained"
    )
    updated_at: dt.datetime | None = Field(
        description="Latest change of the indicator, its targets or its data for the year"
    )


class SealDriftField(BaseModel):
    """One field of a sealed figure: as sealed, and as recomputed now."""

    sealed: Any = Field(description="As served since the figure was sealed")
    current: Any = Field(description="As the current data and definitions compute it")


FieldName = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]{0,63}$")]
"""The name of a field of `AchievementPublic`, as the key of an object."""


class SealCheck(BaseModel):
    """A sealed figure recomputed from the current data and definitions: the fields in which
    the two differ (none when the official figure holds)."""

    indicator: str = Field(description="Indicator code", examples=["KADIS.1.1"])
    indicator_id: int = Field(description="Indicator id", examples=[1])
    year: int = Field(examples=[2025])
    quarter: int = Field(description="s.d. triwulan", examples=[2])
    drifted: bool = Field(description="Whether the recomputed figure differs from the sealed one")
    fields: Annotated[dict[FieldName, SealDriftField], KEYS_BY_PATTERN] = Field(
        description="The fields that differ, by name; empty when none does"
    )
