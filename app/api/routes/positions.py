"""Positions (Jabatan) and each position's IKI document."""

from typing import Annotated

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import HTMLResponse, JSONResponse

from app.api.deps import (
    CHANGED,
    CREATED,
    NO_DECREE_OF_AGENCY,
    NO_SUCH_ROW,
    AgencyFilter,
    Page,
    UnitFilter,
    VerifiedOnly,
    WriteSessionDep,
    YearQuery,
    id_path,
    missing,
    set_location,
)
from app.api.documents import (
    DocumentFormat,
    FormatQuery,
    Rendering,
    document_responses,
    negotiate,
    position_report,
)
from app.core.db import SessionDep, release_connection
from app.core.errors import problem_schema_responses
from app.core.jsonbody import JSONRoute
from app.core.security import AchievementsReader, Administrator, requires
from app.core.types import Id, Quarter
from app.models import Capability
from app.schemas.common import ListPage
from app.schemas.documents import IkiDocument
from app.schemas.organization import PositionCreate, PositionPublic, PositionUpdate
from app.services import documents, organization

router = APIRouter(
    route_class=JSONRoute,
    prefix="/positions",
    tags=["positions"],
    responses=problem_schema_responses(401, 403, 422),
    dependencies=[requires(Capability.read_definitions)],
)
PositionId = Annotated[Id, id_path("Position")]


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
    response_model=None,
    responses={
        **document_responses(json_model=IkiDocument),
        **missing(NO_SUCH_ROW, NO_DECREE_OF_AGENCY),
    },
)
def get_position_iki(
    request: Request,
    session: SessionDep,
    position_id: PositionId,
    year: YearQuery,
    format: FormatQuery = None,
) -> Response:
    """The position's IKI for a year as the SK lampiran lays it out: the Jabatan with its
    Tugas, Fungsi and Butir Kegiatan, then each Sasaran Kinerja with its indicators, formulas
    (as fractions) and data sources. A printable HTML page (A4 landscape) by default;
    `format=pdf` (or `Accept: application/pdf`) a PDF; `format=json` (or an Accept naming
    `application/json`) the document as JSON."""
    offered = (DocumentFormat.html, DocumentFormat.pdf, DocumentFormat.json)
    chosen = negotiate(request, format, offered)
    if chosen == DocumentFormat.json:
        return JSONResponse(
            documents.iki_document(session, position_id, year).model_dump(mode="json"),
            headers={"Vary": "Accept"},
        )
    with Rendering(chosen) as rendering:
        sheet = documents.iki_lampiran(session, position_id, year)
        release_connection(session)
        return rendering.document("iki.html", f"iki-{sheet.position_code}-{year}", sheet=sheet)


@router.get(
    "/{position_id}/report",
    summary="Get a position's capaian report",
    response_class=HTMLResponse,
    responses={**document_responses(), **missing(NO_SUCH_ROW, NO_DECREE_OF_AGENCY)},
)
def get_position_report(
    _: AchievementsReader,
    request: Request,
    session: SessionDep,
    position_id: PositionId,
    year: YearQuery,
    quarter: Annotated[Quarter, Query(description="s.d. triwulan (1-4)", examples=[2])],
    format: FormatQuery = None,
    verified_only: VerifiedOnly = False,
) -> Response:
    """The capaian of the position's indicators up to a quarter, to be signed off: per
    indicator the target, the realization of each quarter and of the year to date, the
    capaian (%), its rating, status and verification state, and the data behind it with its
    evidence. HTML by default, `format=pdf` (or `Accept: application/pdf`) a PDF."""
    chosen = negotiate(request, format, (DocumentFormat.html, DocumentFormat.pdf))
    return position_report(session, chosen, position_id, year, quarter, verified_only=verified_only)


@router.post(
    "",
    summary="Create a position",
    status_code=201,
    response_model=PositionPublic,
    responses=CREATED,
)
def create_position(
    _: Administrator,
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
    _: Administrator, session: WriteSessionDep, position_id: PositionId, body: PositionUpdate
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
def delete_position(
    _: Administrator, session: WriteSessionDep, position_id: PositionId
) -> Response:
    """Delete a position without objectives or subordinates (admin)."""
    organization.delete_position(session, position_id)
    return Response(status_code=204)


# Objectives ----------------------------------------------------------------------------------
