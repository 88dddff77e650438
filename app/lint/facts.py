"""The plain data the lint rules read, and the findings they answer."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum

from app.formula import CheckedFormula


class Severity(StrEnum):
    """How much a finding matters.

    `error`: the capaian computed from the definition is wrong or meaningless as it stands;
    `warning`: the definition contradicts itself or is incomplete, an admin should look;
    `info`: worth knowing, nothing to fix.
    """

    error = "error"
    warning = "warning"
    info = "info"


@dataclass(frozen=True)
class VariableFacts:
    """A variable (komponen data) as the rules see it."""

    code: str
    label: str
    unit_of_measure: str
    aggregation: str
    """`sum` (a flow), `last` (a stock), `max`, `min`, `avg`."""
    description: str | None = None
    owner_unit: str | None = None
    min_value: float | None = None
    """The least value it may be given (none: no bound)."""
    max_value: float | None = None
    """The greatest value it may be given (none: no bound)."""


@dataclass(frozen=True)
class IndicatorFacts:
    """An indicator as the rules see it."""

    code: str
    name: str
    formula: CheckedFormula
    unit_of_measure: str
    variables: Mapping[str, VariableFacts] = field(default_factory=dict)
    """The agency's variables that the formula uses, by code (a code the agency lacks is absent)."""
    explanation: str | None = None
    data_source: str | None = None
    has_target: bool = True
    """A target (annual or of a quarter) exists for the decree's year."""
    parent: str | None = None
    """Code of the indicator it cascades to."""
    parent_inferred: bool = False


@dataclass(frozen=True)
class Finding:
    """One thing found wrong (or worth knowing) in a decree's definitions."""

    code: str
    severity: Severity
    message: str
    indicator: str | None = None
    variable: str | None = None
    rule: str | None = None
    """Code of the data-quality rule it is about."""


@dataclass(frozen=True)
class QualityRuleFacts:
    """A data-quality rule written by people (`left operator right`) as the lint sees it."""

    code: str
    name: str
    left: CheckedFormula
    operator: str
    """`<=`, `<`, `==`, `!=`, `>=` or `>`."""
    right: CheckedFormula
    period: str = "quarter"
    """`quarter`: each side over the quarter's own values; `year_to_date`: over each
    variable's year to date."""

    @property
    def variables(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys((*self.left.variables, *self.right.variables)))
