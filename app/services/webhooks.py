"""Webhooks: subscriptions (list, get, create, change, delete, rotate the secret, ping), the
outbox that each workflow step writes its events to in its own transaction, the deliveries
of a subscription, and the query a dispatcher claims due deliveries with.

A subscription is a principal of its own (`PrincipalKind.subscription`) that may read
capaian and the state of quarters only (`SUBSCRIPTION_CAPABILITIES`): an event is written
for it only when it may read what the event carries, and never of an agency or unit its
filters leave out. Its secret is shown once (at creation and at each rotation) and is
never in an answer, a log or the audit trail after that (`audit.SECRET_COLUMNS`).
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy import and_, delete, func, or_
from sqlmodel import Session, col, select
from sqlmodel.sql.expression import SelectOfScalar

from app.core.config import get_settings
from app.core.db import utcnow
from app.core.errors import Conflict, NotFound
from app.core.etag import ETag
from app.core.security import Principal, PrincipalKind
from app.models import (
    Agency,
    Capability,
    Role,
    Unit,
    WebhookDelivery,
    WebhookEvent,
    WebhookEventType,
    WebhookSubscription,
)
from app.models.webhooks import OPEN_STATES, PING, DeliveryState, WebhookSubscriptionBase
from app.schemas.common import PageParams
from app.schemas.organization import AgencyRef, UnitRef
from app.schemas.webhooks import (
    WebhookCreate,
    WebhookDeliveryPublic,
    WebhookPublic,
    WebhookUpdate,
    WebhookWithSecret,
)
from app.schemas.workflow import PeriodPublic, Step
from app.services import achievements, audit
from app.services.achievements import AchievementFilters
from app.services.common import (
    apply_changes,
    by_id,
    delete_rows,
    get_or_404,
    id_of,
    paginate,
    resolve_agency,
    unit_id,
)
from app.services.webhook_secrets import encrypt, generate_secret
from app.services.webhook_urls import check_url

LABEL = "Webhook"

STEP_EVENTS: dict[Step, WebhookEventType] = {
    Step.submit: WebhookEventType.period_submitted,
    Step.verify: WebhookEventType.period_verified,
    Step.return_: WebhookEventType.period_returned,
    Step.reopen: WebhookEventType.period_reopened,
}
"""The event each workflow step writes (a verify writes `achievements.verified` too)."""

READS: dict[WebhookEventType, Capability] = dict.fromkeys(
    WebhookEventType, Capability.read_achievements
)
"""What a subscription must be allowed to read to be told of each event: a quarter's state
and its capaian are read with `read_achievements` (`GET /periods`, `GET /achievements`)."""


def subscription_principal(subscription: WebhookSubscription) -> Principal:
    """The principal a subscription reads as (its role is shown as `viewer`; what it may
    read is `SUBSCRIPTION_CAPABILITIES`)."""
    ident = id_of(subscription)
    return Principal(PrincipalKind.subscription, ident, f"webhook {ident}", Role.viewer)


# Subscriptions ---------------------------------------------------------------------------------


def _views(session: Session, rows: Sequence[WebhookSubscription]) -> list[WebhookPublic]:
    agencies = by_id(session, Agency, {r.agency_id for r in rows if r.agency_id})
    units = by_id(session, Unit, {r.unit_id for r in rows if r.unit_id})
    return [
        WebhookPublic.model_validate(
            row,
            update={
                "agency": AgencyRef.model_validate(agencies[row.agency_id])
                if row.agency_id
                else None,
                "unit": UnitRef.model_validate(units[row.unit_id]) if row.unit_id else None,
            },
        )
        for row in rows
    ]


def _with_secret(view: WebhookPublic, secret: str) -> WebhookWithSecret:
    return WebhookWithSecret.model_validate(view.model_dump() | {"secret": secret})


def etag(row: WebhookSubscription) -> ETag:
    """The ETag of a subscription as stored: to send back as If-Match to change or delete
    it (a rotation of its secret changes it too)."""
    fields = [getattr(row, name) for name in WebhookSubscriptionBase.model_fields]
    return ETag.of([row.id, *fields, row.agency_id, row.unit_id, row.updated_at.isoformat()])


def list_webhooks(
    session: Session,
    page: PageParams,
    *,
    active: bool | None = None,
    event: WebhookEventType | None = None,
    agency: str | None = None,
) -> tuple[list[WebhookPublic], int]:
    """Subscriptions by id, filtered; `event`: those that want it."""
    query = select(WebhookSubscription)
    if active is not None:
        query = query.where(WebhookSubscription.active == active)
    if agency:
        query = query.join(Agency, col(Agency.id) == col(WebhookSubscription.agency_id)).where(
            Agency.code == agency
        )
    rows = list(session.exec(query.order_by(col(WebhookSubscription.id))))
    if event is not None:  # a JSON list: read, not searched (subscriptions are few)
        rows = [r for r in rows if event in r.events]
    return _views(session, rows[page.offset : page.offset + page.limit]), len(rows)


def read_webhook(session: Session, webhook_id: int) -> tuple[WebhookPublic, ETag]:
    """One subscription (without its secret), and its ETag."""
    row = get_or_404(session, WebhookSubscription, webhook_id, LABEL)
    return _views(session, [row])[0], etag(row)


def _filters(
    session: Session, agency_code: str | None, unit_code: str | None
) -> tuple[int | None, int | None]:
    """The agency and unit ids a subscription's filters name (422 for an unknown one); a
    unit filter is of its agency, which may be left out when the service holds one."""
    if unit_code is not None:
        agency = resolve_agency(session, agency_code)
        return id_of(agency), unit_id(session, agency, unit_code, "unit")
    if agency_code is not None:
        return id_of(resolve_agency(session, agency_code)), None
    return None, None


def create_webhook(session: Session, data: WebhookCreate) -> tuple[WebhookWithSecret, ETag]:
    """A new subscription with a new secret: the subscription with its secret (answered
    this once), and its ETag. Its URL must resolve to public addresses only."""
    check_url(data.url)
    agency_id, unit_of_filter = _filters(session, data.agency, data.unit)
    secret = generate_secret()
    row = WebhookSubscription.model_validate(
        data,
        update={
            "agency_id": agency_id,
            "unit_id": unit_of_filter,
            "secret_encrypted": encrypt(secret),
        },
    )
    session.add(row)
    session.flush()
    return _with_secret(_views(session, [row])[0], secret), etag(row)


def update_webhook(
    session: Session, webhook_id: int, data: WebhookUpdate, if_match: str | None = None
) -> tuple[WebhookPublic, ETag]:
    """Change a subscription (412 when `if_match` names another version); the subscription
    and its ETag. A new URL is checked as at creation. A new `agency` without `unit` drops
    the unit filter (a unit is of its agency). Setting it active again clears why the
    service disabled it."""
    row = get_or_404(session, WebhookSubscription, webhook_id, LABEL)
    etag(row).require(if_match)
    changes: dict[str, Any] = data.model_dump(exclude_unset=True)
    if "url" in changes:
        check_url(changes["url"])
    if "agency" in changes or "unit" in changes:
        agency_code = changes.pop("agency") if "agency" in changes else _agency_code(session, row)
        unit_code = changes.pop("unit", None)
        changes["agency_id"], changes["unit_id"] = _filters(session, agency_code, unit_code)
    if changes.get("active") is True:
        changes["disabled_reason"] = None
    apply_changes(session, row, changes, Conflict(f"{LABEL} {webhook_id} changed meanwhile"))
    return _views(session, [row])[0], etag(row)


def _agency_code(session: Session, row: WebhookSubscription) -> str | None:
    agency = session.get(Agency, row.agency_id) if row.agency_id else None
    return agency.code if agency else None


def delete_webhook(session: Session, webhook_id: int, if_match: str | None = None) -> None:
    """Delete a subscription (412 when `if_match` names another version) with its
    deliveries, made or not (its deletion is audited, not each of them). Its events stay in
    the outbox for the other subscriptions."""
    row = get_or_404(session, WebhookSubscription, webhook_id, LABEL)
    etag(row).require(if_match)
    session.exec(delete(WebhookDelivery).where(col(WebhookDelivery.subscription_id) == row.id))
    delete_rows(session, [row], f"{LABEL} {webhook_id}")


def rotate_secret(session: Session, webhook_id: int) -> tuple[WebhookWithSecret, ETag]:
    """A new secret for a subscription, answered this once. The one it replaces still signs
    (beside the new one) for WEBHOOK_SECRET_GRACE_HOURS, so the receiver can take the new
    one without losing a delivery; a secret older than that signs no more."""
    row = get_or_404(session, WebhookSubscription, webhook_id, LABEL)
    secret = generate_secret()
    now = utcnow()
    grace = dt.timedelta(hours=get_settings().webhook_secret_grace_hours)
    with audit.action(session, "rotate_secret"):
        row.previous_secret_encrypted = row.secret_encrypted if grace else None
        row.previous_secret_until = now + grace if grace else None
        row.secret_encrypted = encrypt(secret)
        row.updated_at = now
        session.add(row)
    return _with_secret(_views(session, [row])[0], secret), etag(row)


# The outbox ------------------------------------------------------------------------------------


def _event(
    kind: str,
    now: dt.datetime,
    data: Any,
    *,
    agency_id: int | None = None,
    unit_id: int | None = None,
    year: int | None = None,
    quarter: int | None = None,
    page: int = 1,
    pages: int = 1,
) -> WebhookEvent:
    """An event of the outbox, its payload in Standard Webhooks' envelope."""
    return WebhookEvent(
        message_id=f"msg_{uuid.uuid4().hex}",
        type=kind,
        agency_id=agency_id,
        unit_id=unit_id,
        year=year,
        quarter=quarter,
        page=page,
        pages=pages,
        payload={"type": kind, "timestamp": now, "data": data},
        created_at=now,
    )


