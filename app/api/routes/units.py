"""Units: Bidang, Sekretariat and UPTD, the owners of reported data."""

from typing import Annotated

from fastapi import APIRouter, Request, Response

from app.api.deps import (
    CHANGED,
    CREATED,
    AgencyFilter,
    Page,
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
from app.schemas.organization import UnitCreate, UnitPublic, UnitUpdate
from app.services import organization

router = APIRouter(
    route_class=JSONRoute,
    prefix="/units",
    tags=["units"],
    responses=problem_schema_responses(401, 403, 422),
    dependencies=[requires(Capability.read_definitions)],
)
UnitId = Annotated[Id, id_path("Unit")]


@router.get("", summary="List units", response_model=ListPage[UnitPublic])
def list_units(
    session: SessionDep, page: Page, agency: AgencyFilter = None
) -> ListPage[UnitPublic]:
    """Bidang, Sekretariat and UPTD, optionally of one agency."""
    return ListPage.of(organization.list_units(session, page, agency=agency), page)


@router.get(
    "/{unit_id}",
    summary="Get a unit",
    response_model=UnitPublic,
    responses=problem_schema_responses(404),
)
def get_unit(session: SessionDep, unit_id: UnitId) -> UnitPublic:
    """One unit by id."""
    return organization.get_unit(session, unit_id)


@router.post(
    "",
    summary="Create a unit",
    status_code=201,
    response_model=UnitPublic,
    responses=CREATED,
)
def create_unit(
    _: Administrator,
    session: WriteSessionDep,
    body: UnitCreate,
    request: Request,
    response: Response,
) -> UnitPublic:
    """Add a Bidang, Sekretariat or UPTD to an agency (admin)."""
    created = organization.create_unit(session, body)
    set_location(request, response, "get_unit", unit_id=created.id)
    return created


@router.patch(
    "/{unit_id}",
    summary="Change a unit",
    response_model=UnitPublic,
    responses=CHANGED,
)
def update_unit(
    _: Administrator, session: WriteSessionDep, unit_id: UnitId, body: UnitUpdate
) -> UnitPublic:
    """Change a unit's code or name (admin); fields left out stay."""
    return organization.update_unit(session, unit_id, body)


@router.delete(
    "/{unit_id}",
    summary="Delete a unit",
    status_code=204,
    response_class=Response,
    responses=CHANGED,
)
def delete_unit(_: Administrator, session: WriteSessionDep, unit_id: UnitId) -> Response:
    """Delete a unit that owns no variable, heads no position, is no indicator's Sumber Data
    and scopes no key (admin)."""
    organization.delete_unit(session, unit_id)
    return Response(status_code=204)
