"""Realization, target, achievement and status of one indicator for one (year, quarter)."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum

from app.achievement.rating import Band, Rating, rate
from app.formula import CheckedFormula, evaluate

QUARTERS = (1, 2, 3, 4)


class AchievementStatus(StrEnum):
    ok = "ok"
    no_data = "no_data"
    partial_data = "partial_data"
    undefined = "undefined"
    no_target = "no_target"


@dataclass(frozen=True)
class IndicatorSpec:
    """What the computation needs of an indicator: its checked formula, the aggregation of
    each of its variables, and its polarity."""

    formula: CheckedFormula
    aggregations: Mapping[str, str]
    lower_is_better: bool = False


@dataclass(frozen=True)
class Achievement:
    """The result for one (indicator, year, quarter), with the values it was computed from."""

    quarter: int
    values: dict[str, float | None]
    quarter_values: dict[str, float | None]
    quarter_realization: float | None
    realization: float | None
    target: float | None
    achievement: float | None
    rating: Rating | None
    status: AchievementStatus
    reason: str | None = None
    missing_variables: list[str] = field(default_factory=list)


def aggregate(aggregation: str, values: Sequence[float]) -> float:
    """Combine quarterly values (in quarter order) by a variable's aggregation."""
    if aggregation == "sum":
        return math.fsum(values)
    if aggregation == "last":
        return values[-1]
    if aggregation == "max":
        return max(values)
    if aggregation == "min":
        return min(values)
    if aggregation == "avg":
        return math.fsum(values) / len(values)
    raise ValueError(f"unknown aggregation {aggregation!r}")


def year_to_date(aggregation: str, by_quarter: Mapping[int, float], quarter: int) -> float | None:
    """A variable's value for the year up to `quarter`, or None when data is missing.

    A stock (`last`) needs the value of `quarter` itself; every other aggregation needs each
    quarter 1..q, since a missing quarter would silently under- or over-state the year."""
    if aggregation == "last":
        return by_quarter.get(quarter)
    needed = QUARTERS[:quarter]
    if any(q not in by_quarter for q in needed):
        return None
    return aggregate(aggregation, [by_quarter[q] for q in needed])


def achievement_percent(realization: float, target: float, lower_is_better: bool) -> float | None:
    """Capaian in percent, not capped; None when the target is zero.

    higher_is_better: R / T x 100; lower_is_better: (2T - R) / T x 100, floored at 0
    (PermenPANRB 8/2021)."""
    if target == 0:
        return None
    if lower_is_better:
        return max(0.0, (2 * target - realization) / target * 100)
    return realization / target * 100


def _clean(value: float | None) -> float | None:
    # Twelve significant digits hide binary noise (0.1 + 0.2) without losing real precision.
    return None if value is None else float(f"{value:.12g}")


def compute(
    spec: IndicatorSpec,
    data: Mapping[str, Mapping[int, float]],
    quarter: int,
    target: float | None,
    bands: Sequence[Band],
) -> Achievement:
    """The achievement of one indicator at `quarter`, from its variables' quarterly values."""
    codes = spec.formula.variables
    quarter_values = {c: data.get(c, {}).get(quarter) for c in codes}
    values = {c: year_to_date(spec.aggregations[c], data.get(c, {}), quarter) for c in codes}
    missing = [c for c in codes if values[c] is None]
    has_any = any(q <= quarter for c in codes for q in data.get(c, {}))

    evaluation = evaluate(spec.formula, values) if has_any and not missing else None
    quarter_realization = None
    if all(v is not None for v in quarter_values.values()):
        # A stock's year to date is its quarter's value, as is any variable's in quarter 1:
        # the same values give the same result, computed once.
        if evaluation is not None and quarter_values == values:
            quarter_realization = evaluation.value
        else:
            quarter_realization = evaluate(spec.formula, quarter_values).value

    def build(
        status: AchievementStatus,
        realization: float | None = None,
        reason: str | None = None,
        percent: float | None = None,
    ) -> Achievement:
        return Achievement(
            quarter=quarter,
            values=values,
            quarter_values=quarter_values,
            quarter_realization=_clean(quarter_realization),
            realization=_clean(realization),
            target=target,
            achievement=_clean(percent),
            rating=rate(_clean(percent), bands),
            status=status,
            reason=reason,
            missing_variables=missing,
        )

    if not has_any:
        return build(AchievementStatus.no_data, reason="no_values")
    if missing or evaluation is None:
        return build(AchievementStatus.partial_data, reason="missing_values")
    if evaluation.value is None:
        return build(AchievementStatus.undefined, reason=evaluation.reason)
    realization = evaluation.value
    if target is None:
        return build(AchievementStatus.no_target, realization, reason="no_target")
    percent = achievement_percent(realization, target, spec.lower_is_better)
    if percent is None:
        return build(AchievementStatus.undefined, realization, reason="zero_target")
    return build(AchievementStatus.ok, realization, percent=percent)
