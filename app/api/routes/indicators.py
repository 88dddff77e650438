"""Decrees (and copying one for the next year), indicators and variables."""

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response

from app.api.deps import Page, id_path, set_location
from app.core.db import SessionDep, WriteSessionDep
from app.core.errors import PROBLEM_JSON, problem_schema_responses
from app.core.security import AdminKey
from app.schemas.authoring import (
    DecreeCopy,
    DecreeCreate,
    DecreeUpdate,
    FormulaProblem,
    IndicatorCreate,
    IndicatorUpdate,
    VariableCreate,
    VariableUpdate,
)
from app.schemas.common import ListPage
from app.schemas.definitions import DecreePublic, IndicatorPublic, VariablePublic
from app.services import authoring, definitions

router = APIRouter(responses=problem_schema_responses(401, 403, 422))

DecreeId = Annotated[int, id_path("Decree")]
IndicatorId = Annotated[int, id_path("Indicator")]
VariableId = Annotated[int, id_path("Variable")]

CREATED = problem_schema_responses(409)
CHANGED = problem_schema_responses(404, 409)
FORMULA_REFUSED: dict[int | str, dict[str, Any]] = {
    422: {
        "description": "Invalid input, or a formula the engine refuses (`code` "
        "`invalid_formula`, with `formula_error`, `offset` and `name`)",
        "model": FormulaProblem,
        "content": {PROBLEM_JSON: {}},
    }
}

AgencyFilter = Annotated[str | None, Query(description="Agency code", examples=["DINSOSP3A"])]
UnitFilter = Annotated[
    str | None, Query(description="Unit code (Sumber Data)", examples=["BID_PSM"])
]
YearFilter = Annotated[int | None, Query(ge=2000, le=2100, description="Year of the SK")]
TextFilter = Annotated[
    str | None, Query(max_length=200, description="Text in the code, name or label")
]


@router.get(
    "/decrees", tags=["decrees"], summary="List decrees", response_model=ListPage[DecreePublic]
)
def list_decrees(
    session: SessionDep, page: Page, agency: AgencyFilter = None, year: YearFilter = None
) -> ListPage[DecreePublic]:
    """SKs of IKI, newest year first."""
    items, total = definitions.list_decrees(session, page, agency=agency, year=year)
    return ListPage(items=items, total=total, limit=page.limit, offset=page.offset)


@router.get(
    "/decrees/{decree_id}",
    tags=["decrees"],
    summary="Get a decree",
    response_model=DecreePublic,
    responses=problem_schema_responses(404),
)
def get_decree(session: SessionDep, decree_id: DecreeId) -> DecreePublic:
    """One SK by id."""
    return definitions.get_decree(session, decree_id)


@router.post(
    "/decrees",
    tags=["decrees"],
    summary="Create a decree",
    status_code=201,
    response_model=DecreePublic,
    responses=CREATED,
)
def create_decree(
    _: AdminKey, session: WriteSessionDep, body: DecreeCreate, request: Request, response: Response
) -> DecreePublic:
    """Add an empty SK of IKI for one year of an agency (admin); one per agency and year."""
    created = authoring.create_decree(session, body)
    set_location(request, response, "get_decree", decree_id=created.id)
    return created


@router.patch(
    "/decrees/{decree_id}",
    tags=["decrees"],
    summary="Change a decree",
    response_model=DecreePublic,
    responses=CHANGED,
)
def update_decree(
    _: AdminKey, session: WriteSessionDep, decree_id: DecreeId, body: DecreeUpdate
) -> DecreePublic:
    """Change a decree's header (admin); fields left out stay."""
    updated = authoring.update_decree(session, decree_id, body)
    return updated


@router.delete(
    "/decrees/{decree_id}",
    tags=["decrees"],
    summary="Delete a decree",
    status_code=204,
    response_class=Response,
    responses=CHANGED,
)
def delete_decree(_: AdminKey, session: WriteSessionDep, decree_id: DecreeId) -> Response:
    """Delete a decree without objectives or indicators (admin)."""
    authoring.delete_decree(session, decree_id)
    return Response(status_code=204)


@router.post(
    "/decrees/{decree_id}/copy",
    tags=["decrees"],
    summary="Start next year's decree from this one",
    status_code=201,
    response_model=DecreePublic,
    responses=CHANGED,
)
def copy_decree(
    _: AdminKey,
    session: WriteSessionDep,
    decree_id: DecreeId,
    body: DecreeCopy,
    request: Request,
    response: Response,
) -> DecreePublic:
    """Create a decree for another year of the same agency with copies of this one's objectives
    and indicators (codes, formulas, texts, source units, cascade), without targets or data;
    this decree's rows stay untouched (admin)."""
    created = authoring.copy_decree(session, decree_id, body)
    set_location(request, response, "get_decree", decree_id=created.id)
    return created


