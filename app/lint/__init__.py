"""Pure lint of a decree's definitions: rules over plain data, findings in Indonesian.

No FastAPI, no SQLModel: `app.services.lint` loads the data and calls `lint`.
"""

from app.lint.facts import Finding, IndicatorFacts, QualityRuleFacts, Severity, VariableFacts
from app.lint.quality import QUALITY_RULE_RULES, lint_quality_rules
from app.lint.rules import INDICATOR_RULES, SUBJECTS, duplicate_formula, lint, unused_variable
from app.lint.shape import Kind, Shape, dump, shape_of

__all__ = [
    "INDICATOR_RULES",
    "QUALITY_RULE_RULES",
    "SUBJECTS",
    "Finding",
    "IndicatorFacts",
    "Kind",
    "QualityRuleFacts",
    "Severity",
    "Shape",
    "VariableFacts",
    "dump",
    "duplicate_formula",
    "lint",
    "lint_quality_rules",
    "shape_of",
    "unused_variable",
]
