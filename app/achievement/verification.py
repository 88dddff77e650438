"""Which quarters a figure rests on, and how verified it is (pure)."""

from __future__ import annotations

from collections.abc import Iterable

from app.achievement.compute import QUARTERS

MIXED = "mixed"


def quarters_needed(aggregation: str, quarter: int) -> tuple[int, ...]:
    """The quarters of a variable that its year-to-date value at `quarter` rests on: the
    quarter itself for a stock (`last`), quarters 1..q for a flow."""
    return (quarter,) if aggregation == "last" else QUARTERS[:quarter]


def verification(states: Iterable[str]) -> str:
    """The one state all the periods behind a figure are in, else `mixed` (no periods:
    `open`)."""
    distinct = set(states)
    if not distinct:
        return "open"
    return distinct.pop() if len(distinct) == 1 else MIXED
