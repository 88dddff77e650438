"""Perjanjian Kinerja targets of an indicator."""

from fastapi import APIRouter

from app.api.deps import IndicatorId, WriteSessionDep, YearPath
from app.core.db import SessionDep
from app.core.errors import problem_schema_responses
from app.core.security import AdminKey, CurrentKey
from app.schemas.targets import TargetsPublic, TargetsPut
from app.services import targets

router = APIRouter(
    prefix="/indicators/{indicator_id}/targets",
    tags=["targets"],
    responses=problem_schema_responses(401, 403, 422),
)


@router.get(
    "/{year}",
    summary="Get an indicator's targets",
    response_model=TargetsPublic,
    responses=problem_schema_responses(404),
)
def get_targets(
    session: SessionDep, _: CurrentKey, indicator_id: IndicatorId, year: YearPath
) -> TargetsPublic:
    """The annual target and the year-to-date targets per quarter set for a year."""
    return targets.get_targets(session, indicator_id, year)


@router.put(
    "/{year}",
    summary="Set an indicator's targets",
    response_model=TargetsPublic,
    responses=problem_schema_responses(404),
)
def put_targets(
    session: WriteSessionDep,
    principal: AdminKey,
    indicator_id: IndicatorId,
    year: YearPath,
    body: TargetsPut,
) -> TargetsPublic:
    """Replace the Perjanjian Kinerja targets of an indicator for a year (admin). A quarter
    target is the target for the year to date at that quarter's end; a quarter without one is
    measured against the annual target."""
    return targets.set_targets(session, principal, indicator_id, year, body)
