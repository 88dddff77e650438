"""Realisasi of one indicator per quarter, answered with its achievement."""

from fastapi import APIRouter, Response

from app.api.deps import (
    NO_DECREE_OF_INDICATOR,
    NO_SUCH_ROW,
    IfMatch,
    IndicatorId,
    QuarterPath,
    WriteSessionDep,
    YearPath,
    missing,
)
from app.core.db import SessionDep
from app.core.errors import problem_schema_responses
from app.core.jsonbody import JSONRoute
from app.core.security import DataEntry, DataReader
from app.schemas.achievements import AchievementPublic
from app.schemas.data_values import DataValuesPut, ValueChange
from app.services import data_values
from app.services.data_values import QuarterValues

router = APIRouter(
    route_class=JSONRoute,
    prefix="/indicators/{indicator_id}/realizations",
    tags=["realizations"],
    responses=problem_schema_responses(401, 403, 422),
)


@router.get(
    "/{year}/{quarter}",
    summary="Get an indicator's realization for a quarter",
    response_model=AchievementPublic,
    responses=missing(NO_SUCH_ROW, NO_DECREE_OF_INDICATOR),
)
def get_realization(
    session: SessionDep,
    _: DataReader,
    response: Response,
    indicator_id: IndicatorId,
    year: YearPath,
    quarter: QuarterPath,
) -> AchievementPublic:
    """The indicator's achievement at the quarter, with the values behind it. The ETag
    header is what to send as If-Match when writing this quarter's values."""
    achievement, etag = data_values.read_realization(session, indicator_id, year, quarter)
    response.headers["ETag"] = etag.header
    return achievement


@router.put(
    "/{year}/{quarter}",
    summary="Report an indicator's realization for a quarter",
    response_model=AchievementPublic,
    responses={
        **problem_schema_responses(409, 412),
        **missing(NO_SUCH_ROW, NO_DECREE_OF_INDICATOR),
    },
)
def put_realization(
    session: WriteSessionDep,
    principal: DataEntry,
    response: Response,
    indicator_id: IndicatorId,
    year: YearPath,
    quarter: QuarterPath,
    body: DataValuesPut,
    if_match: IfMatch = None,
) -> AchievementPublic:
    """Write the values of the indicator's variables for the quarter (some or all: values not
    sent stay as they are) and answer the recomputed achievement. Operators may write only the
    variables their units own. Nothing is stored if any value is refused."""
    achievement, etag = data_values.write_realization(
        session, principal, indicator_id, QuarterValues.of(year, quarter, body), if_match=if_match
    )
    response.headers["ETag"] = etag.header
    return achievement


@router.get(
    "/{year}/{quarter}/history",
    summary="The history of an indicator's realization for a quarter",
    response_model=list[ValueChange],
    responses=missing(NO_SUCH_ROW, NO_DECREE_OF_INDICATOR),
)
def get_realization_history(
    session: SessionDep,
    _: DataReader,
    indicator_id: IndicatorId,
    year: YearPath,
    quarter: QuarterPath,
) -> list[ValueChange]:
    """Every value the indicator's variables had for the quarter, oldest first: who set it,
    when, in which request and in which workflow state of its unit's quarter."""
    return data_values.realization_history(session, indicator_id, year, quarter)
