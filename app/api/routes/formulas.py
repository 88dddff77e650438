"""The formula check: validate and test-evaluate a formula before saving it."""

from fastapi import APIRouter

from app.core.db import SessionDep
from app.core.errors import PROBLEM_JSON, problem_schema_responses
from app.core.jsonbody import JSONRoute
from app.core.security import requires
from app.models import Capability
from app.schemas.formulas import FormulaCheck, FormulaCheckResult, FormulaProblem
from app.services import formulas

router = APIRouter(
    route_class=JSONRoute,
    tags=["formulas"],
    responses=problem_schema_responses(401, 403),
    dependencies=[requires(Capability.read_definitions)],
)


@router.post(
    "/formulas/check",
    summary="Check a formula",
    response_model=FormulaCheckResult,
    responses={
        422: {
            "description": "The formula is refused (`code` `invalid_formula`, with "
            "`formula_error`, `offset` and `name`), or the request is invalid",
            "model": FormulaProblem,
            "content": {PROBLEM_JSON: {}},
        }
    },
)
def check_formula(session: SessionDep, body: FormulaCheck) -> FormulaCheckResult:
    """Check a formula against an agency's variables, read it in words and LaTeX, and (given
    values) compute it, exactly as an indicator's formula would be."""
    return formulas.check_formula(session, body)
