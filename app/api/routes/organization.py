"""Agencies, units, positions (with their IKI document) and their objectives."""

from typing import Annotated

from fastapi import APIRouter, Query, Request, Response

from app.api.deps import Page, id_path, set_location
from app.core.db import SessionDep, WriteSessionDep
from app.core.errors import problem_schema_responses
from app.core.security import AdminKey
from app.core.types import MAX_ID
from app.schemas.authoring import (
    AgencyCreate,
    AgencyUpdate,
    ObjectiveCreate,
    ObjectiveUpdate,
    PositionCreate,
    PositionUpdate,
    UnitCreate,
    UnitUpdate,
)
from app.schemas.common import ListPage
from app.schemas.definitions import (
    AgencyPublic,
    IkiDocument,
    ObjectivePublic,
    PositionPublic,
    UnitPublic,
)
from app.services import authoring, definitions

router = APIRouter(responses=problem_schema_responses(401, 403, 422))

AgencyFilter = Annotated[str | None, Query(description="Agency code", examples=["DINSOSP3A"])]
UnitFilter = Annotated[str | None, Query(description="Unit code", examples=["BID_PSM"])]
AgencyId = Annotated[int, id_path("Agency")]
UnitId = Annotated[int, id_path("Unit")]
PositionId = Annotated[int, id_path("Position")]
ObjectiveId = Annotated[int, id_path("Objective")]

CREATED = problem_schema_responses(409)
CHANGED = problem_schema_responses(404, 409)


@router.get(
    "/agencies", tags=["agencies"], summary="List agencies", response_model=ListPage[AgencyPublic]
)
def list_agencies(session: SessionDep, page: Page) -> ListPage[AgencyPublic]:
    """Every agency (Perangkat Daerah) the service holds, by code."""
    items, total = definitions.list_agencies(session, page)
    return ListPage(items=items, total=total, limit=page.limit, offset=page.offset)


@router.get(
    "/agencies/{agency_id}",
    tags=["agencies"],
    summary="Get an agency",
    response_model=AgencyPublic,
    responses=problem_schema_responses(404),
)
def get_agency(session: SessionDep, agency_id: AgencyId) -> AgencyPublic:
    """One agency by id."""
    return definitions.get_agency(session, agency_id)


@router.post(
    "/agencies",
    tags=["agencies"],
    summary="Create an agency",
    status_code=201,
    response_model=AgencyPublic,
    responses=CREATED,
)
def create_agency(
    _: AdminKey, session: WriteSessionDep, body: AgencyCreate, request: Request, response: Response
) -> AgencyPublic:
    """Add a Perangkat Daerah (admin)."""
    created = authoring.create_agency(session, body)
    set_location(request, response, "get_agency", agency_id=created.id)
    return created


@router.patch(
    "/agencies/{agency_id}",
    tags=["agencies"],
    summary="Change an agency",
    response_model=AgencyPublic,
    responses=CHANGED,
)
def update_agency(
    _: AdminKey, session: WriteSessionDep, agency_id: AgencyId, body: AgencyUpdate
) -> AgencyPublic:
    """Change an agency's code, name or contact details (admin); fields left out stay."""
    updated = authoring.update_agency(session, agency_id, body)
    return updated


@router.delete(
    "/agencies/{agency_id}",
    tags=["agencies"],
    summary="Delete an agency",
    status_code=204,
    response_class=Response,
    responses=CHANGED,
)
def delete_agency(_: AdminKey, session: WriteSessionDep, agency_id: AgencyId) -> Response:
    """Delete an agency that nothing refers to any more (admin); 409 `in_use` otherwise."""
    authoring.delete_agency(session, agency_id)
    return Response(status_code=204)


@router.get("/units", tags=["units"], summary="List units", response_model=ListPage[UnitPublic])
def list_units(
    session: SessionDep, page: Page, agency: AgencyFilter = None
) -> ListPage[UnitPublic]:
    """Bidang, Sekretariat and UPTD, optionally of one agency."""
    items, total = definitions.list_units(session, page, agency=agency)
    return ListPage(items=items, total=total, limit=page.limit, offset=page.offset)


@router.get(
    "/units/{unit_id}",
    tags=["units"],
    summary="Get a unit",
    response_model=UnitPublic,
    responses=problem_schema_responses(404),
)
def get_unit(session: SessionDep, unit_id: UnitId) -> UnitPublic:
    """One unit by id."""
    return definitions.get_unit(session, unit_id)


@router.post(
    "/units",
    tags=["units"],
    summary="Create a unit",
    status_code=201,
    response_model=UnitPublic,
    responses=CREATED,
)
def create_unit(
    _: AdminKey, session: WriteSessionDep, body: UnitCreate, request: Request, response: Response
) -> UnitPublic:
    """Add a Bidang, Sekretariat or UPTD to an agency (admin)."""
    created = authoring.create_unit(session, body)
    set_location(request, response, "get_unit", unit_id=created.id)
    return created


@router.patch(
    "/units/{unit_id}",
    tags=["units"],
    summary="Change a unit",
    response_model=UnitPublic,
    responses=CHANGED,
)
def update_unit(
    _: AdminKey, session: WriteSessionDep, unit_id: UnitId, body: UnitUpdate
) -> UnitPublic:
    """Change a unit's code or name (admin); fields left out stay."""
    updated = authoring.update_unit(session, unit_id, body)
    return updated


@router.delete(
    "/units/{unit_id}",
    tags=["units"],
    summary="Delete a unit",
    status_code=204,
    response_class=Response,
    responses=CHANGED,
)
def delete_unit(_: AdminKey, session: WriteSessionDep, unit_id: UnitId) -> Response:
    """Delete a unit that owns no variable, heads no position, is no indicator's Sumber Data
    and scopes no key (admin)."""
    authoring.delete_unit(session, unit_id)
    return Response(status_code=204)


