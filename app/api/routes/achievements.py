"""Achievements (capaian): what e-SAKIP pulls, as JSON or CSV."""

from typing import Annotated

from fastapi import APIRouter, Query, Request, Response

from app.api import renderers
from app.api.deps import (
    NO_DECREE_AT_ALL,
    NO_DECREE_OF_INDICATOR,
    NO_SUCH_ROW,
    AgencyFilter,
    CursorQuery,
    IndicatorFilter,
    IndicatorId,
    Page,
    PositionFilter,
    Since,
    SourceUnitFilter,
    VerifiedOnly,
    YearQuery,
    missing,
)
from app.core.db import SessionDep
from app.core.errors import problem_schema_responses
from app.core.jsonbody import JSONRoute
from app.core.security import AchievementsReader
from app.core.types import Quarter
from app.schemas.achievements import AchievementPublic
from app.schemas.common import CURSOR_PATTERN, CursorPage
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
        200: {
            "content": {"text/csv": {"schema": {"type": "string"}}},
            "headers": {
                "X-Cursor": {
                    "description": "CSV: the `cursor` of the JSON answer",
                    "schema": {"type": "string", "pattern": CURSOR_PATTERN, "maxLength": 21},
                },
                "X-Total-Count": {
                    "description": "CSV: the `total` of the JSON answer",
                    "schema": {"type": "integer", "minimum": 0},
                },
            },
        },
        304: {"description": "Not modified since the ETag given as If-None-Match"},
        **missing(NO_DECREE_AT_ALL),
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
    agency: AgencyFilter = None,
    unit: SourceUnitFilter = None,
    position: PositionFilter = None,
    indicator: IndicatorFilter = None,
    updated_since: Annotated[
        Since | None,
        Query(
            description="Only indicators whose definition, targets or data changed after "
            "this time (ISO 8601)"
        ),
    ] = None,
    cursor: CursorQuery = None,
    verified_only: VerifiedOnly = False,
    format: Annotated[
        str | None, Query(pattern="^(json|csv)$", description="json or csv; overrides Accept")
    ] = None,
) -> Response:
    """Achievements of the year up to a quarter, in SK order: the quarter and year-to-date
    realization, the target, the achievement in percent by polarity, the rating and an
    explicit status, with the variable values behind each. Answers a weak ETag; send it back
    as If-None-Match to get 304 when nothing behind the page changed. `Accept: text/csv` (or
    `format=csv`) gives the same rows as CSV.

    Incremental pulls: every answer carries a `cursor` (CSV: `X-Cursor`), an opaque token
    that marks where this pull read up to. Keep the first page's, and send it back as
    `cursor` with the same filters next time: the answer lists only the indicators whose
    achievement may have changed since, in commit order (a change may come twice, none is
    missed). A token the service did not give (not `c1-` and up to 18 digits) is refused
    with 422 `validation_error` naming `query.cursor`."""
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
    responses=missing(NO_SUCH_ROW, NO_DECREE_OF_INDICATOR),
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
