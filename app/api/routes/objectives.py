"""Objectives (Sasaran Kinerja) of a position in a decree."""

from typing import Annotated

from fastapi import APIRouter, Query, Request, Response

from app.api.deps import (
    CHANGED,
    CREATED,
    AgencyFilter,
    Page,
    PositionFilter,
    WriteSessionDep,
    YearFilter,
    id_path,
    set_location,
)
from app.core.db import SessionDep
from app.core.errors import problem_schema_responses
from app.core.jsonbody import JSONRoute
from app.core.security import Administrator, requires
from app.core.types import Id
from app.models import Capability
from app.schemas.common import ListPage
from app.schemas.objectives import ObjectiveCreate, ObjectivePublic, ObjectiveUpdate
from app.services import objectives

router = APIRouter(
    route_class=JSONRoute,
    prefix="/objectives",
    tags=["objectives"],
    responses=problem_schema_responses(401, 403, 422),
    dependencies=[requires(Capability.read_definitions)],
)
ObjectiveId = Annotated[Id, id_path("Objective")]


@router.get(
    "",
    summary="List objectives",
    response_model=ListPage[ObjectivePublic],
)
def list_objectives(
    session: SessionDep,
    page: Page,
    decree_id: Annotated[Id | None, Query(description="Decree id")] = None,
    agency: AgencyFilter = None,
    year: YearFilter = None,
    position: PositionFilter = None,
) -> ListPage[ObjectivePublic]:
    """Sasaran Kinerja in SK order, each with the codes of its indicators."""
    return ListPage.of(
        objectives.list_objectives(
            session, page, decree_id=decree_id, agency=agency, year=year, position=position
        ),
        page,
    )


@router.get(
    "/{objective_id}",
    summary="Get an objective",
    response_model=ObjectivePublic,
    responses=problem_schema_responses(404),
)
def get_objective(session: SessionDep, objective_id: ObjectiveId) -> ObjectivePublic:
    """One objective by id."""
    return objectives.get_objective(session, objective_id)


@router.post(
    "",
    summary="Create an objective",
    status_code=201,
    response_model=ObjectivePublic,
    responses=CREATED,
)
def create_objective(
    _: Administrator,
    session: WriteSessionDep,
    body: ObjectiveCreate,
    request: Request,
    response: Response,
) -> ObjectivePublic:
    """Add a Sasaran Kinerja of a position to a decree (admin)."""
    created = objectives.create_objective(session, body)
    set_location(request, response, "get_objective", objective_id=created.id)
    return created


@router.patch(
    "/{objective_id}",
    summary="Change an objective",
    response_model=ObjectivePublic,
    responses=CHANGED,
)
def update_objective(
    _: Administrator, session: WriteSessionDep, objective_id: ObjectiveId, body: ObjectiveUpdate
) -> ObjectivePublic:
    """Change an objective's position, number or statement (admin); fields left out stay."""
    return objectives.update_objective(session, objective_id, body)


@router.delete(
    "/{objective_id}",
    summary="Delete an objective",
    status_code=204,
    response_class=Response,
    responses=CHANGED,
)
def delete_objective(
    _: Administrator, session: WriteSessionDep, objective_id: ObjectiveId
) -> Response:
    """Delete an objective without indicators (admin)."""
    objectives.delete_objective(session, objective_id)
    return Response(status_code=204)
