"""Webhooks: the receivers that subscribe (e-SAKIP), the outbox of events, and a delivery
of each event to each subscription that wants it.

The outbox is written in the transaction of the workflow step that causes its events
(`app.services.webhooks.record_step`), so a step that is rolled back sends nothing and one
that commits cannot be forgotten. A dispatcher delivers from it: it claims the next due
delivery of each lane (a subscription and an agency) in event order
(`app.services.webhooks.claimable_deliveries`), holds it for a lease, and records the
outcome on the delivery.
"""

from __future__ import annotations

import datetime as dt
from enum import StrEnum
from typing import Annotated, Any
from urllib.parse import urlsplit

from pydantic import AfterValidator
from pydantic import Field as Limits
from sqlalchemy import CheckConstraint, Index, Text, UniqueConstraint, text
from sqlmodel import Field, SQLModel

from app.core.db import UTCDateTime
from app.core.text import control_characters
from app.core.types import Flag
from app.models.base import JSONValue, enum_column, timestamp_field


class WebhookEventType(StrEnum):
    """What a subscription may ask to be told: a unit's quarter moved through the workflow,
    or its figures became official (`achievements.verified`, which carries them)."""

    period_submitted = "period.submitted"
    period_verified = "period.verified"
    period_returned = "period.returned"
    period_reopened = "period.reopened"
    achievements_verified = "achievements.verified"


PING = "ping"
"""The type of the test event `POST /webhooks/{id}/ping` sends (nobody subscribes to it)."""
OUTBOX_TYPES = (*(t.value for t in WebhookEventType), PING)


class DeliveryState(StrEnum):
    """Where a delivery is: `pending` (due at `next_attempt_at`), `delivering` (held by a
    dispatcher until `lease_until`), `delivered` (a 2xx), `failed` (given up)."""

    pending = "pending"
    delivering = "delivering"
    delivered = "delivered"
    failed = "failed"


OPEN_STATES = (DeliveryState.pending, DeliveryState.delivering)
"""The states of a delivery still to be made: it holds back the later ones of its lane."""
OPEN_CONDITION = "state IN ('pending', 'delivering')"

MAX_URL = 2000
MAX_EXCERPT = 200


def _webhook_url(text: str) -> str:
    """An absolute http(s) URL a receiver listens on: no credentials (they would be stored
    and shown in clear), no fragment (never sent), no white space or control character.
    Where its host points is checked apart, after resolution (`app.services.webhook_urls`)."""
    found = control_characters(text)
    if found or any(c.isspace() for c in text):
        raise ValueError("must not hold spaces or control characters")
    parts = urlsplit(text)
    if parts.scheme not in ("http", "https"):
        raise ValueError("must be an http or https URL, e.g. https://esakip.example.go.id/hook")
    if "@" in parts.netloc:
        raise ValueError(
            "must not hold credentials (user:password@): the receiver checks the signature"
        )
    if "#" in text:
        raise ValueError("must not hold a fragment (#...), which is never sent")
    if not parts.hostname:
        raise ValueError("must name a host")
    try:
        parts.port  # noqa: B018 - reading it checks it
        parts.hostname.encode("idna")
    except (ValueError, UnicodeError) as error:
        raise ValueError(f"has an invalid host or port ({error})") from error
    return text


WebhookUrl = Annotated[
    str,
    Limits(
        min_length=1,
        max_length=MAX_URL,
        description="Where the events are posted: an http or https URL without credentials. "
        "Its host must resolve to public addresses only (no private, loopback, link-local, "
        "multicast, reserved or metadata address), checked when it is set and again at "
        "each delivery",
        examples=["https://esakip.probolinggokota.go.id/api/iki/webhook"],
    ),
    AfterValidator(_webhook_url),
]


def _each_once(events: list[WebhookEventType]) -> list[WebhookEventType]:
    return sorted(set(events), key=list(WebhookEventType).index)


Events = Annotated[
    list[WebhookEventType],
    Limits(
        min_length=1,
        max_length=20,
        description="The events to be told of (each once, in the order listed here): "
        "`period.submitted`, `period.verified`, `period.returned`, `period.reopened`, "
        "`achievements.verified` (the unit's verified capaian of the quarter, in the pull's "
        "shape)",
        examples=[["achievements.verified", "period.reopened"]],
    ),
    AfterValidator(_each_once),
]


class WebhookSubscriptionBase(SQLModel):
    url: WebhookUrl = Field(sa_type=Text)
    events: Events = Field(sa_type=JSONValue)
    active: Flag = Field(
        default=True,
        description="Whether events are written for it; false pauses it (a receiver "
        "that answered 410 Gone is set inactive with `disabled_reason` `gone`)",
    )


