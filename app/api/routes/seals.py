"""The seal check: every official figure recomputed and compared with what was sealed."""

from fastapi import APIRouter

from app.api.deps import AgencyFilter, Page, YearFilter
from app.core.db import SessionDep
from app.core.errors import problem_schema_responses
from app.core.jsonbody import JSONRoute
from app.core.security import AuditReader
from app.schemas.achievements import SealCheck
from app.schemas.common import ListPage
from app.services import achievements

router = APIRouter(
    route_class=JSONRoute,
    prefix="/seals",
    tags=["workflow"],
    responses=problem_schema_responses(401, 403, 422),
)


@router.get("/check", summary="Check the sealed figures", response_model=ListPage[SealCheck])
def check_seals(
    _: AuditReader,
    session: SessionDep,
    page: Page,
    year: YearFilter = None,
    agency: AgencyFilter = None,
) -> ListPage[SealCheck]:
    """Recompute a page of the sealed figures (what `verified_only=true` serves), by year,
    indicator and quarter, from the current data and definitions; each says whether it
    `drifted` and in which `fields`. A figure served as verified is the one sealed when its
    quarter was verified; nothing but a new verification or a reopen reseals it, so a drift
    here means a change under a seal that nothing refused. Page through `total` with
    `offset`; `iki seals check` checks every page and lists the drifted figures."""
    return ListPage.of(achievements.check_seals(session, page, year=year, agency=agency), page)
