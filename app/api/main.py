"""The `/api/v1` router: every route under it needs an API key."""

from fastapi import APIRouter, Depends

from app.api.deps import refuse_nul_characters
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
    rating_scales,
    realizations,
    targets,
    units,
    variables,
    workbooks,
)
from app.core.security import require_role
from app.models import Role

api_router = APIRouter(
    prefix="/api/v1",
    dependencies=[require_role(Role.reader), Depends(refuse_nul_characters)],
)
for module in (
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
    audit,
    formulas,
    rating_scales,
    workbooks,
):
    api_router.include_router(module.router)
