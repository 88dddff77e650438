"""Agencies, units and positions (with their IKI document)."""

from typing import Annotated

from fastapi import APIRouter, Path, Query

from app.api.deps import Page
from app.core.db import SessionDep
from app.core.errors import problem_schema_responses
from app.models import ListPage
from app.schemas.definitions import AgencyPublic, IkiDocument, PositionPublic, UnitPublic
from app.services import definitions

router = APIRouter(responses=problem_schema_responses(401, 403, 422))

AgencyFilter = Annotated[str | None, Query(description="Agency code", examples=["DINSOSP3A"])]
UnitFilter = Annotated[str | None, Query(description="Unit code", examples=["BID_PSM"])]


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
def get_agency(
    session: SessionDep, agency_id: Annotated[int, Path(description="Agency id")]
) -> AgencyPublic:
    """One agency by id."""
    return definitions.get_agency(session, agency_id)


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
def get_unit(
    session: SessionDep, unit_id: Annotated[int, Path(description="Unit id")]
) -> UnitPublic:
    """One unit by id."""
    return definitions.get_unit(session, unit_id)


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
def get_position(
    session: SessionDep, position_id: Annotated[int, Path(description="Position id")]
) -> PositionPublic:
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
    position_id: Annotated[int, Path(description="Position id")],
    year: Annotated[int, Query(ge=2000, le=2100, description="Year of the SK", examples=[2025])],
) -> IkiDocument:
    """The position's IKI for a year as the SK lampiran shows it: its objectives (Sasaran
    Kinerja), each with its indicators, formulas and data sources."""
    return definitions.iki_document(session, position_id, year)
