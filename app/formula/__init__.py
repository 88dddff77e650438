"""Pure formula engine: check, evaluate and describe indicator formulas."""

from app.formula.describe import describe, to_html, to_latex
from app.formula.engine import Evaluation, EvaluationStatus, Reason, evaluate
from app.formula.errors import ErrorCode, FormulaError
from app.formula.grammar import (
    FUNCTIONS,
    MAX_DEPTH,
    MAX_EXPONENT,
    MAX_LENGTH,
    MAX_LITERAL,
    MAX_NODES,
    CheckedFormula,
    names_in,
    parse,
    validate,
)

__all__ = [
    "FUNCTIONS",
    "MAX_DEPTH",
    "MAX_EXPONENT",
    "MAX_LENGTH",
    "MAX_LITERAL",
    "MAX_NODES",
    "CheckedFormula",
    "ErrorCode",
    "Evaluation",
    "EvaluationStatus",
    "FormulaError",
    "Reason",
    "describe",
    "evaluate",
    "names_in",
    "parse",
    "to_html",
    "to_latex",
    "validate",
]
