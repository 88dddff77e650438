"""The `/api/v1` router: every route under it needs an API key."""

from fastapi import APIRouter

from app.api.routes import indicators, organization
from app.core.security import require_role
from app.models import Role

api_router = APIRouter(prefix="/api/v1", dependencies=[require_role(Role.reader)])
api_router.include_router(organization.router)
api_router.include_router(indicators.router)
