"""The `/api/v1` router: every route under it needs an API key, and each route the
capability of what it does (`app.core.security.requires`)."""

from fastapi import APIRouter, Depends
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute

from app.api.deps import refuse_nul_characters, unit_of_work
from app.api.limits import WITH_BODY
from app.api.routes import (
    achievements,
    agencies,
    audit,
    data_values,
    decrees,
    formulas,
    indicators,
    objectives,
    periods,
    positions,
    quality_rules,
    rating_scales,
    realizations,
    seals,
    targets,
    units,
    variables,
    webhooks,
    workbooks,
)
from app.core.errors import problem_schema_responses
from app.core.security import current_principal

api_router = APIRouter(
    prefix="/api/v1",
    dependencies=[Depends(current_principal), Depends(refuse_nul_characters)],
    # Every operation: no or a bad key (401), throttled failed authentication (429), a NUL
    # character or a value out of its bounds (422).
    responses=problem_schema_responses(401, 429, 422),
)


def _writes(dependant: Dependant) -> bool:
    """Whether the operation takes the unit of work (`WriteSessionDep`)."""
    return dependant.call is unit_of_work or any(_writes(d) for d in dependant.dependencies)


def shared_errors(route: APIRoute) -> list[int]:
    """The statuses an operation shares with every other of its kind: a method with a body
    may be too large (413, `RequestGuard`); a body that is parsed may not parse (400); a write
    may meet a conflicting state (409) or a lock held too long (503 busy)."""
    statuses = []
    if (route.methods or set()) & WITH_BODY:
        statuses.append(413)
    if route.body_field is not None:
        statuses.append(400)
    if _writes(route.dependant):
        statuses += [409, 503]
    return statuses


def _document_shared_errors(router: APIRouter) -> APIRouter:
    for route in router.routes:
        if isinstance(route, APIRoute):
            # What the route says itself stays (e.g. a more precise description).
            route.responses = {
                **problem_schema_responses(*shared_errors(route)),
                **route.responses,
            }
    return router


RESOURCES = (
    agencies,
    units,
    positions,
    objectives,
    decrees,
    indicators,
    variables,
    targets,
    realizations,
    data_values,
    achievements,
    periods,
    quality_rules,
    seals,
    webhooks,
    audit,
    formulas,
    rating_scales,
    workbooks,
)
"""The route modules under /api/v1, in the order /docs shows them."""
for module in RESOURCES:
    api_router.include_router(_document_shared_errors(module.router))
