"""The seal check: every official figure recomputed and compared with what was sealed."""

from fastapi import APIRouter

from app.api.deps import AgencyFilter, YearFilter
from app.core.db import SessionDep
from app.core.errors import problem_schema_responses
from app.core.jsonbody import JSONRoute
from app.core.security import AuditReader
from app.schemas.achievements import SealCheck
from app.services import achievements

router = APIRouter(
    route_class=JSONRoute,
    prefix="/seals",
    tags=["workflow"],
    responses=problem_schema_responses(401, 403, 422),
)


@router.get("/check", summary="Check the sealed figures", response_model=SealCheck)
def check_seals(
    _: AuditReader, session: SessionDep, year: YearFilter = None, agency: AgencyFilter = None
) -> SealCheck:
    """Recompute every sealed figure (what `verified_only=true` serves) from the current
    data and definitions and list those that differ, field by field. A figure served as
    verified is the one sealed when its quarter was verified; nothing but a new verification
    or a reopen reseals it, so a drift here means a change under a seal that nothing
    refused. The same check runs as `iki seals check`."""
    checked, drifted = achievements.drift(session, year=year, agency=agency)
    return SealCheck(checked=checked, drifted=drifted)
