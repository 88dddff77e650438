"""Data-quality rules written by people: `left operator right` over an agency's variables."""

from typing import Annotated

from fastapi import APIRouter, Query, Request, Response

from app.api.deps import (
    CHANGED,
    CREATED,
    AgencyFilter,
    IfMatch,
    Page,
    TextFilter,
    WriteSessionDep,
    id_path,
    set_location,
)
from app.core.db import SessionDep
from app.core.errors import problem_schema_responses
from app.core.jsonbody import JSONRoute
from app.core.security import Administrator, requires
from app.core.types import Id
from app.models import Capability
from app.quality import RulePeriod, Severity
from app.schemas.common import ListPage
from app.schemas.quality import QualityRuleCreate, QualityRulePublic, QualityRuleUpdate
from app.services import quality_rules

router = APIRouter(
    route_class=JSONRoute,
    prefix="/quality-rules",
    tags=["quality rules"],
    responses=problem_schema_responses(401, 403, 422),
    dependencies=[requires(Capability.read_definitions)],
)
RuleId = Annotated[Id, id_path("Quality rule")]
ETAG = {
    "ETag": {
        "description": "The rule's version: send it as If-Match to change or delete it",
        "schema": {"type": "string"},
    }
}


@router.get("", summary="List quality rules", response_model=ListPage[QualityRulePublic])
def list_quality_rules(
    session: SessionDep,
    page: Page,
    agency: AgencyFilter = None,
    variable: Annotated[
        str | None,
        Query(max_length=64, description="Only rules whose sides use this variable code"),
    ] = None,
    severity: Annotated[Severity | None, Query(description="Only rules of this severity")] = None,
    period: Annotated[RulePeriod | None, Query(description="Only rules of this period")] = None,
    q: TextFilter = None,
) -> ListPage[QualityRulePublic]:
    """The rules each unit's quarter is checked against (besides the built-in checks), by
    agency and code."""
    return ListPage.of(
        quality_rules.list_rules(
            session,
            page,
            agency=agency,
            variable=variable,
            severity=severity,
            period=period,
            q=q,
        ),
        page,
    )


@router.get(
    "/{rule_id}",
    summary="Get a quality rule",
    response_model=QualityRulePublic,
    responses={200: {"headers": ETAG}, **problem_schema_responses(404)},
)
def get_quality_rule(session: SessionDep, rule_id: RuleId, response: Response) -> QualityRulePublic:
    """One rule by id; its ETag is what to send as If-Match to change or delete it."""
    rule, etag = quality_rules.read_rule(session, rule_id)
    response.headers["ETag"] = etag.header
    return rule


@router.post(
    "",
    summary="Create a quality rule",
    status_code=201,
    response_model=QualityRulePublic,
    responses={201: {"headers": ETAG}, **CREATED},
)
def create_quality_rule(
    _: Administrator,
    session: WriteSessionDep,
    body: QualityRuleCreate,
    request: Request,
    response: Response,
) -> QualityRulePublic:
    """Add a rule to an agency (admin). Each side is an expression in the formula language
    over the agency's variable codes, checked as a formula is (422 `invalid_formula` with
    the same `formula_error` codes)."""
    created, etag = quality_rules.create_rule(session, body)
    set_location(request, response, "get_quality_rule", rule_id=created.id)
    response.headers["ETag"] = etag.header
    return created


@router.patch(
    "/{rule_id}",
    summary="Change a quality rule",
    response_model=QualityRulePublic,
    responses={200: {"headers": ETAG}, **CHANGED, **problem_schema_responses(412)},
)
def update_quality_rule(
    _: Administrator,
    session: WriteSessionDep,
    rule_id: RuleId,
    body: QualityRuleUpdate,
    response: Response,
    if_match: IfMatch = None,
) -> QualityRulePublic:
    """Change a rule (admin); with If-Match, only if it is still the version read (412
    otherwise). The findings kept with quarters already submitted or verified stay as they
    were seen."""
    rule, etag = quality_rules.update_rule(session, rule_id, body, if_match)
    response.headers["ETag"] = etag.header
    return rule


@router.delete(
    "/{rule_id}",
    summary="Delete a quality rule",
    status_code=204,
    response_class=Response,
    responses={**CHANGED, **problem_schema_responses(412)},
)
def delete_quality_rule(
    _: Administrator, session: WriteSessionDep, rule_id: RuleId, if_match: IfMatch = None
) -> Response:
    """Delete a rule (admin); with If-Match, only if it is still the version read."""
    quality_rules.delete_rule(session, rule_id, if_match)
    return Response(status_code=204)