def retry_window() -> dt.timedelta:
    """How long a delivery is retried, from its making or its redelivery."""
    return dt.timedelta(hours=get_settings().webhook_retry_hours)


def _write(
    session: Session,
    outbox: Sequence[tuple[WebhookEvent, Sequence[WebhookSubscription]]],
    now: dt.datetime,
) -> list[WebhookDelivery]:
    """Write events in the order given (their ids are that order) and a delivery of each to
    each of its subscriptions, due now: two flushes, whatever their number."""
    if not outbox:
        return []
    session.add_all([event for event, _ in outbox])
    session.flush()
    deliveries = [
        WebhookDelivery(
            subscription_id=id_of(subscription),
            event_id=id_of(event),
            agency_id=event.agency_id,
            next_attempt_at=now,
            retry_until=now + retry_window(),
            created_at=now,
        )
        for event, subscriptions in outbox
        for subscription in subscriptions
    ]
    session.add_all(deliveries)
    session.flush()
    return deliveries


def _subscribers(session: Session, agency_id: int, unit_of_event: int) -> list[WebhookSubscription]:
    """The active subscriptions whose filters let an event of this unit through."""
    return list(
        session.exec(
            select(WebhookSubscription)
            .where(
                col(WebhookSubscription.active),
                or_(
                    col(WebhookSubscription.agency_id).is_(None),
                    col(WebhookSubscription.agency_id) == agency_id,
                ),
                or_(
                    col(WebhookSubscription.unit_id).is_(None),
                    col(WebhookSubscription.unit_id) == unit_of_event,
                ),
            )
            .order_by(col(WebhookSubscription.id))
        )
    )


