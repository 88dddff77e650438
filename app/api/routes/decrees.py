"""Decrees (SK) that fix a year's IKI of an agency, and copying one for the next year."""

from fastapi import APIRouter, Request, Response
from fastapi.responses import HTMLResponse

from app.api.deps import (
    CHANGED,
    CREATED,
    AgencyFilter,
    DecreeId,
    Page,
    WriteSessionDep,
    YearFilter,
    set_location,
)
from app.api.documents import (
    DocumentFormat,
    FormatQuery,
    Rendering,
    document_responses,
    negotiate,
)
from app.core.db import SessionDep, release_connection
from app.core.errors import problem_schema_responses
from app.core.jsonbody import JSONRoute
from app.core.security import Administrator, requires
from app.models import Capability
from app.schemas.common import ListPage
from app.schemas.decrees import DecreeCopy, DecreeCreate, DecreePublic, DecreeUpdate
from app.schemas.lint import LintReport
from app.services import decrees, documents, lint

router = APIRouter(
    route_class=JSONRoute,
    prefix="/decrees",
    tags=["decrees"],
    responses=problem_schema_responses(401, 403, 422),
    dependencies=[requires(Capability.read_definitions)],
)


@router.get("", summary="List decrees", response_model=ListPage[DecreePublic])
def list_decrees(
    session: SessionDep, page: Page, agency: AgencyFilter = None, year: YearFilter = None
) -> ListPage[DecreePublic]:
    """SKs of IKI, newest year first."""
    return ListPage.of(decrees.list_decrees(session, page, agency=agency, year=year), page)


@router.get(
    "/{decree_id}",
    summary="Get a decree",
    response_model=DecreePublic,
    responses=problem_schema_responses(404),
)
def get_decree(session: SessionDep, decree_id: DecreeId) -> DecreePublic:
    """One SK by id."""
    return decrees.get_decree(session, decree_id)


@router.get(
    "/{decree_id}/lint",
    summary="Check a decree's definitions",
    response_model=LintReport,
    responses=problem_schema_responses(404),
)
def lint_decree(session: SessionDep, decree_id: DecreeId) -> LintReport:
    """What is wrong or worth knowing in an SK's indicators and its agency's variables: names
    that contradict their formulas, ratios of unlike units, quarterly ratios that read low,
    copied formulas, missing targets or data sources, inferred cascade links; with a stable
    `code`, a severity and a message in Indonesian per finding, and counts per severity."""
    return lint.lint_decree(session, decree_id)


@router.get(
    "/{decree_id}/document",
    summary="Get a decree as a document",
    response_class=HTMLResponse,
    responses=document_responses(),
)
def get_decree_document(
    request: Request, session: SessionDep, decree_id: DecreeId, format: FormatQuery = None
) -> Response:
    """The whole SK as printed: the agency's letterhead, the heading, NOMOR and TENTANG,
    Menimbang, Mengingat, MEMUTUSKAN with each Diktum, the place and date of signing and the
    signatory, then each position's lampiran (the head of the agency first). HTML by default,
    `format=pdf` (or `Accept: application/pdf`) a PDF."""
    chosen = negotiate(request, format, (DocumentFormat.html, DocumentFormat.pdf))
    with Rendering(chosen) as rendering:
        sk = documents.decree_document(session, decree_id)
        release_connection(session)
        return rendering.document("decree.html", f"sk-iki-{sk.decree.year}-{decree_id}", doc=sk)


@router.post(
    "",
    summary="Create a decree",
    status_code=201,
    response_model=DecreePublic,
    responses=CREATED,
)
def create_decree(
    _: Administrator,
    session: WriteSessionDep,
    body: DecreeCreate,
    request: Request,
    response: Response,
) -> DecreePublic:
    """Add an empty SK of IKI for one year of an agency (admin); one per agency and year."""
    created = decrees.create_decree(session, body)
    set_location(request, response, "get_decree", decree_id=created.id)
    return created


@router.patch(
    "/{decree_id}",
    summary="Change a decree",
    response_model=DecreePublic,
    responses=CHANGED,
)
def update_decree(
    _: Administrator, session: WriteSessionDep, decree_id: DecreeId, body: DecreeUpdate
) -> DecreePublic:
    """Change a decree's header (admin); fields left out stay."""
    return decrees.update_decree(session, decree_id, body)


@router.delete(
    "/{decree_id}",
    summary="Delete a decree",
    status_code=204,
    response_class=Response,
    responses=CHANGED,
)
def delete_decree(_: Administrator, session: WriteSessionDep, decree_id: DecreeId) -> Response:
    """Delete a decree without objectives or indicators (admin)."""
    decrees.delete_decree(session, decree_id)
    return Response(status_code=204)


@router.post(
    "/{decree_id}/copy",
    summary="Start next year's decree from this one",
    status_code=201,
    response_model=DecreePublic,
    responses=CHANGED,
)
def copy_decree(
    _: Administrator,
    session: WriteSessionDep,
    decree_id: DecreeId,
    body: DecreeCopy,
    request: Request,
    response: Response,
) -> DecreePublic:
    """Create a decree for another year of the same agency with copies of this one's objectives
    and indicators (codes, formulas, texts, source units, cascade), without targets or data;
    this decree's rows stay untouched (admin)."""
    created = decrees.copy_decree(session, decree_id, body)
    set_location(request, response, "get_decree", decree_id=created.id)
    return created
