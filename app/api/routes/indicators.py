"""Indikator Kinerja Individu with their formulas."""

from typing import Any

from fastapi import APIRouter, Request, Response

from app.api.deps import (
    CHANGED,
    CREATED,
    AgencyFilter,
    IndicatorFilter,
    IndicatorId,
    Page,
    PositionFilter,
    SourceUnitFilter,
    TextFilter,
    WriteSessionDep,
    YearFilter,
    set_location,
)
from app.core.db import SessionDep
from app.core.errors import PROBLEM_JSON, problem_schema_responses
from app.core.jsonbody import JSONRoute
from app.core.security import Administrator, requires
from app.models import Capability
from app.schemas.common import ListPage
from app.schemas.formulas import FormulaProblem
from app.schemas.indicators import IndicatorCreate, IndicatorPublic, IndicatorUpdate
from app.services import indicators

router = APIRouter(
    route_class=JSONRoute,
    prefix="/indicators",
    tags=["indicators"],
    responses=problem_schema_responses(401, 403, 422),
    dependencies=[requires(Capability.read_definitions)],
)
FORMULA_REFUSED: dict[int | str, dict[str, Any]] = {
    422: {
        "description": "Invalid input, or a formula the engine refuses (`code` "
        "`invalid_formula`, with `formula_error`, `offset` and `name`)",
        "model": FormulaProblem,
        "content": {PROBLEM_JSON: {}},
    }
}


@router.get(
    "",
    summary="List indicators",
    response_model=ListPage[IndicatorPublic],
)
def list_indicators(
    session: SessionDep,
    page: Page,
    agency: AgencyFilter = None,
    year: YearFilter = None,
    position: PositionFilter = None,
    unit: SourceUnitFilter = None,
    code: IndicatorFilter = None,
    q: TextFilter = None,
) -> ListPage[IndicatorPublic]:
    """Indicators in SK order, with their formulas, variables and place in the SK."""
    return ListPage.of(
        indicators.list_indicators(
            session, page, agency=agency, year=year, position=position, unit=unit, code=code, q=q
        ),
        page,
    )


@router.get(
    "/{indicator_id}",
    summary="Get an indicator",
    response_model=IndicatorPublic,
    responses=problem_schema_responses(404),
)
def get_indicator(session: SessionDep, indicator_id: IndicatorId) -> IndicatorPublic:
    """One indicator by id."""
    return indicators.get_indicator(session, indicator_id)


@router.post(
    "",
    summary="Create an indicator",
    status_code=201,
    response_model=IndicatorPublic,
    responses={**CREATED, **FORMULA_REFUSED},
)
def create_indicator(
    _: Administrator,
    session: WriteSessionDep,
    body: IndicatorCreate,
    request: Request,
    response: Response,
) -> IndicatorPublic:
    """Add an indicator under an objective (admin); its formula must use only the agency's
    variables."""
    created = indicators.create_indicator(session, body)
    set_location(request, response, "get_indicator", indicator_id=created.id)
    return created


@router.patch(
    "/{indicator_id}",
    summary="Change an indicator",
    response_model=IndicatorPublic,
    responses={**CHANGED, **FORMULA_REFUSED},
)
def update_indicator(
    _: Administrator, session: WriteSessionDep, indicator_id: IndicatorId, body: IndicatorUpdate
) -> IndicatorPublic:
    """Change an indicator (admin); a new formula is checked, source units are replaced whole."""
    return indicators.update_indicator(session, indicator_id, body)


@router.delete(
    "/{indicator_id}",
    summary="Delete an indicator",
    status_code=204,
    response_class=Response,
    responses=CHANGED,
)
def delete_indicator(
    _: Administrator, session: WriteSessionDep, indicator_id: IndicatorId
) -> Response:
    """Delete an indicator without targets, reported data or cascading indicators (admin)."""
    indicators.delete_indicator(session, indicator_id)
    return Response(status_code=204)