def _wanting(
    subscriptions: Sequence[WebhookSubscription], kind: WebhookEventType
) -> list[WebhookSubscription]:
    """The subscriptions that want `kind` and may read what it carries."""
    return [
        s for s in subscriptions if kind in s.events and subscription_principal(s).can(READS[kind])
    ]


def record_step(
    session: Session, step: Step, agency: Agency, unit: Unit, period: PeriodPublic
) -> list[WebhookEvent]:
    """Write the events of a workflow step just taken to the outbox, with a delivery of each
    to each active subscription that wants it and whose filters let it through: in the
    step's own transaction, so that a step rolled back sends nothing and one committed
    cannot be forgotten. An event that no subscription wants is not written (a
    subscription made later is not sent the past).

    Every step writes its `period.*` event carrying the quarter (`period`). A verify also
    writes `achievements.verified`: the unit's verified capaian of the quarter as the pull
    answers them (`GET /achievements?year=&quarter=&unit=&verified_only=true`, computed by
    the same service after the seal), with the pull's cursor, in pages of at most
    WEBHOOK_PAGE_SIZE items, each page an event of its own, in order. Called after the
    step's seal, before its commit."""
    ids = id_of(agency), id_of(unit)
    subscribers = _subscribers(session, *ids)
    if not subscribers:
        return []
    now = utcnow()
    where = {
        "agency_id": ids[0],
        "unit_id": ids[1],
        "year": period.year,
        "quarter": period.quarter,
    }
    outbox: list[tuple[WebhookEvent, list[WebhookSubscription]]] = []
    kind = STEP_EVENTS[step]
    if wanting := _wanting(subscribers, kind):
        outbox.append((_event(kind, now, period.model_dump(mode="json"), **where), wanting))
    verified = WebhookEventType.achievements_verified
    if step is Step.verify and (wanting := _wanting(subscribers, verified)):
        pages = _verified_pages(session, agency, unit, period.year, period.quarter)
        outbox += [
            (_event(verified, now, data, **where, page=data["page"], pages=len(pages)), wanting)
            for data in pages
        ]
    _write(session, outbox, now)
    return [event for event, _ in outbox]