@router.get(
    "/indicators",
    tags=["indicators"],
    summary="List indicators",
    response_model=ListPage[IndicatorPublic],
)
def list_indicators(
    session: SessionDep,
    page: Page,
    agency: AgencyFilter = None,
    year: YearFilter = None,
    position: Annotated[str | None, Query(description="Position code", examples=["KADIS"])] = None,
    unit: UnitFilter = None,
    code: Annotated[str | None, Query(description="Indicator code", examples=["KADIS.1.1"])] = None,
    q: TextFilter = None,
) -> ListPage[IndicatorPublic]:
    """Indicators in SK order, with their formulas, variables and place in the SK."""
    items, total = definitions.list_indicators(
        session, page, agency=agency, year=year, position=position, unit=unit, code=code, q=q
    )
    return ListPage(items=items, total=total, limit=page.limit, offset=page.offset)


@router.get(
    "/indicators/{indicator_id}",
    tags=["indicators"],
    summary="Get an indicator",
    response_model=IndicatorPublic,
    responses=problem_schema_responses(404),
)
def get_indicator(session: SessionDep, indicator_id: IndicatorId) -> IndicatorPublic:
    """One indicator by id."""
    return definitions.get_indicator(session, indicator_id)


@router.post(
    "/indicators",
    tags=["indicators"],
    summary="Create an indicator",
    status_code=201,
    response_model=IndicatorPublic,
    responses={**CREATED, **FORMULA_REFUSED},
)
def create_indicator(
    _: AdminKey,
    session: WriteSessionDep,
    body: IndicatorCreate,
    request: Request,
    response: Response,
) -> IndicatorPublic:
    """Add an indicator under an objective (admin); its formula must use only the agency's
    variables."""
    created = authoring.create_indicator(session, body)
    set_location(request, response, "get_indicator", indicator_id=created.id)
    return created


@router.patch(
    "/indicators/{indicator_id}",
    tags=["indicators"],
    summary="Change an indicator",
    response_model=IndicatorPublic,
    responses={**CHANGED, **FORMULA_REFUSED},
)
def update_indicator(
    _: AdminKey, session: WriteSessionDep, indicator_id: IndicatorId, body: IndicatorUpdate
) -> IndicatorPublic:
    """Change an indicator (admin); a new formula is checked, source units are replaced whole."""
    updated = authoring.update_indicator(session, indicator_id, body)
    return updated


@router.delete(
    "/indicators/{indicator_id}",
    tags=["indicators"],
    summary="Delete an indicator",
    status_code=204,
    response_class=Response,
    responses=CHANGED,
)
def delete_indicator(_: AdminKey, session: WriteSessionDep, indicator_id: IndicatorId) -> Response:
    """Delete an indicator without targets, reported data or cascading indicators (admin)."""
    authoring.delete_indicator(session, indicator_id)
    return Response(status_code=204)


@router.get(
    "/variables",
    tags=["variables"],
    summary="List variables",
    response_model=ListPage[VariablePublic],
)
def list_variables(
    session: SessionDep,
    page: Page,
    agency: AgencyFilter = None,
    unit: Annotated[str | None, Query(description="Owner unit code")] = None,
    q: TextFilter = None,
) -> ListPage[VariablePublic]:
    """Reported quantities (komponen data), by code."""
    items, total = definitions.list_variables(session, page, agency=agency, unit=unit, q=q)
    return ListPage(items=items, total=total, limit=page.limit, offset=page.offset)


@router.get(
    "/variables/{variable_id}",
    tags=["variables"],
    summary="Get a variable",
    response_model=VariablePublic,
    responses=problem_schema_responses(404),
)
def get_variable(session: SessionDep, variable_id: VariableId) -> VariablePublic:
    """One variable by id."""
    return definitions.get_variable(session, variable_id)


@router.post(
    "/variables",
    tags=["variables"],
    summary="Create a variable",
    status_code=201,
    response_model=VariablePublic,
    responses=CREATED,
)
def create_variable(
    _: AdminKey,
    session: WriteSessionDep,
    body: VariableCreate,
    request: Request,
    response: Response,
) -> VariablePublic:
    """Add a reported quantity (komponen data) to an agency, owned by one of its units (admin)."""
    created = authoring.create_variable(session, body)
    set_location(request, response, "get_variable", variable_id=created.id)
    return created


@router.patch(
    "/variables/{variable_id}",
    tags=["variables"],
    summary="Change a variable",
    response_model=VariablePublic,
    responses=CHANGED,
)
def update_variable(
    _: AdminKey, session: WriteSessionDep, variable_id: VariableId, body: VariableUpdate
) -> VariablePublic:
    """Change a variable (admin); a code that formulas use cannot change, nor can a range that
    values already reported would break."""
    updated = authoring.update_variable(session, variable_id, body)
    return updated


@router.delete(
    "/variables/{variable_id}",
    tags=["variables"],
    summary="Delete a variable",
    status_code=204,
    response_class=Response,
    responses=CHANGED,
)
def delete_variable(_: AdminKey, session: WriteSessionDep, variable_id: VariableId) -> Response:
    """Delete a variable that no formula uses and no data was reported for (admin)."""
    authoring.delete_variable(session, variable_id)
    return Response(status_code=204)
