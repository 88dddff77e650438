"""Perjanjian Kinerja targets: of an indicator, or of many indicators at once."""

from typing import Annotated

from fastapi import APIRouter, Body

from app.api.deps import (
    NO_DECREE_AT_ALL,
    NO_DECREE_OF_INDICATOR,
    NO_SUCH_ROW,
    IndicatorId,
    WriteSessionDep,
    YearPath,
    missing,
)
from app.core.db import SessionDep
from app.core.errors import problem_schema_responses
from app.core.jsonbody import JSONRoute
from app.core.security import Administrator, DefinitionsReader
from app.schemas.targets import (
    MAX_INDICATORS,
    IndicatorTargetsPut,
    TargetsPublic,
    TargetsPut,
    TargetsWritten,
)
from app.services import targets

router = APIRouter(
    route_class=JSONRoute, tags=["targets"], responses=problem_schema_responses(401, 403, 422)
)


@router.get(
    "/indicators/{indicator_id}/targets/{year}",
    summary="Get an indicator's targets",
    response_model=TargetsPublic,
    responses=missing(NO_SUCH_ROW, NO_DECREE_OF_INDICATOR),
)
def get_targets(
    session: SessionDep, _: DefinitionsReader, indicator_id: IndicatorId, year: YearPath
) -> TargetsPublic:
    """The annual target and the year-to-date targets per quarter set for a year."""
    return targets.get_targets(session, indicator_id, year)


@router.put(
    "/indicators/{indicator_id}/targets/{year}",
    summary="Set an indicator's targets",
    response_model=TargetsPublic,
    responses=missing(NO_SUCH_ROW, NO_DECREE_OF_INDICATOR),
)
def put_targets(
    session: WriteSessionDep,
    principal: Administrator,
    indicator_id: IndicatorId,
    year: YearPath,
    body: TargetsPut,
) -> TargetsPublic:
    """Replace the Perjanjian Kinerja targets of an indicator for a year (admin). A quarter
    target is the target for the year to date at that quarter's end; a quarter without one is
    measured against the annual target."""
    return targets.set_targets(session, principal, indicator_id, year, body)


@router.put(
    "/targets/{year}",
    summary="Set the targets of many indicators",
    response_model=TargetsWritten,
    responses=problem_schema_responses(
        404,
        409,
        422,
        descriptions={
            404: NO_DECREE_AT_ALL,
            409: "`targets_rejected`: every refused item would change the target of a "
            "verified quarter (`errors` names them); nothing was stored",
            422: "Invalid input, or `targets_rejected`: some items name no indicator of the "
            "year's SK (`unknown_indicator`, `other_year`), or one named before (`errors` "
            "names them); nothing was stored",
        },
    ),
)
def put_many_targets(
    session: WriteSessionDep,
    principal: Administrator,
    year: YearPath,
    body: Annotated[list[IndicatorTargetsPut], Body(max_length=MAX_INDICATORS)],
) -> TargetsWritten:
    """Replace the Perjanjian Kinerja targets for a year of many indicators at once (admin),
    all or nothing: e.g. the rows of a Perjanjian Kinerja spreadsheet, one item per indicator.

    Each item names its indicator by `indicator_id`, or by its code `indicator` (`KADIS.1.1`)
    in the agency's SK of the year with the agency's code `agency` (which may be left out
    when the service holds one agency), and gives `annual` and `quarters` as the PUT of one
    indicator does, with the same rules: its targets not given are removed, and a target
    that a verified quarter is measured against cannot change. At most 10,000 items, each
    indicator once.

    If any item is refused, nothing is stored and the answer is a `targets_rejected`
    problem whose `errors` name each refused item by its 0-based `index` and its indicator
    (the first 1000; `rejected` counts them all): 409 when each one would change the target
    of a verified quarter, else 422."""
    return targets.set_many_targets(session, principal, year, body)