def _verified_pages(
    session: Session, agency: Agency, unit: Unit, year: int, quarter: int
) -> list[dict[str, Any]]:
    """The `data` of each `achievements.verified` event of a unit's quarter: the pull's
    pages of WEBHOOK_PAGE_SIZE items (at least one, empty when the unit has no indicator),
    each with the cursor of the first, as a pull of several pages keeps it."""
    size = get_settings().webhook_page_size
    filters = AchievementFilters(year=year, agency=agency.code, unit=unit.code, verified_only=True)
    where = {"agency": agency.code, "unit": unit.code, "year": year, "quarter": quarter}
    pages: list[dict[str, Any]] = []
    cursor: str | None = None
    offset = 0
    while True:
        (items, total), resume = achievements.list_achievements(
            session, filters, quarter, PageParams(size, offset)
        )
        cursor = cursor or resume.token
        pages.append(
            where
            | {"page": len(pages) + 1, "pages": 0, "items": items, "total": total}
            | {"limit": size, "offset": offset, "cursor": cursor}
        )
        offset += size
        if offset >= total:
            break
    for data in pages:
        data["pages"] = len(pages)
    return pages


def ping(session: Session, webhook_id: int) -> WebhookDeliveryPublic:
    """Put a `ping` event in the outbox for this subscription only; its delivery (due now).
    An inactive subscription is not pinged (409): nothing would deliver it."""
    row = get_or_404(session, WebhookSubscription, webhook_id, LABEL)
    if not row.active:
        raise Conflict(
            f"{LABEL} {webhook_id} is not active: set `active` to true first", field="active"
        )
    now = utcnow()
    event = _event(PING, now, {"subscription": id_of(row), "message": "ping"})
    with audit.action(session, "ping"):
        (delivery,) = _write(session, [(event, [row])], now)
    return _delivery_views(session, [(delivery, event)])[0]


# Deliveries ------------------------------------------------------------------------------------


def _delivery_views(
    session: Session, rows: Sequence[tuple[WebhookDelivery, WebhookEvent]]
) -> list[WebhookDeliveryPublic]:
    agencies = by_id(session, Agency, {e.agency_id for _, e in rows if e.agency_id})
    units = by_id(session, Unit, {e.unit_id for _, e in rows if e.unit_id})
    views = []
    for delivery, event in rows:
        agency = agencies.get(event.agency_id) if event.agency_id else None
        unit = units.get(event.unit_id) if event.unit_id else None
        shown = event.model_dump(exclude={"payload", "agency_id", "unit_id"})
        views.append(
            WebhookDeliveryPublic.model_validate(
                delivery.model_dump()
                | {
                    "event": shown
                    | {
                        "agency": agency.code if agency else None,
                        "unit": unit.code if unit else None,
                    }
                }
            )
        )
    return views


