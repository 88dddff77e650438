"""Webhooks: subscriptions of receivers (e-SAKIP), their secrets, a test event and the
deliveries; and the events themselves, as the OpenAPI document's `webhooks`."""

from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Header, Query, Request, Response
from pydantic import BaseModel

from app.api.deps import (
    CHANGED,
    CREATED,
    AgencyFilter,
    IfMatch,
    Page,
    WriteSessionDep,
    id_path,
    set_location,
)
from app.core.db import SessionDep
from app.core.errors import problem_schema_responses
from app.core.jsonbody import JSONRoute
from app.core.security import requires
from app.core.types import Id
from app.models import Capability, DeliveryState, WebhookEventType
from app.schemas.common import ListPage
from app.schemas.webhooks import (
    EVENT_SCHEMAS,
    WebhookCreate,
    WebhookDeliveryPublic,
    WebhookPublic,
    WebhookUpdate,
    WebhookWithSecret,
)
from app.services import webhooks

router = APIRouter(
    route_class=JSONRoute,
    prefix="/webhooks",
    tags=["webhooks"],
    responses=problem_schema_responses(401, 403, 422),
    dependencies=[requires(Capability.administer)],
)
WebhookId = Annotated[Id, id_path("Webhook")]
DeliveryId = Annotated[Id, id_path("Delivery")]
ETAG = {
    "ETag": {
        "description": "The subscription's version: send it as If-Match to change or delete it",
        "schema": {"type": "string"},
    }
}
NO_STORE = "no-store"
"""An answer carrying a secret is kept by no cache."""


def _secret_answer(response: Response, etag: str) -> None:
    response.headers["ETag"] = etag
    response.headers["Cache-Control"] = NO_STORE


@router.get("", summary="List webhook subscriptions", response_model=ListPage[WebhookPublic])
def list_webhooks(
    session: SessionDep,
    page: Page,
    active: Annotated[bool | None, Query(description="Only active (or inactive) ones")] = None,
    event: Annotated[
        WebhookEventType | None, Query(description="Only those that want this event")
    ] = None,
    agency: AgencyFilter = None,
) -> ListPage[WebhookPublic]:
    """The subscriptions by id, without their secrets (admin)."""
    return ListPage.of(
        webhooks.list_webhooks(session, page, active=active, event=event, agency=agency), page
    )


@router.get(
    "/{webhook_id}",
    summary="Get a webhook subscription",
    response_model=WebhookPublic,
    responses={200: {"headers": ETAG}, **problem_schema_responses(404)},
)
def get_webhook(session: SessionDep, webhook_id: WebhookId, response: Response) -> WebhookPublic:
    """One subscription, without its secret (admin); its ETag is what to send as If-Match
    to change or delete it."""
    found, etag = webhooks.read_webhook(session, webhook_id)
    response.headers["ETag"] = etag.header
    return found


@router.post(
    "",
    summary="Create a webhook subscription",
    status_code=201,
    response_model=WebhookWithSecret,
    responses={201: {"headers": ETAG}, **CREATED},
)
def create_webhook(
    session: WriteSessionDep, body: WebhookCreate, request: Request, response: Response
) -> WebhookWithSecret:
    """Subscribe a receiver to events (admin). The service makes the signing secret and
    answers it this once (`secret`, `whsec_...`): it is never shown again. Every delivery
    is signed with it as Standard Webhooks says (`webhook-id`, `webhook-timestamp`,
    `webhook-signature`). The URL's host must resolve to public addresses only (422
    `unsafe_url` otherwise)."""
    created, etag = webhooks.create_webhook(session, body)
    set_location(request, response, "get_webhook", webhook_id=created.id)
    _secret_answer(response, etag.header)
    return created


@router.patch(
    "/{webhook_id}",
    summary="Change a webhook subscription",
    response_model=WebhookPublic,
    responses={200: {"headers": ETAG}, **CHANGED, **problem_schema_responses(412)},
)
def update_webhook(
    session: WriteSessionDep,
    webhook_id: WebhookId,
    body: WebhookUpdate,
    response: Response,
    if_match: IfMatch = None,
) -> WebhookPublic:
    """Change a subscription's URL, events, filters or active flag (admin); with If-Match,
    only if it is still the version read (412 otherwise). A new URL is checked as at
    creation; a new `agency` without `unit` drops the unit filter."""
    found, etag = webhooks.update_webhook(session, webhook_id, body, if_match)
    response.headers["ETag"] = etag.header
    return found


@router.delete(
    "/{webhook_id}",
    summary="Delete a webhook subscription",
    status_code=204,
    response_class=Response,
    responses={**CHANGED, **problem_schema_responses(412)},
)
def delete_webhook(
    session: WriteSessionDep, webhook_id: WebhookId, if_match: IfMatch = None
) -> Response:
    """Delete a subscription and its deliveries, made or not (admin); with If-Match, only if
    it is still the version read."""
    webhooks.delete_webhook(session, webhook_id, if_match)
    return Response(status_code=204)


@router.post(
    "/{webhook_id}/rotate-secret",
    summary="Rotate a webhook subscription's secret",
    response_model=WebhookWithSecret,
    responses={200: {"headers": ETAG}, **problem_schema_responses(404)},
)
def rotate_webhook_secret(
    session: WriteSessionDep, webhook_id: WebhookId, response: Response
) -> WebhookWithSecret:
    """A new signing secret, answered this once (admin). The previous one keeps signing
    beside it until `previous_secret_until` (WEBHOOK_SECRET_GRACE_HOURS, 24 by default):
    each delivery then carries both signatures, so the receiver can switch to the new
    secret without losing one."""
    rotated, etag = webhooks.rotate_secret(session, webhook_id)
    _secret_answer(response, etag.header)
    return rotated


