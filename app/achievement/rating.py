"""Rating scales: bands with an inclusive lower bound, highest first."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Band:
    """A band: achievements >= `min` (or any, when `min` is None) get this rating."""

    min: float | None
    code: str
    label: str
    color: str | None = None

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> Band:
        bound = data.get("min")
        return cls(
            min=None if bound is None else float(bound),
            code=str(data["code"]),
            label=str(data["label"]),
            color=data.get("color"),
        )


@dataclass(frozen=True)
class Rating:
    code: str
    label: str
    color: str | None


# Permendagri 86/2017: >= 91 Sangat Tinggi, 76-90 Tinggi, 66-75 Sedang, 51-65 Rendah,
# <= 50 Sangat Rendah; above 100 stays Sangat Tinggi.
DEFAULT_BANDS: tuple[Band, ...] = (
    Band(91, "sangat_tinggi", "Sangat Tinggi", "#1a9850"),
    Band(76, "tinggi", "Tinggi", "#91cf60"),
    Band(66, "sedang", "Sedang", "#fee08b"),
    Band(51, "rendah", "Rendah", "#fc8d59"),
    Band(None, "sangat_rendah", "Sangat Rendah", "#d73027"),
)


def sorted_bands(bands: Sequence[Band]) -> tuple[Band, ...]:
    """Bands highest first, the catch-all (no lower bound) last."""
    return tuple(
        sorted(bands, key=lambda b: float("-inf") if b.min is None else b.min, reverse=True)
    )


def rate(achievement: float | None, bands: Sequence[Band]) -> Rating | None:
    """The rating of an achievement percentage on a scale (bands highest first)."""
    if achievement is None:
        return None
    for band in bands:
        if band.min is None or achievement >= band.min:
            return Rating(band.code, band.label, band.color)
    return None
