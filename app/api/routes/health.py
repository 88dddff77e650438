"""Liveness and readiness probes (open, no key needed)."""

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from sqlalchemy import text

from app.core.db import SessionDep
from app.core.jsonbody import JSONRoute
from app.core.migrations import current_revision, head_revision

router = APIRouter(route_class=JSONRoute, tags=["health"])


class Health(BaseModel):
    """Probe result."""

    status: str = Field(examples=["ok"])
    database: str | None = Field(default=None, examples=["ok"])
    schema_revision: str | None = Field(default=None, examples=["0001"])
    head_revision: str | None = Field(default=None, examples=["0001"])


@router.get("/healthz", summary="Liveness", response_model=Health)
def healthz() -> Health:
    """The process is up. It does not touch the database."""
    return Health(status="ok")


@router.get(
    "/readyz",
    summary="Readiness",
    response_model=Health,
    responses={503: {"model": Health, "description": "Database unreachable or schema not at head"}},
)
def readyz(session: SessionDep) -> Health | JSONResponse:
    """The database answers and its schema is at the latest migration."""
    head = None
    try:
        head = head_revision()
        connection = session.connection()
        connection.execute(text("SELECT 1"))
        current = current_revision(connection)
    except Exception:  # any failure to reach the database means "not ready"
        body = Health(status="unavailable", database="unreachable", head_revision=head)
        return JSONResponse(body.model_dump(), status_code=503)
    if current != head:
        body = Health(
            status="unavailable", database="ok", schema_revision=current, head_revision=head
        )
        return JSONResponse(body.model_dump(), status_code=503)
    return Health(status="ok", database="ok", schema_revision=current, head_revision=head)
