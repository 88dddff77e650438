"""Rating scales: list, create or replace, and per-agency overrides."""

from typing import Annotated

from fastapi import APIRouter, Path

from app.api.deps import AgencyId, WriteSessionDep
from app.core.db import SessionDep
from app.core.errors import problem_schema_responses
from app.core.jsonbody import JSONRoute
from app.core.security import Administrator, requires
from app.core.types import SCALE_CODE_PATTERN
from app.models import Capability
from app.schemas.rating_scales import AgencyScalePut, RatingScalePublic, RatingScalePut
from app.services import rating_scales

router = APIRouter(
    route_class=JSONRoute,
    tags=["rating scales"],
    responses=problem_schema_responses(401, 403, 422),
    dependencies=[requires(Capability.read_definitions)],
)

ScaleCode = Annotated[
    str,
    Path(pattern=SCALE_CODE_PATTERN, description="Scale code", examples=["PERMENDAGRI_86_2017"]),
]


@router.get("/rating-scales", summary="List rating scales", response_model=list[RatingScalePublic])
def list_scales(session: SessionDep) -> list[RatingScalePublic]:
    """Every rating scale, the default marked, with the agencies that override to it."""
    return rating_scales.list_scales(session)


@router.get(
    "/rating-scales/{code}",
    summary="Get a rating scale",
    response_model=RatingScalePublic,
    responses=problem_schema_responses(404),
)
def get_scale(session: SessionDep, code: ScaleCode) -> RatingScalePublic:
    """One rating scale by code."""
    return rating_scales.get_scale(session, code)


@router.put(
    "/rating-scales/{code}",
    summary="Create or replace a rating scale",
    response_model=RatingScalePublic,
)
def put_scale(
    session: WriteSessionDep, _: Administrator, code: ScaleCode, body: RatingScalePut
) -> RatingScalePublic:
    """Create or replace a scale (admin). Bands have inclusive lower bounds; exactly one has
    none and catches the rest. `is_default` makes it the installation's default."""
    return rating_scales.put_scale(session, code, body)


@router.put(
    "/agencies/{agency_id}/rating-scale",
    summary="Set an agency's rating scale",
    response_model=RatingScalePublic | None,
    responses=problem_schema_responses(404),
)
def set_agency_scale(
    session: WriteSessionDep, _: Administrator, agency_id: AgencyId, body: AgencyScalePut
) -> RatingScalePublic | None:
    """Make an agency use a scale other than the default (admin); `null` undoes it."""
    return rating_scales.set_agency_scale(session, agency_id, body.code)
