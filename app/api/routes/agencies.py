"""Agencies (Perangkat Daerah)."""

from typing import Annotated

from fastapi import APIRouter, Request, Response

from app.api.deps import CHANGED, CREATED, Page, WriteSessionDep, id_path, set_location
from app.core.db import SessionDep
from app.core.errors import problem_schema_responses
from app.core.jsonbody import JSONRoute
from app.core.security import Administrator, requires
from app.core.types import Id
from app.models import Capability
from app.schemas.common import ListPage
from app.schemas.organization import AgencyCreate, AgencyPublic, AgencyUpdate
from app.services import organization

router = APIRouter(
    route_class=JSONRoute,
    prefix="/agencies",
    tags=["agencies"],
    responses=problem_schema_responses(401, 403, 422),
    dependencies=[requires(Capability.read_definitions)],
)

AgencyId = Annotated[Id, id_path("Agency")]


@router.get("", summary="List agencies", response_model=ListPage[AgencyPublic])
def list_agencies(session: SessionDep, page: Page) -> ListPage[AgencyPublic]:
    """Every agency (Perangkat Daerah) the service holds, by code."""
    return ListPage.of(organization.list_agencies(session, page), page)


@router.get(
    "/{agency_id}",
    summary="Get an agency",
    response_model=AgencyPublic,
    responses=problem_schema_responses(404),
)
def get_agency(session: SessionDep, agency_id: AgencyId) -> AgencyPublic:
    """One agency by id."""
    return organization.get_agency(session, agency_id)


@router.post(
    "",
    summary="Create an agency",
    status_code=201,
    response_model=AgencyPublic,
    responses=CREATED,
)
def create_agency(
    _: Administrator,
    session: WriteSessionDep,
    body: AgencyCreate,
    request: Request,
    response: Response,
) -> AgencyPublic:
    """Add a Perangkat Daerah (admin)."""
    created = organization.create_agency(session, body)
    set_location(request, response, "get_agency", agency_id=created.id)
    return created


@router.patch(
    "/{agency_id}",
    summary="Change an agency",
    response_model=AgencyPublic,
    responses=CHANGED,
)
def update_agency(
    _: Administrator, session: WriteSessionDep, agency_id: AgencyId, body: AgencyUpdate
) -> AgencyPublic:
    """Change an agency's code, name or contact details (admin); fields left out stay."""
    return organization.update_agency(session, agency_id, body)


@router.delete(
    "/{agency_id}",
    summary="Delete an agency",
    status_code=204,
    response_class=Response,
    responses=CHANGED,
)
def delete_agency(_: Administrator, session: WriteSessionDep, agency_id: AgencyId) -> Response:
    """Delete an agency that nothing refers to any more (admin); 409 `in_use` otherwise."""
    organization.delete_agency(session, agency_id)
    return Response(status_code=204)