class WebhookSubscription(WebhookSubscriptionBase, table=True):
    """A receiver of events: its URL, the events it wants and the agency and unit they
    must be of. Its secret is stored encrypted (`app.services.webhook_secrets`), never
    hashed: the service signs every delivery with it."""

    __tablename__ = "webhook_subscription"

    id: int | None = Field(default=None, primary_key=True)
    agency_id: int | None = Field(default=None, foreign_key="agency.id", index=True)
    unit_id: int | None = Field(default=None, foreign_key="unit.id", index=True)
    secret_encrypted: str = Field(sa_type=Text)
    previous_secret_encrypted: str | None = Field(default=None, sa_type=Text)
    previous_secret_until: dt.datetime | None = Field(default=None, sa_type=UTCDateTime)
    disabled_reason: str | None = Field(default=None, max_length=32)
    created_at: dt.datetime = timestamp_field()
    updated_at: dt.datetime = timestamp_field()


class WebhookEvent(SQLModel, table=True):
    """An event of the outbox, written in the transaction of what caused it. Its id is its
    place in commit order among its agency's events: a workflow step holds its agency's
    lock (`lock_agency_data`) from before it writes its events to its commit. Its payload
    is the body every delivery of it posts, the same for each subscription."""

    __tablename__ = "webhook_event"

    __table_args__ = (
        CheckConstraint("type IN (" + ", ".join(f"'{t}'" for t in OUTBOX_TYPES) + ")", name="type"),
    )

    id: int | None = Field(default=None, primary_key=True)
    message_id: str = Field(
        max_length=40,
        unique=True,
        description="The `webhook-id` of every delivery of it, retries included: unique "
        "beyond this database's ids (a restored backup reuses ids)",
    )
    type: str = Field(max_length=32)
    agency_id: int | None = Field(default=None, description="Of the unit; none for a ping")
    unit_id: int | None = None
    year: int | None = None
    quarter: int | None = None
    page: int = Field(default=1, description="Of a payload split in pages: this page, from 1")
    pages: int = Field(default=1, description="Of a payload split in pages: how many")
    payload: dict[str, Any] = Field(sa_type=JSONValue)
    created_at: dt.datetime = timestamp_field(index=True)


class WebhookDelivery(SQLModel, table=True):
    """One event to one subscription: its state, attempts and the last answer.

    A lane is a subscription and an agency (`agency_id`, copied from the event; a ping's is
    none): its deliveries are made one at a time in event order, so a receiver learns of an
    agency's quarters in the order they moved, and a failing receiver holds back only its
    own lanes."""

    __tablename__ = "webhook_delivery"

    __table_args__ = (
        UniqueConstraint("subscription_id", "event_id"),
        # The head of each lane: its earliest open delivery.
        Index("ix_webhook_delivery_lane", "subscription_id", "agency_id", "event_id"),
        # What is due: open deliveries by when they are due.
        Index("ix_webhook_delivery_due", "state", "next_attempt_at"),
        # The open deliveries of each lane alone, whatever the number delivered before: where
        # a claim finds each lane's head.
        Index(
            "ix_webhook_delivery_open_lane",
            "subscription_id",
            "agency_id",
            "event_id",
            postgresql_where=text(OPEN_CONDITION),
            sqlite_where=text(OPEN_CONDITION),
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    subscription_id: int = Field(foreign_key="webhook_subscription.id")
    event_id: int = Field(foreign_key="webhook_event.id", index=True)
    agency_id: int | None = None
    state: DeliveryState = Field(
        default=DeliveryState.pending, sa_type=enum_column(DeliveryState, "delivery_state")
    )
    attempts: int = 0
    next_attempt_at: dt.datetime = Field(sa_type=UTCDateTime, nullable=False)
    lease_until: dt.datetime | None = Field(default=None, sa_type=UTCDateTime)
    leased_by: str | None = Field(default=None, max_length=100)
    last_status_code: int | None = None
    last_latency_ms: int | None = None
    last_excerpt: str | None = Field(default=None, max_length=MAX_EXCERPT)
    delivered_at: dt.datetime | None = Field(default=None, sa_type=UTCDateTime)
    retry_until: dt.datetime = Field(
        sa_type=UTCDateTime,
        nullable=False,
        description="When retrying ends and a delivery still not made is `failed`: "
        "WEBHOOK_RETRY_HOURS after it was made, or after it was redelivered",
    )
    created_at: dt.datetime = timestamp_field()
