"""The audit trail: every change, who made it, when, in which request."""

from typing import Annotated

from fastapi import APIRouter, Query

from app.api.deps import Page, Since
from app.core.db import SessionDep
from app.core.errors import problem_schema_responses
from app.core.jsonbody import JSONRoute
from app.core.security import AuditReader
from app.schemas.audit import AuditEventPublic
from app.schemas.common import ListPage
from app.services import audit

router = APIRouter(
    route_class=JSONRoute,
    prefix="/audit",
    tags=["audit"],
    responses=problem_schema_responses(401, 403, 422),
)


@router.get("", summary="List audit events", response_model=ListPage[AuditEventPublic])
def list_audit_events(
    session: SessionDep,
    _: AuditReader,
    page: Page,
    entity: Annotated[
        str | None, Query(max_length=64, description="Kind of record", examples=["data_value"])
    ] = None,
    entity_id: Annotated[str | None, Query(max_length=100, description="The record's id")] = None,
    actor: Annotated[str | None, Query(max_length=100, description="Key name")] = None,
    action: Annotated[
        str | None,
        Query(max_length=32, description="create, update, delete, import, submit, verify ..."),
    ] = None,
    request_id: Annotated[str | None, Query(max_length=128, description="X-Request-ID")] = None,
    since: Annotated[Since | None, Query(description="From this time on (ISO 8601)")] = None,
    until: Annotated[Since | None, Query(description="Before this time (ISO 8601)")] = None,
) -> ListPage[AuditEventPublic]:
    """Every change of the service's records, newest first (verifier, admin). Events are
    never changed nor deleted."""
    return ListPage.of(
        audit.list_events(
            session,
            page,
            entity=entity,
            entity_id=entity_id,
            actor=actor,
            action_name=action,
            request_id=request_id,
            since=since,
            until=until,
        ),
        page,
    )