@router.get(
    "/positions",
    tags=["positions"],
    summary="List positions",
    response_model=ListPage[PositionPublic],
)
def list_positions(
    session: SessionDep, page: Page, agency: AgencyFilter = None, unit: UnitFilter = None
) -> ListPage[PositionPublic]:
    """Positions (Jabatan) with their duties, functions and activities."""
    items, total = definitions.list_positions(session, page, agency=agency, unit=unit)
    return ListPage(items=items, total=total, limit=page.limit, offset=page.offset)


@router.get(
    "/positions/{position_id}",
    tags=["positions"],
    summary="Get a position",
    response_model=PositionPublic,
    responses=problem_schema_responses(404),
)
def get_position(session: SessionDep, position_id: PositionId) -> PositionPublic:
    """One position by id, with its Tugas, Fungsi and Butir Kegiatan."""
    return definitions.get_position(session, position_id)


@router.get(
    "/positions/{position_id}/iki",
    tags=["positions"],
    summary="Get a position's IKI document",
    response_model=IkiDocument,
    responses=problem_schema_responses(404),
)
def get_position_iki(
    session: SessionDep,
    position_id: PositionId,
    year: Annotated[int, Query(ge=2000, le=2100, description="Year of the SK", examples=[2025])],
) -> IkiDocument:
    """The position's IKI for a year as the SK lampiran shows it: its objectives (Sasaran
    Kinerja), each with its indicators, formulas and data sources."""
    return definitions.iki_document(session, position_id, year)


@router.post(
    "/positions",
    tags=["positions"],
    summary="Create a position",
    status_code=201,
    response_model=PositionPublic,
    responses=CREATED,
)
def create_position(
    _: AdminKey,
    session: WriteSessionDep,
    body: PositionCreate,
    request: Request,
    response: Response,
) -> PositionPublic:
    """Add a Jabatan to an agency, with its unit and superior given by code (admin)."""
    created = authoring.create_position(session, body)
    set_location(request, response, "get_position", position_id=created.id)
    return created


@router.patch(
    "/positions/{position_id}",
    tags=["positions"],
    summary="Change a position",
    response_model=PositionPublic,
    responses=CHANGED,
)
def update_position(
    _: AdminKey, session: WriteSessionDep, position_id: PositionId, body: PositionUpdate
) -> PositionPublic:
    """Change a position (admin); fields left out stay, lists are replaced whole."""
    updated = authoring.update_position(session, position_id, body)
    return updated


@router.delete(
    "/positions/{position_id}",
    tags=["positions"],
    summary="Delete a position",
    status_code=204,
    response_class=Response,
    responses=CHANGED,
)
def delete_position(_: AdminKey, session: WriteSessionDep, position_id: PositionId) -> Response:
    """Delete a position without objectives or subordinates (admin)."""
    authoring.delete_position(session, position_id)
    return Response(status_code=204)


# Objectives ----------------------------------------------------------------------------------


@router.get(
    "/objectives",
    tags=["objectives"],
    summary="List objectives",
    response_model=ListPage[ObjectivePublic],
)
def list_objectives(
    session: SessionDep,
    page: Page,
    decree_id: Annotated[int | None, Query(ge=1, le=MAX_ID, description="Decree id")] = None,
    agency: AgencyFilter = None,
    year: Annotated[int | None, Query(ge=2000, le=2100, description="Year of the SK")] = None,
    position: Annotated[str | None, Query(description="Position code", examples=["KADIS"])] = None,
) -> ListPage[ObjectivePublic]:
    """Sasaran Kinerja in SK order, each with the codes of its indicators."""
    items, total = definitions.list_objectives(
        session, page, decree_id=decree_id, agency=agency, year=year, position=position
    )
    return ListPage(items=items, total=total, limit=page.limit, offset=page.offset)


@router.get(
    "/objectives/{objective_id}",
    tags=["objectives"],
    summary="Get an objective",
    response_model=ObjectivePublic,
    responses=problem_schema_responses(404),
)
def get_objective(session: SessionDep, objective_id: ObjectiveId) -> ObjectivePublic:
    """One objective by id."""
    return definitions.get_objective(session, objective_id)


@router.post(
    "/objectives",
    tags=["objectives"],
    summary="Create an objective",
    status_code=201,
    response_model=ObjectivePublic,
    responses=CREATED,
)
def create_objective(
    _: AdminKey,
    session: WriteSessionDep,
    body: ObjectiveCreate,
    request: Request,
    response: Response,
) -> ObjectivePublic:
    """Add a Sasaran Kinerja of a position to a decree (admin)."""
    created = authoring.create_objective(session, body)
    set_location(request, response, "get_objective", objective_id=created.id)
    return created


@router.patch(
    "/objectives/{objective_id}",
    tags=["objectives"],
    summary="Change an objective",
    response_model=ObjectivePublic,
    responses=CHANGED,
)
def update_objective(
    _: AdminKey, session: WriteSessionDep, objective_id: ObjectiveId, body: ObjectiveUpdate
) -> ObjectivePublic:
    """Change an objective's position, number or statement (admin); fields left out stay."""
    updated = authoring.update_objective(session, objective_id, body)
    return updated


@router.delete(
    "/objectives/{objective_id}",
    tags=["objectives"],
    summary="Delete an objective",
    status_code=204,
    response_class=Response,
    responses=CHANGED,
)
def delete_objective(_: AdminKey, session: WriteSessionDep, objective_id: ObjectiveId) -> Response:
    """Delete an objective without indicators (admin)."""
    authoring.delete_objective(session, objective_id)
    return Response(status_code=204)
