"""How verified a figure is, from the states of the periods it rests on (pure)."""

from __future__ import annotations

from collections.abc import Iterable

MIXED = "mixed"


def verification(states: Iterable[str]) -> str:
    """The one state all the periods behind a figure are in, else `mixed` (no periods:
    `open`)."""
    distinct = set(states)
    if not distinct:
        return "open"
    return distinct.pop() if len(distinct) == 1 else MIXED
