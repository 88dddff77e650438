"""Realization, target, achievement and status of one indicator for one (year, quarter)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TypeVar

from app.achievement.aggregation import Aggregation, year_to_date
from app.achievement.polarity import Polarity, achievement_percent
from app.achievement.rating import Band, Rating, rate
from app.formula import CheckedFormula, evaluate

ANNUAL = 0  # the quarter of an annual target
T = TypeVar("T")


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
    aggregations: Mapping[str, Aggregation]
    polarity: Polarity = Polarity.higher_is_better


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


def target_for(targets: Mapping[int, T], quarter: int) -> T | None:
    """The target a quarter is measured against, of an indicator's targets of a year by
    quarter (`ANNUAL`: the annual one): the quarter's own if set, else the annual one."""
    own = targets.get(quarter)
    return own if own is not None else targets.get(ANNUAL)


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
    percent = achievement_percent(realization, target, spec.polarity)
    if percent is None:
        return build(AchievementStatus.undefined, realization, reason="zero_target")
    return build(AchievementStatus.ok, realization, percent=percent)
