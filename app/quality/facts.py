"""The plain data the data-quality rules read, and the findings they answer."""

from __future__ import annotations

import operator
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from functools import cached_property
from typing import Final

from app.achievement import Aggregation, Polarity
from app.formula import CheckedFormula


class Severity(StrEnum):
    """How much a finding matters before a quarter becomes official.

    `error`: the figure is wrong as reported (a count served above those registered); a
    submit is refused unless the error is explained; `warning`: unusual, the verifier should
    look (an outlier, a stock halved, a value missing); `info`: worth knowing."""

    error = "error"
    warning = "warning"
    info = "info"


class Operator(StrEnum):
    """How the two sides of a rule written by people compare (DHIS2's validation rules)."""

    le = "<="
    lt = "<"
    eq = "=="
    ne = "!="
    ge = ">="
    gt = ">"


# Sides closer than this (relative to their size) are equal: 0.1 + 0.2 == 0.3 holds, while
# counts up to 1e12 stay apart by one.
_TOLERANCE: Final = 1e-13
_COMPARE: Final[Mapping[Operator, Callable[[float, float], bool]]] = {
    Operator.le: operator.le,
    Operator.lt: operator.lt,
    Operator.eq: operator.eq,
    Operator.ne: operator.ne,
    Operator.ge: operator.ge,
    Operator.gt: operator.gt,
}


def holds(left: float, op: Operator, right: float) -> bool:
    """Whether `left op right`, two values within rounding noise of each other being equal."""
    if abs(left - right) <= _TOLERANCE * max(1.0, abs(left), abs(right)):  # rounding noise
        left = right
    return _COMPARE[op](left, right)


class RulePeriod(StrEnum):
    """What a rule written by people compares: the quarter's own values, or each variable's
    year to date (aggregated over quarters 1..q by its own aggregation)."""

    quarter = "quarter"
    year_to_date = "year_to_date"


@dataclass(frozen=True)
class Observation:
    """A stored value of a variable for one quarter, with its evidence (bukti dukung)."""

    value: float
    evidence: str | None = None


@dataclass(frozen=True)
class VariableFacts:
    """A variable (komponen data) as the checks see it."""

    code: str
    label: str
    aggregation: Aggregation
    owner_unit: str
    unit_of_measure: str = ""
    needs_evidence: bool = False


@dataclass(frozen=True)
class IndicatorFacts:
    """An indicator over (at least one of) the unit's variables."""

    code: str
    name: str
    formula: CheckedFormula
    unit_of_measure: str
    polarity: Polarity = Polarity.higher_is_better
    targets: Mapping[int, float] = field(default_factory=dict)
    """Its targets of the year by quarter (0: the annual one)."""


@dataclass(frozen=True)
class RuleFacts:
    """A rule written by people: `left operator right` over variable codes."""

    code: str
    name: str
    left: CheckedFormula
    operator: Operator
    right: CheckedFormula
    period: RulePeriod = RulePeriod.quarter
    severity: Severity = Severity.error
    description: str | None = None

    @property
    def variables(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys((*self.left.variables, *self.right.variables)))


@dataclass(frozen=True)
class Thresholds:
    """An agency's bands for the checks that compare against a share (in percent)."""

    capaian_above: float = 150.0
    """A capaian above this is far above its target."""
    capaian_below: float = 50.0
    """A capaian below this is far below its target."""
    stock_change: float = 50.0
    """A stock that moves by more than this share of the previous quarter's value."""


Values = Mapping[str, Mapping[int, Observation]]
"""Stored values of a year: by variable code, then quarter."""


@dataclass(frozen=True)
class UnitQuarter:
    """A unit's quarter as the checks see it: everything they read, nothing from a database."""

    unit: str
    year: int
    quarter: int
    variables: Mapping[str, VariableFacts]
    """Every variable the checks may read: the unit's own, and the others that the
    indicators and rules over the unit's variables use."""
    values: Values
    """This year's values (of quarters 1..`quarter`; later ones are not read)."""
    previous_year: Values = field(default_factory=dict)
    """Last year's values, where there are any."""
    indicators: Sequence[IndicatorFacts] = ()
    """The year's indicators over at least one of the unit's variables, in SK order."""
    rules: Sequence[RuleFacts] = ()
    """The agency's rules over at least one of the unit's variables."""
    thresholds: Thresholds = field(default_factory=Thresholds)

    @cached_property
    def own(self) -> tuple[VariableFacts, ...]:
        """The unit's own variables, by code."""
        return tuple(v for _, v in sorted(self.variables.items()) if v.owner_unit == self.unit)

    @cached_property
    def memo(self) -> dict[object, object]:
        """What one rule computes that another reuses (an indicator's achievement), for
        this quarter only."""
        return {}

    def observed(self, code: str, quarter: int | None = None) -> Observation | None:
        """A variable's stored value of a quarter of this year (this quarter by default)."""
        quarter = self.quarter if quarter is None else quarter
        if quarter > self.quarter:
            return None
        return self.values.get(code, {}).get(quarter)

    def series(self, code: str) -> dict[int, float]:
        """A variable's values of quarters 1..`quarter`, by quarter."""
        return {q: o.value for q, o in self.values.get(code, {}).items() if 1 <= q <= self.quarter}


@dataclass(frozen=True)
class Finding:
    """One thing a verifier should see in a unit's quarter."""

    code: str
    """The kind of finding, stable: `numerator_exceeds_denominator`, `outlier` ..."""
    severity: Severity
    key: str
    """Stable name of this finding in this quarter (`code:subject`): what an explanation
    is given for."""
    message: str
    """What was found, in Indonesian, with the values."""
    indicator: str | None = None
    variable: str | None = None
    rule: str | None = None
    """The code of the rule written by people that it breaks."""
    values: Mapping[str, float | None] = field(default_factory=dict)
    """The variables' values involved, by code."""
    figures: Mapping[str, float | None] = field(default_factory=dict)
    """What the check computed from them (numerator, median, capaian ...), by name."""
    indicators: tuple[str, ...] = ()
    """The codes of the indicators whose figures it touches: its own, or those over its
    variables (set by the runner)."""
