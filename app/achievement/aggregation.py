"""How a variable's quarterly values combine into its year to date: one rule per aggregation."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum

QUARTERS = (1, 2, 3, 4)


class Aggregation(StrEnum):
    """How a variable's quarterly values combine into a year-to-date value."""

    sum = "sum"
    last = "last"
    max = "max"
    min = "min"
    avg = "avg"


@dataclass(frozen=True)
class AggregationRule:
    """What an aggregation means: how it combines the values of quarters 1..q (in quarter
    order), and whether it is a stock, whose year to date is the value of quarter q alone
    (a flow's rests on every quarter 1..q)."""

    combine: Callable[[Sequence[float]], float]
    stock: bool = False

    def quarters(self, quarter: int) -> tuple[int, ...]:
        """The quarters a year to date at `quarter` rests on."""
        return (quarter,) if self.stock else QUARTERS[:quarter]


# A new aggregation is a member of the enum (and of the column's CHECK, by a migration) and
# one line here.
AGGREGATIONS: Mapping[Aggregation, AggregationRule] = {
    Aggregation.sum: AggregationRule(math.fsum),
    Aggregation.last: AggregationRule(lambda values: values[-1], stock=True),
    Aggregation.max: AggregationRule(max),
    Aggregation.min: AggregationRule(min),
    Aggregation.avg: AggregationRule(lambda values: math.fsum(values) / len(values)),
}


def rule(aggregation: Aggregation) -> AggregationRule:
    """The rule of an aggregation; ValueError for one that has none."""
    try:
        return AGGREGATIONS[aggregation]
    except KeyError:
        raise ValueError(f"unknown aggregation {aggregation!r}") from None


def aggregate(aggregation: Aggregation, values: Sequence[float]) -> float:
    """Combine quarterly values (in quarter order) by a variable's aggregation."""
    return rule(aggregation).combine(values)


def quarters_needed(aggregation: Aggregation, quarter: int) -> tuple[int, ...]:
    """The quarters of a variable that its year-to-date value at `quarter` rests on: the
    quarter itself for a stock (`last`), quarters 1..q for a flow."""
    return rule(aggregation).quarters(quarter)


def year_to_date(
    aggregation: Aggregation, by_quarter: Mapping[int, float], quarter: int
) -> float | None:
    """A variable's value for the year up to `quarter`, or None when data is missing.

    A stock (`last`) needs the value of `quarter` itself; every other aggregation needs each
    quarter 1..q, since a missing quarter would silently under- or over-state the year."""
    combining = rule(aggregation)
    if combining.stock:
        return by_quarter.get(quarter)
    needed = QUARTERS[:quarter]
    if any(q not in by_quarter for q in needed):
        return None
    return combining.combine([by_quarter[q] for q in needed])
