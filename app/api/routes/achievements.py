"""Achievements (capaian): what e-SAKIP pulls, as JSON or CSV."""

from typing import Annotated

from fastapi import APIRouter, Query, Request, Response

from app.api import renderers
from app.api.deps import IndicatorId, Page, Since, VerifiedOnly, YearQuery
from app.core.db import SessionDep
from app.core.errors import problem_schema_responses
from app.core.jsonbody import JSONRoute
from app.core.security import AchievementsReader
from app.core.types import Quarter
from app.schemas.achievements import AchievementPublic
from app.schemas.common import CursorPage
from app.services import achievements
from app.services.changes import Cursor

router = APIRouter(
    route_class=JSONRoute, tags=["achievements"], responses=problem_schema_responses(401, 403, 422)
)


@router.get(
    "/achievements",
    summary="List achievements (capaian)",
    response_model=CursorPage[AchievementPublic],
    responses={
        200: {"content": {"text/csv": {"schema": {"type": "string"}}}},
        304: {"description": "Not modified since the ETag given as If-None-Match"},
    },
)
def list_achievements(
    _: AchievementsReader,
    request: Request,
    session: SessionDep,
    page: Page,
    year: YearQuery,
    quarter: Annotated[
        Quarter, Query(description="s.d. triwulan; 4 (default) is the annual view")
    ] = 4,
    agency: Annotated[str | None, Query(description="Agency code")] = None,
    unit: Annotated[str | None, Query(description="Data-source unit code")] = None,
    position: Annotated[str | None, Query(description="Position code")] = None,
    indicator: Annotated[str | None, Query(description="Indicator code")] = None,
    updated_since: Annotated[
        Since | None,
        Query(
            description="Only indicators whose definition, targets or data changed after "
            "this time (ISO 8601)"
        ),
    ] = None,
    cursor: Annotated[
        str | None,
        Query(
            max_length=32,
            description="The `cursor` of your last pull: only indicators whose achievement may "
            "have changed since, in commit order (never misses a change)",
        ),
    ] = None,
    verified_only: VerifiedOnly = False,
    format: Annotated[
        str | None, Query(pattern="^(json|csv)$", description="json or csv; overrides Accept")
    ] = None,
) -> Response:
    """Achievements of the year up to a quarter, in SK order: the quarter and year-to-date
    realization, the target, the achievement in percent by polarity, the rating and an
    explicit status, with the variable values behind each. Answers a weak ETag; send it back
    as If-None-Match to get 304 when nothing behind the page changed. `Accept: text/csv` (or
    `format=csv`) gives the same rows as CSV."""
    filters = achievements.AchievementFilters(
        year=year,
        agency=agency,
        unit=unit,
        position=position,
        indicator=indicator,
        updated_since=updated_since,
        cursor=Cursor.parse(cursor) if cursor is not None else None,
        verified_only=verified_only,
    )
    found, resume = achievements.list_achievements(session, filters, quarter, page)
    return renderers.achievements_page(request, found, page, resume.token, format)


@router.get(
    "/indicators/{indicator_id}/achievements",
    summary="An indicator's achievements for the four quarters",
    response_model=list[AchievementPublic],
    responses=problem_schema_responses(404),
)
def indicator_achievements(
    session: SessionDep,
    _: AchievementsReader,
    indicator_id: IndicatorId,
    year: YearQuery,
    verified_only: VerifiedOnly = False,
) -> list[AchievementPublic]:
    """Quarters 1 to 4 of one indicator's year, each year to date."""
    return achievements.indicator_year(session, indicator_id, year, verified_only=verified_only)
