"""Positions (Jabatan) and each position's IKI document."""

from typing import Annotated

from fastapi import APIRouter, Query, Request, Response

from app.api.deps import (
    CHANGED,
    CREATED,
    AgencyFilter,
    Page,
    UnitFilter,
    WriteSessionDep,
    id_path,
    set_location,
)
from app.core.db import SessionDep
from app.core.errors import problem_schema_responses
from app.core.security import AdminKey
from app.core.types import MAX_YEAR, MIN_YEAR
from app.schemas.common import ListPage
from app.schemas.decrees import IkiDocument
from app.schemas.organization import PositionCreate, PositionPublic, PositionUpdate
from app.services import decrees, organization

router = APIRouter(
    prefix="/positions", tags=["positions"], responses=problem_schema_responses(401, 403, 422)
)
PositionId = Annotated[int, id_path("Position")]


@router.get(
    "",
    summary="List positions",
    response_model=ListPage[PositionPublic],
)
def list_positions(
    session: SessionDep, page: Page, agency: AgencyFilter = None, unit: UnitFilter = None
) -> ListPage[PositionPublic]:
    """Positions (Jabatan) with their duties, functions and activities."""
    return ListPage.of(organization.list_positions(session, page, agency=agency, unit=unit), page)


@router.get(
    "/{position_id}",
    summary="Get a position",
    response_model=PositionPublic,
    responses=problem_schema_responses(404),
)
def get_position(session: SessionDep, position_id: PositionId) -> PositionPublic:
    """One position by id, with its Tugas, Fungsi and Butir Kegiatan."""
    return organization.get_position(session, position_id)


@router.get(
    "/{position_id}/iki",
    summary="Get a position's IKI document",
    response_model=IkiDocument,
    responses=problem_schema_responses(404),
)
def get_position_iki(
    session: SessionDep,
    position_id: PositionId,
    year: Annotated[
        int, Query(ge=MIN_YEAR, le=MAX_YEAR, description="Year of the SK", examples=[2025])
    ],
) -> IkiDocument:
    """The position's IKI for a year as the SK lampiran shows it: its objectives (Sasaran
    Kinerja), each with its indicators, formulas and data sources."""
    return decrees.iki_document(session, position_id, year)


@router.post(
    "",
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
    created = organization.create_position(session, body)
    set_location(request, response, "get_position", position_id=created.id)
    return created


@router.patch(
    "/{position_id}",
    summary="Change a position",
    response_model=PositionPublic,
    responses=CHANGED,
)
def update_position(
    _: AdminKey, session: WriteSessionDep, position_id: PositionId, body: PositionUpdate
) -> PositionPublic:
    """Change a position (admin); fields left out stay, lists are replaced whole."""
    return organization.update_position(session, position_id, body)


@router.delete(
    "/{position_id}",
    summary="Delete a position",
    status_code=204,
    response_class=Response,
    responses=CHANGED,
)
def delete_position(_: AdminKey, session: WriteSessionDep, position_id: PositionId) -> Response:
    """Delete a position without objectives or subordinates (admin)."""
    organization.delete_position(session, position_id)
    return Response(status_code=204)


# Objectives ----------------------------------------------------------------------------------
