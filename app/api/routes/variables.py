"""Variables: the reported quantities (komponen data) of an agency."""

from typing import Annotated

from fastapi import APIRouter, Request, Response

from app.api.deps import (
    CHANGED,
    CREATED,
    AgencyFilter,
    OwnerUnitFilter,
    Page,
    TextFilter,
    WriteSessionDep,
    id_path,
    set_location,
)
from app.core.db import SessionDep
from app.core.errors import problem_schema_responses
from app.core.jsonbody import JSONRoute
from app.core.security import Administrator, requires
from app.core.types import Id
from app.models import Capability
from app.schemas.common import ListPage
from app.schemas.variables import VariableCreate, VariablePublic, VariableUpdate
from app.services import variables

router = APIRouter(
    route_class=JSONRoute,
    prefix="/variables",
    tags=["variables"],
    responses=problem_schema_responses(401, 403, 422),
    dependencies=[requires(Capability.read_definitions)],
)
VariableId = Annotated[Id, id_path("Variable")]


@router.get(
    "",
    summary="List variables",
    response_model=ListPage[VariablePublic],
)
def list_variables(
    session: SessionDep,
    page: Page,
    agency: AgencyFilter = None,
    unit: OwnerUnitFilter = None,
    q: TextFilter = None,
) -> ListPage[VariablePublic]:
    """Reported quantities (komponen data), by code."""
    return ListPage.of(variables.list_variables(session, page, agency=agency, unit=unit, q=q), page)


@router.get(
    "/{variable_id}",
    summary="Get a variable",
    response_model=VariablePublic,
    responses=problem_schema_responses(404),
)
def get_variable(session: SessionDep, variable_id: VariableId) -> VariablePublic:
    """One variable by id."""
    return variables.get_variable(session, variable_id)


@router.post(
    "",
    summary="Create a variable",
    status_code=201,
    response_model=VariablePublic,
    responses=CREATED,
)
def create_variable(
    _: Administrator,
    session: WriteSessionDep,
    body: VariableCreate,
    request: Request,
    response: Response,
) -> VariablePublic:
    """Add a reported quantity (komponen data) to an agency, owned by one of its units (admin)."""
    created = variables.create_variable(session, body)
    set_location(request, response, "get_variable", variable_id=created.id)
    return created


@router.patch(
    "/{variable_id}",
    summary="Change a variable",
    response_model=VariablePublic,
    responses=CHANGED,
)
def update_variable(
    _: Administrator, session: WriteSessionDep, variable_id: VariableId, body: VariableUpdate
) -> VariablePublic:
    """Change a variable (admin); a code that formulas use cannot change, nor can a range that
    values already reported would break."""
    return variables.update_variable(session, variable_id, body)


@router.delete(
    "/{variable_id}",
    summary="Delete a variable",
    status_code=204,
    response_class=Response,
    responses=CHANGED,
)
def delete_variable(
    _: Administrator, session: WriteSessionDep, variable_id: VariableId
) -> Response:
    """Delete a variable that no formula uses and no data was reported for (admin)."""
    variables.delete_variable(session, variable_id)
    return Response(status_code=204)
