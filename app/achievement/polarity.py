"""Which way is better, and the achievement it gives: one formula per polarity."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from enum import StrEnum


class Polarity(StrEnum):
    """Whether a higher realization is better, or a lower one (e.g. a rate of cases)."""

    higher_is_better = "higher_is_better"
    lower_is_better = "lower_is_better"


# Capaian in percent of a realization R against a non-zero target T, not capped
# (PermenPANRB 8/2021: a lower-is-better indicator is measured by its *kondisi khusus*).
# A new polarity is a member of the enum (and of the column's CHECK, by a migration) and one
# line here.
POLARITIES: Mapping[Polarity, Callable[[float, float], float]] = {
    Polarity.higher_is_better: lambda realization, target: realization / target * 100,
    Polarity.lower_is_better: lambda realization, target: max(
        0.0, (2 * target - realization) / target * 100
    ),
}


def achievement_percent(realization: float, target: float, polarity: Polarity) -> float | None:
    """Capaian in percent, not capped; None when the target is zero.

    higher_is_better: R / T x 100; lower_is_better: (2T - R) / T x 100, floored at 0."""
    if target == 0:
        return None
    try:
        formula = POLARITIES[polarity]
    except KeyError:
        raise ValueError(f"unknown polarity {polarity!r}") from None
    return formula(realization, target)
