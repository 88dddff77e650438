"""Schemas of targets, data values (realisasi), imports and achievements (capaian)."""

from __future__ import annotations

import datetime as dt
import math
import re
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, PlainValidator, field_validator

from app.models import Polarity

MAX_MAGNITUDE = 1e15
UNSAFE_SCHEMES = ("javascript:", "data:", "vbscript:", "file:")
MAX_TEXT = 2000


def is_unsafe_link(text: str) -> bool:
    """Whether evidence would be a script or data link once shown in a report. Browsers
    ignore spaces and control characters inside a scheme (`java\tscript:`), so do we."""
    compact = re.sub(r"[\x00-\x20]", "", text).lower()
    return compact.startswith(UNSAFE_SCHEMES)


def _json_number(value: Any) -> float:
    # JSON numbers only: booleans and numeric strings are refused rather than coerced, and
    # NaN/Infinity (which Python's JSON parser accepts) and 1e309 are refused as not finite.
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError("must be a number")
    if isinstance(value, int) and abs(value) > MAX_MAGNITUDE:
        raise ValueError(f"must be at most {MAX_MAGNITUDE:g} in size")
    if not math.isfinite(value):
        raise ValueError("must be a finite number (not NaN or Infinity)")
    if abs(value) > MAX_MAGNITUDE:
        raise ValueError(f"must be at most {MAX_MAGNITUDE:g} in size")
    return float(value)


Number = Annotated[float, PlainValidator(_json_number, json_schema_input_type=float)]
TargetValue = Annotated[Number, Field(ge=0)]
Quarter = Annotated[int, Field(ge=1, le=4, description="Triwulan, 1-4")]
Year = Annotated[int, Field(ge=2000, le=2100, description="Year", examples=[2025])]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


# Targets -------------------------------------------------------------------------------------


class TargetsIn(_Strict):
    """Perjanjian Kinerja targets of an indicator for one year."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"example": {"annual": 80, "quarters": {"1": 20, "2": 40, "4": 80}}},
    )

    annual: TargetValue | None = Field(description="The target for the whole year")
    quarters: dict[Annotated[int, Field(ge=1, le=4)], TargetValue] = Field(
        default_factory=dict,
        description="Targets for the year to date at the end of a quarter, by quarter 1-4; "
        "a quarter without one is measured against the annual target",
    )


class TargetsOut(BaseModel):
    """An indicator's targets for a year, with who set them and when."""

    indicator_id: int = Field(description="Indicator id", examples=[1])
    indicator_code: str = Field(examples=["KADIS.1.1"])
    year: int = Field(examples=[2025])
    annual: float | None = Field(examples=[80])
    quarters: dict[int, float] = Field(examples=[{"1": 20, "2": 40}])
    updated_at: dt.datetime | None = Field(description="When they were last set")
    updated_by: str | None = Field(description="Name of the key that last set them")


# Data values ---------------------------------------------------------------------------------


class DataValuesIn(_Strict):
    """Values of variables for one quarter, with an optional note and evidence."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "example": {
                "values": {"psks_diberdayakan": 45, "psks_terdata": 120},
                "note": "Data hasil verifikasi lapangan",
                "evidence": "https://drive.example/bukti/psks-tw1.pdf",
            }
        },
    )

    values: dict[str, Number] = Field(
        min_length=1,
        max_length=1000,
        description="Variable code -> value. Counts must be whole numbers; values must be "
        "within the variable's range (>= 0 unless it says otherwise).",
    )
    note: str | None = Field(default=None, max_length=2000, description="Keterangan")
    evidence: str | None = Field(
        default=None, max_length=2000, description="Bukti dukung: a reference or an http(s) URL"
    )

    @field_validator("evidence")
    @classmethod
    def _safe_evidence(cls, value: str | None) -> str | None:
        # Evidence is shown as a link in reports: only web links, never script or data URLs.
        if value is not None and is_unsafe_link(value):
            raise ValueError("a link must be an http(s) URL")
        return value


class DataValueOut(BaseModel):
    """A variable's value for one quarter."""

    variable: str = Field(description="Variable code", examples=["psks_terdata"])
    variable_id: int = Field(description="Variable id", examples=[2])
    agency: str = Field(examples=["DINSOSP3A"])
    owner_unit: str = Field(examples=["BID_PSM"])
    year: int = Field(examples=[2025])
    quarter: int = Field(examples=[1])
    value: float = Field(examples=[120])
    note: str | None = Field(description="Keterangan", examples=["TW I"])
    evidence: str | None = Field(
        description="Bukti dukung", examples=["https://drive.example/b.pdf"]
    )
    version: int = Field(description="Increases with every change", examples=[1])
    updated_at: dt.datetime = Field(description="When it last changed")
    updated_by: str | None = Field(description="Name of the key that changed it last")


