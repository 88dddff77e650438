"""Schemas of rating scales: the bands that turn an achievement into a rating."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, field_validator

from app.core.types import Flag, Number, OneLine
from app.schemas.common import Strict


class RatingBand(Strict):
    """A band: achievements at or above `min` (any, when `min` is null) get this rating."""

    min: Number | None = Field(description="Inclusive lower bound in percent; null = the rest")
    code: str = Field(pattern=r"^[a-z][a-z0-9_]{0,31}$", examples=["sangat_tinggi"])
    label: Annotated[str, OneLine] = Field(min_length=1, max_length=100, examples=["Sangat Tinggi"])
    color: str | None = Field(default=None, pattern=r"^#[0-9a-fA-F]{6}$", examples=["#1a9850"])


class Rating(BaseModel):
    """A rating band of the agency's scale."""

    code: str = Field(examples=["sangat_tinggi"])
    label: str = Field(examples=["Sangat Tinggi"])
    color: str | None = Field(default=None, examples=["#1a9850"])


class RatingScalePut(Strict):
    """A rating scale to create or replace."""

    model_config = ConfigDict(
        json_schema_extra={
            "example": {
                "name": "Skala 3 tingkat",
                "bands": [
                    {"min": 100, "code": "tercapai", "label": "Tercapai", "color": "#1a9850"},
                    {"min": 75, "code": "hampir", "label": "Hampir tercapai", "color": "#fee08b"},
                    {"min": None, "code": "belum", "label": "Belum tercapai", "color": "#d73027"},
                ],
            }
        },
    )

    name: Annotated[str, OneLine] = Field(
        min_length=1, max_length=255, description="Name of the scale"
    )
    bands: list[RatingBand] = Field(min_length=1, max_length=20)
    is_default: Flag = Field(default=False, description="Make it the installation's default scale")

    @field_validator("bands")
    @classmethod
    def _one_catch_all_and_distinct(cls, bands: list[RatingBand]) -> list[RatingBand]:
        if sum(b.min is None for b in bands) != 1:
            raise ValueError("exactly one band must have min null (it catches the rest)")
        if len({b.code for b in bands}) != len(bands):
            raise ValueError("band codes must be distinct")
        bounds = [b.min for b in bands if b.min is not None]
        if len(set(bounds)) != len(bounds):
            raise ValueError("band lower bounds must be distinct")
        return bands


class RatingScalePublic(BaseModel):
    """A rating scale, bands highest first."""

    code: str = Field(examples=["PERMENDAGRI_86_2017"])
    name: str = Field(examples=["Skala Nilai Peringkat Kinerja (Permendagri 86/2017)"])
    is_default: bool = Field(description="The installation's default scale")
    bands: list[RatingBand]
    agencies: list[str] = Field(description="Codes of the agencies that use it as override")


class AgencyScalePut(Strict):
    """Which scale an agency uses; null returns it to the installation default."""

    code: str | None = Field(examples=["PERMENDAGRI_86_2017"])
