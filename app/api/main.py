"""The `/api/v1` router: every route under it needs an API key."""

from fastapi import APIRouter, Depends

from app.api.deps import refuse_nul_characters
from app.api.routes import (
    achievements,
    data_values,
    formulas,
    indicators,
    organization,
    rating_scales,
    realizations,
    targets,
)
from app.core.security import require_role
from app.models import Role

api_router = APIRouter(
    prefix="/api/v1",
    dependencies=[require_role(Role.reader), Depends(refuse_nul_characters)],
)
api_router.include_router(organization.router)
api_router.include_router(indicators.router)
api_router.include_router(targets.router)
api_router.include_router(realizations.router)
api_router.include_router(data_values.router)
api_router.include_router(achievements.router)
api_router.include_router(formulas.router)
api_router.include_router(rating_scales.router)
