"""The `/api/v1` router: every route under it needs an API key."""

from fastapi import APIRouter, Depends

from app.api.deps import refuse_nul_characters
from app.api.routes import (
    agencies,
    data,
    decrees,
    formulas,
    indicators,
    objectives,
    positions,
    rating_scales,
    units,
    variables,
)
from app.core.security import require_role
from app.models import Role

api_router = APIRouter(
    prefix="/api/v1",
    dependencies=[require_role(Role.reader), Depends(refuse_nul_characters)],
)
for module in (agencies, units, positions, objectives, decrees, indicators, variables):
    api_router.include_router(module.router)
api_router.include_router(data.router)
api_router.include_router(formulas.router)
api_router.include_router(rating_scales.router)