class DataValuesWritten(BaseModel):
    """What a write did: the values as stored now, and counts."""

    items: list[DataValueOut]
    created: int = Field(description="Values stored for the first time", examples=[1])
    updated: int = Field(description="Values changed", examples=[1])
    unchanged: int = Field(description="Values sent as they already were", examples=[0])


class ImportRow(_Strict):
    """One row of an import: a variable's value for a quarter."""

    variable: str = Field(examples=["psks_terdata"])
    year: int = Field(examples=[2025])
    quarter: int = Field(examples=[1])
    value: Any = Field(description="A number", examples=[120])
    note: str | None = None
    evidence: str | None = None


class ImportIn(_Strict):
    """A JSON import: rows of any variables of one agency, any quarters."""

    agency: str | None = Field(
        default=None, description="Agency code; optional when only one agency exists"
    )
    rows: list[dict[str, Any]] = Field(max_length=50_000)


class ImportError_(BaseModel):
    """A rejected row of an import."""

    row: int = Field(description="1-based row number (CSV: the header is row 0)")
    variable: str | None = Field(default=None, description="The row's variable code")
    value: Any = Field(default=None, description="The row's value as sent")
    field: str | None = Field(default=None, description="The column at fault")
    code: str = Field(description="Kind of error", examples=["out_of_range"])
    message: str = Field(description="What is wrong", examples=["must be at least 0"])


class ImportSummary(BaseModel):
    """What an import did (or, on a dry run, would do)."""

    dry_run: bool = Field(description="Nothing was stored: validation only")
    atomic: bool = Field(description="All or nothing")
    created: int = Field(description="Values stored for the first time", examples=[10])
    updated: int = Field(description="Values changed", examples=[2])
    unchanged: int = Field(description="Rows equal to what was stored", examples=[0])
    rejected: int = Field(description="Rows refused", examples=[0])
    errors: list[ImportError_] = Field(description="Each refused row")


# Achievements --------------------------------------------------------------------------------


class IndicatorBrief(BaseModel):
    """The indicator an achievement is of."""

    id: int = Field(description="Indicator id", examples=[1])
    code: str = Field(examples=["KADIS.1.1"])
    name: str = Field(description="Name as in the SK")
    unit_of_measure: str = Field(examples=["%"])
    polarity: Polarity
    decimals: int = Field(description="Decimals to show", examples=[2])


class PositionBrief(BaseModel):
    """The position whose IKI the indicator is."""

    code: str = Field(examples=["KADIS"])
    title: str = Field(
        examples=["Kepala Dinas Sosial, Pemberdayaan Perempuan dan Perlindungan Anak"]
    )


class RatingOut(BaseModel):
    """A rating band of the agency's scale."""

    code: str = Field(examples=["sangat_tinggi"])
    label: str = Field(examples=["Sangat Tinggi"])
    color: str | None = Field(default=None, examples=["#1a9850"])


class AchievementOut(BaseModel):
    """The capaian of one indicator for one (year, quarter), with what it was computed from."""

    indicator: IndicatorBrief
    position: PositionBrief
    agency: str = Field(examples=["DINSOSP3A"])
    year: int = Field(examples=[2025])
    quarter: int = Field(description="s.d. triwulan: 4 is the annual view", examples=[4])
    values: dict[str, float | None] = Field(
        description="Year-to-date value of each variable (aggregated over quarters 1..q)",
        examples=[{"psks_diberdayakan": 90, "psks_terdata": 120}],
    )
    quarter_values: dict[str, float | None] = Field(
        description="Each variable's value for this quarter alone"
    )
    quarter_realization: float | None = Field(description="The formula over this quarter's values")
    realization: float | None = Field(description="The year-to-date realization", examples=[75])
    target: float | None = Field(description="The quarter's target, else the annual one")
    achievement: float | None = Field(
        description="Capaian in percent, not capped", examples=[93.75]
    )
    rating: RatingOut | None
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
    updated_at: dt.datetime | None = Field(
        description="Latest change of the indicator, its targets or its data for the year"
    )