@router.post(
    "/{webhook_id}/ping",
    summary="Send a test event to a webhook subscription",
    status_code=202,
    response_model=WebhookDeliveryPublic,
    responses=problem_schema_responses(404),
)
def ping_webhook(session: WriteSessionDep, webhook_id: WebhookId) -> WebhookDeliveryPublic:
    """Put a `ping` event in the outbox for this subscription only (admin); the answer is
    its delivery, due now (follow it in `.../deliveries`). 409 when the subscription is not
    active."""
    return webhooks.ping(session, webhook_id)


@router.get(
    "/{webhook_id}/deliveries",
    summary="List a webhook subscription's deliveries",
    response_model=ListPage[WebhookDeliveryPublic],
    responses=problem_schema_responses(404),
)
def list_webhook_deliveries(
    session: SessionDep,
    webhook_id: WebhookId,
    page: Page,
    state: Annotated[
        DeliveryState | None, Query(description="Only deliveries in this state")
    ] = None,
) -> ListPage[WebhookDeliveryPublic]:
    """Each event posted (or to be posted) to the subscription, newest first (admin): the
    event, its state, the attempts made, when the next is due, and the last answer's
    status code, latency and first 200 characters."""
    return ListPage.of(webhooks.list_deliveries(session, webhook_id, page, state=state), page)


@router.post(
    "/{webhook_id}/deliveries/{delivery_id}/redeliver",
    summary="Send a webhook delivery again",
    status_code=202,
    response_model=WebhookDeliveryPublic,
    responses=problem_schema_responses(404, 409),
)
def redeliver_webhook_delivery(
    session: WriteSessionDep, webhook_id: WebhookId, delivery_id: DeliveryId
) -> WebhookDeliveryPublic:
    """Send a delivery again, delivered or failed (admin): it is due now, with a new day of
    retries, and keeps its `webhook-id`. It goes back to the head of its lane: the lane's
    later events wait for it. 409 while it is pending or in flight (it will be sent
    anyway), or when the subscription is not active."""
    return webhooks.redeliver(session, webhook_id, delivery_id)


# The events, as receivers are posted them ----------------------------------------------------

_RECEIVED: dict[int | str, dict[str, Any]] = {
    "200": {"description": "Any 2xx: delivered (the body of the answer is not read)"},
    "410": {"description": "Gone: the subscription is set inactive, nothing more is sent"},
    "429": {"description": "Too many requests (as 503): retried after `Retry-After`"},
    "default": {
        "description": "Anything else, or no answer in time: retried with exponential "
        "backoff for about a day, then the delivery is `failed`"
    },
}
_DESCRIPTIONS = {
    "period.submitted": "A unit's quarter was submitted for verification.",
    "period.verified": "A unit's quarter was verified: its figures are official.",
    "period.returned": "A unit's quarter was returned to its operators (`note`: what to fix).",
    "period.reopened": "A verified quarter was reopened (`note`: why): its figures are no "
    "longer official until it is verified again.",
    "achievements.verified": "A unit's quarter was verified: its verified capaian, as "
    "`GET /api/v1/achievements?year=&quarter=&unit=&verified_only=true` answers them, with "
    "the pull's `cursor`, so that no call back is needed. More than WEBHOOK_PAGE_SIZE "
    "(200) items are split into pages, each an event of its own, posted in order "
    "(`page` of `pages`).",
    "ping": "A test event, sent by `POST /api/v1/webhooks/{id}/ping`.",
}
_HOW = (
    "\n\nPosted as JSON in Standard Webhooks' envelope (`type`, `timestamp`, `data`), signed "
    "with the subscription's secret: verify `webhook-signature` over `webhook-id`, "
    "`webhook-timestamp` and the body (e.g. `standardwebhooks.Webhook(secret).verify(body, "
    "headers)`). Delivered at least once, in commit order per subscription and agency: a "
    "receiver is idempotent on `webhook-id`, which every retry of the event repeats."
)


def _receiver(kind: str, model: type[BaseModel]) -> Callable[..., Any]:
    def receive(
        body: model,  # type: ignore[valid-type]
        webhook_id: Annotated[
            str, Header(alias="webhook-id", description="The event's id: the same on retries")
        ],
        webhook_timestamp: Annotated[
            int, Header(alias="webhook-timestamp", description="Seconds since the epoch")
        ],
        webhook_signature: Annotated[
            str,
            Header(
                alias="webhook-signature",
                description="`v1,<base64 HMAC-SHA256>`, one per signing secret, "
                "space-separated (two during a rotation's grace period)",
            ),
        ],
    ) -> None:
        """Documentation only: the service posts this to subscribers."""

    receive.__name__ = kind.replace(".", "_")
    return receive


def document_events(events: APIRouter) -> None:
    """Describe each event a subscriber is posted as an OpenAPI 3.1 webhook of
    `events` (the app's `webhooks`)."""
    for kind, model in EVENT_SCHEMAS.items():
        events.post(
            kind,
            summary=kind,
            operation_id=kind.replace(".", "_"),
            description=_DESCRIPTIONS[kind] + _HOW,
            responses=_RECEIVED,
            status_code=200,
            tags=["webhooks"],
        )(_receiver(kind, model))
