"""Pure data-quality checks of a unit's quarter: rules over plain data, findings in Indonesian.

No FastAPI, no SQLModel: `app.services.quality` loads a unit's quarter and calls `check`.
"""

from app.quality.facts import (
    Finding,
    IndicatorFacts,
    Observation,
    Operator,
    RuleFacts,
    RulePeriod,
    Severity,
    Thresholds,
    UnitQuarter,
    VariableFacts,
    holds,
)
from app.quality.rules import RULES, check, is_proportion, robust_score

__all__ = [
    "RULES",
    "Finding",
    "IndicatorFacts",
    "Observation",
    "Operator",
    "RuleFacts",
    "RulePeriod",
    "Severity",
    "Thresholds",
    "UnitQuarter",
    "VariableFacts",
    "check",
    "holds",
    "is_proportion",
    "robust_score",
]