def list_deliveries(
    session: Session, webhook_id: int, page: PageParams, *, state: DeliveryState | None = None
) -> tuple[list[WebhookDeliveryPublic], int]:
    """A subscription's deliveries, newest event first."""
    get_or_404(session, WebhookSubscription, webhook_id, LABEL)
    query = (
        select(WebhookDelivery, WebhookEvent)
        .join(WebhookEvent, col(WebhookEvent.id) == col(WebhookDelivery.event_id))
        .where(WebhookDelivery.subscription_id == webhook_id)
    )
    if state is not None:
        query = query.where(WebhookDelivery.state == state)
    rows: list[tuple[WebhookDelivery, WebhookEvent]]
    rows, total = paginate(
        session,
        query,  # type: ignore[arg-type]  # two entities: a select of rows, not scalars
        page,
        col(WebhookDelivery.event_id).desc(),
    )
    return _delivery_views(session, rows), total


def redeliver(session: Session, webhook_id: int, delivery_id: int) -> WebhookDeliveryPublic:
    """Send a delivery again, made or failed: it is due now, with a new day of retries, and
    keeps its event's `webhook-id` (the receiver may have it already). It goes back to the
    head of its lane, so the lane's later events wait for it. 409 while it is in flight or
    still pending (it will be sent anyway), and when the subscription is not active."""
    row = get_or_404(session, WebhookSubscription, webhook_id, LABEL)
    delivery = session.get(WebhookDelivery, delivery_id)
    if delivery is None or delivery.subscription_id != webhook_id:
        raise NotFound(f"Delivery {delivery_id} of {LABEL} {webhook_id} not found")
    if not row.active:
        raise Conflict(
            f"{LABEL} {webhook_id} is not active: set `active` to true first", field="active"
        )
    if delivery.state in OPEN_STATES:
        raise Conflict(
            f"Delivery {delivery_id} is {delivery.state.value}: it will be sent without a "
            "redelivery",
            field="state",
        )
    now = utcnow()
    with audit.action(session, "redeliver"):
        delivery.state = DeliveryState.pending
        delivery.next_attempt_at = now
        delivery.retry_until = now + retry_window()
        delivery.lease_until = None
        delivery.leased_by = None
        session.add(delivery)
    event = session.get(WebhookEvent, delivery.event_id)
    assert event is not None  # a delivery's event is kept while the delivery is
    return _delivery_views(session, [(delivery, event)])[0]


def claimable_deliveries(now: dt.datetime, limit: int) -> SelectOfScalar[WebhookDelivery]:
    """The deliveries a dispatcher may claim at `now`, in event order, at most `limit`: of
    active subscriptions, open (`pending`, or `delivering` with its lease run out), due,
    and each the head of its lane (no open delivery of the same subscription and agency
    comes before it), so that a lane is delivered one event at a time, in commit order.

    On PostgreSQL the rows are locked `FOR UPDATE SKIP LOCKED`: several dispatchers claim
    apart, a head another one is claiming is skipped (and its lane with it, as the head is
    still open). The dispatcher sets `state` `delivering`, `lease_until` and `leased_by` on
    what it claimed and commits before it posts; a dispatcher killed mid-delivery leaves
    the delivery to be claimed again once its lease has run out. SQLite has one writer at
    a time, and one dispatcher."""
    still_open = col(WebhookDelivery.state).in_(OPEN_STATES)
    # The head of each lane: its earliest open delivery (a pair of subscription and event
    # names one delivery). Read from the open deliveries only, which the index on state
    # finds, whatever the number delivered before.
    heads = (
        select(
            col(WebhookDelivery.subscription_id).label("subscription_id"),
            func.min(WebhookDelivery.event_id).label("event_id"),
        )
        .where(still_open)
        .group_by(col(WebhookDelivery.subscription_id), col(WebhookDelivery.agency_id))
        .subquery("heads")
    )
    return (
        select(WebhookDelivery)
        .join(
            heads,
            and_(
                heads.c.subscription_id == WebhookDelivery.subscription_id,
                heads.c.event_id == WebhookDelivery.event_id,
            ),
        )
        .join(
            WebhookSubscription,
            col(WebhookSubscription.id) == col(WebhookDelivery.subscription_id),
        )
        .where(
            col(WebhookSubscription.active),
            still_open,
            WebhookDelivery.next_attempt_at <= now,
            or_(
                col(WebhookDelivery.lease_until).is_(None), col(WebhookDelivery.lease_until) <= now
            ),
        )
        .order_by(col(WebhookDelivery.event_id))
        .limit(limit)
        .with_for_update(skip_locked=True, of=WebhookDelivery)
    )
