"""Formulas: the check of a formula against an agency's variables, and what formulas use.

The engine (`app.formula`) knows nothing of the database; this module gives it the agency's
variables and turns its refusals into problems.
"""

from __future__ import annotations

from collections.abc import Mapping

from sqlmodel import Session, col, select

from app.core.errors import InvalidFormula, InvalidInput
from app.formula import (
    CheckedFormula,
    FormulaError,
    describe,
    evaluate,
    names_in,
    to_latex,
    validate,
)
from app.models import Decree, Indicator, Variable
from app.schemas.formulas import FormulaCheck, FormulaCheckResult, FormulaTestResult
from app.services.common import names, resolve_agency


def invalid_formula(exc: FormulaError, field: str) -> InvalidFormula:
    """The problem for a refused formula: the engine's code, and where and what is at fault."""
    where = f" (at character {exc.offset + 1} of the formula)" if exc.offset is not None else ""
    return InvalidFormula(
        f"{exc.message}{where}",
        field=field,
        formula_error=exc.code,
        offset=exc.offset,
        name=exc.name,
    )


def variable_codes(session: Session, agency_id: int) -> set[str]:
    return set(session.exec(select(Variable.code).where(Variable.agency_id == agency_id)))


def validated(session: Session, agency_id: int, expression: str, field: str) -> CheckedFormula:
    return checked_against(expression, variable_codes(session, agency_id), field)


def checked_against(expression: str, codes: set[str], field: str) -> CheckedFormula:
    """The formula checked against these variable codes (an agency's), or its problem."""
    try:
        return validate(expression, codes)
    except FormulaError as exc:
        raise invalid_formula(exc, field) from None


formula_variables = names_in
"""The variable names a stored formula uses (`app.formula.names_in`)."""


def indicators_using(session: Session, agency_id: int, code: str) -> list[str]:
    """`CODE (year)` of every indicator of the agency whose formula uses variable `code`,
    from the names each formula is read with (never a search of the text)."""
    rows = session.exec(
        select(Indicator.code, Indicator.formula, Decree.year)
        .join(Decree, Decree.id == Indicator.decree_id)  # type: ignore[arg-type]
        .where(Decree.agency_id == agency_id)
        .order_by(col(Decree.year), col(Indicator.id))
    )
    return [f"{ind} ({year})" for ind, formula, year in rows if code in formula_variables(formula)]


def check_formula(session: Session, request: FormulaCheck) -> FormulaCheckResult:
    """Check a formula against an agency's variables and, given values, test-evaluate it."""
    agency = resolve_agency(session, request.agency)
    variables = {
        v.code: v for v in session.exec(select(Variable).where(Variable.agency_id == agency.id))
    }
    try:
        checked = validate(request.expression, variables)
    except FormulaError as exc:
        raise invalid_formula(exc, "expression") from None
    result = None
    if request.values is not None:
        unknown = [code for code in request.values if code not in variables]
        if unknown:
            raise InvalidInput(
                f"Values sent for {names(unknown)}, which are not variables of {agency.code}",
                field="values",
            )
        result = _test_evaluation(checked, request.values)
    labels = {code: v.label for code, v in variables.items()}
    return FormulaCheckResult(
        valid=True,
        variables=list(checked.variables),
        description=describe(checked, labels),
        latex=to_latex(checked, labels),
        result=result,
    )


def _test_evaluation(checked: CheckedFormula, values: Mapping[str, float]) -> FormulaTestResult:
    missing = [code for code in checked.variables if code not in values]
    if missing:
        return FormulaTestResult(
            value=None,
            status="missing_values",
            reason="missing_value",
            detail="No value for " + ", ".join(f"'{code}'" for code in missing),
            missing=missing,
        )
    evaluation = evaluate(checked, values)
    return FormulaTestResult(
        value=evaluation.value,
        status=evaluation.status,
        reason=evaluation.reason,
        detail=evaluation.detail,
    )
