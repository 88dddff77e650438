"""Schemas of webhooks: subscriptions (see `app/models/webhooks` for their fields), their
deliveries, and the events a receiver is posted (Standard Webhooks' envelope:
`{"type", "timestamp", "data"}`)."""

from __future__ import annotations

import datetime as dt
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field
from sqlmodel.main import SQLModelConfig

from app.core.types import AgencyCode, UnitCode
from app.models.webhooks import DeliveryState, WebhookEventType, WebhookSubscriptionBase
from app.schemas.achievements import AchievementPublic
from app.schemas.common import CURSOR_PATTERN, Input, Patch
from app.schemas.organization import AgencyRef, UnitRef
from app.schemas.workflow import PeriodPublic

_FILTERS = (
    "Only events of this agency (its code); left out, or null: every agency's. A unit "
    "filter implies its agency"
)
_UNIT_FILTER = (
    "Only events of this unit (its code, in `agency`, which may be left out when the "
    "service holds one agency); left out, or null: every unit's"
)

# Subscriptions -----------------------------------------------------------------------------------


class WebhookCreate(Input, WebhookSubscriptionBase):
    """A new receiver of events. The service makes its secret and answers it once."""

    model_config = SQLModelConfig(
        json_schema_extra={
            "example": {
                "url": "https://esakip.probolinggokota.go.id/api/iki/webhook",
                "events": ["achievements.verified", "period.reopened"],
                "agency": "DINSOSP3A",
            }
        }
    )

    agency: AgencyCode | None = Field(default=None, description=_FILTERS)
    unit: UnitCode | None = Field(default=None, description=_UNIT_FILTER)


class WebhookUpdate(Patch, WebhookSubscriptionBase):
    """Changes to a subscription; fields left out stay as they are. Its secret changes only
    by `POST .../rotate-secret`."""

    model_config = SQLModelConfig(json_schema_extra={"example": {"active": False}})

    agency: AgencyCode | None = Field(default=None, description=_FILTERS)
    unit: UnitCode | None = Field(default=None, description=_UNIT_FILTER)


class WebhookPublic(WebhookSubscriptionBase):
    """A receiver of events, without its secret (answered once, at creation and rotation)."""

    id: int = Field(examples=[1])
    agency: AgencyRef | None = Field(description="Only events of this agency; null: every one")
    unit: UnitRef | None = Field(description="Only events of this unit; null: every one")
    previous_secret_until: dt.datetime | None = Field(
        description="Until when the secret before the last rotation still signs deliveries "
        "(beside the current one); null: no previous secret signs"
    )
    disabled_reason: str | None = Field(
        description="Why the service set it inactive: `gone` (the receiver answered 410); "
        "null when it was not disabled by the service",
        examples=[None],
    )
    created_at: dt.datetime = Field(description="When it was created")
    updated_at: dt.datetime = Field(description="When it (or its secret) last changed")


class WebhookWithSecret(WebhookPublic):
    """A subscription and its secret, as answered at creation and rotation only."""

    secret: str = Field(
        description="The signing secret, in Standard Webhooks' `whsec_` form: shown this "
        "once, never again (keep it where the receiver reads it). Verify each delivery's "
        "`webhook-signature` with it (e.g. the `standardwebhooks` package)",
        examples=["whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"],
    )


# Deliveries --------------------------------------------------------------------------------------


class WebhookEventRef(BaseModel):
    """The event a delivery posts."""

    id: int = Field(description="Its place in commit order (per agency)", examples=[41])
    message_id: str = Field(
        description="The `webhook-id` header of each attempt", examples=["msg_2f6d0c1e..."]
    )
    type: str = Field(examples=["achievements.verified"])
    agency: str | None = Field(description="Agency code; null for a ping", examples=["DINSOSP3A"])
    unit: str | None = Field(description="Unit code; null for a ping", examples=["BID_PSM"])
    year: int | None = Field(examples=[2025])
    quarter: int | None = Field(examples=[1])
    page: int = Field(description="Of a payload split in pages: this page", examples=[1])
    pages: int = Field(description="Of a payload split in pages: how many", examples=[1])
    created_at: dt.datetime = Field(description="When it was written, with its step")


class WebhookDeliveryPublic(BaseModel):
    """An event to a subscription: where its delivery is, and the last answer."""

    id: int = Field(examples=[7])
    event: WebhookEventRef
    state: DeliveryState
    attempts: int = Field(description="Attempts made so far", examples=[0])
    next_attempt_at: dt.datetime = Field(description="When it is (or was) due next")
    last_status_code: int | None = Field(
        description="The HTTP status of the last attempt; null: none yet, or no answer "
        "(a timeout, a refused connection)",
        examples=[None],
    )
    last_latency_ms: int | None = Field(description="How long the last attempt took")
    last_excerpt: str | None = Field(
        description="The start of the last answer's body or error (at most 200 characters)"
    )
    delivered_at: dt.datetime | None = Field(description="When a 2xx answered it")
    retry_until: dt.datetime = Field(
        description="When retrying ends: a delivery not made by then is `failed`"
    )
    created_at: dt.datetime = Field(description="When it was written, with its event")


# Events, as posted to receivers ------------------------------------------------------------------

# A body the service sends, described as the answers that carry the same models are: with
# their output schemas (not a second, input copy of `PeriodPublic` and the models it holds).
_SENT = ConfigDict(json_schema_mode_override="serialization")


class PeriodEvent(BaseModel):
    """A unit's quarter moved through the workflow: `period.submitted`, `period.verified`,
    `period.returned` or `period.reopened`, with the quarter as `GET /periods` answers it."""

    model_config = _SENT

    type: Literal["period.submitted", "period.verified", "period.returned", "period.reopened"] = (
        Field(description="Which step was taken", examples=["period.verified"])
    )
    timestamp: dt.datetime = Field(description="When the step was taken")
    data: PeriodPublic = Field(description="The unit's quarter, as `GET /periods` answers it")


class VerifiedAchievements(BaseModel):
    """A page of the verified capaian of a unit's quarter, as the pull answers them
    (`GET /achievements?year=&quarter=&unit=&verified_only=true`, with `limit` the page
    size and `offset` this page's start), so that a receiver needs no call back."""

    model_config = _SENT

    agency: str = Field(examples=["DINSOSP3A"])
    unit: str = Field(description="Unit code (Sumber Data)", examples=["BID_PSM"])
    year: int = Field(examples=[2025])
    quarter: int = Field(description="s.d. triwulan", examples=[1])
    page: int = Field(description="This page, from 1", examples=[1])
    pages: int = Field(description="How many pages, each an event of its own", examples=[1])
    items: list[AchievementPublic] = Field(
        description="This page's achievements, in SK order, as the pull answers them"
    )
    total: int = Field(description="Items over all pages", examples=[12])
    limit: int = Field(description="Page size", examples=[200])
    offset: int = Field(description="Index of this page's first item", examples=[0])
    cursor: str = Field(
        pattern=CURSOR_PATTERN,
        max_length=21,
        description="The pull's cursor as of this verification: send it as `cursor` to "
        "pull only what changed since",
        examples=["c1-7342"],
    )


class AchievementsEvent(BaseModel):
    """A unit's quarter was verified: its verified capaian, page by page."""

    model_config = _SENT

    type: Literal["achievements.verified"] = Field(examples=["achievements.verified"])
    timestamp: dt.datetime = Field(description="When the quarter was verified")
    data: VerifiedAchievements = Field(description="A page of the quarter's verified capaian")


class PingData(BaseModel):
    """What a test event carries."""

    model_config = _SENT

    subscription: int = Field(description="The subscription's id", examples=[1])
    message: str = Field(examples=["ping"])


class PingEvent(BaseModel):
    """A test event, sent on `POST /webhooks/{id}/ping` to that subscription only."""

    model_config = _SENT

    type: Literal["ping"] = Field(examples=["ping"])
    timestamp: dt.datetime = Field(description="When the ping was asked for")
    data: PingData = Field(description="Which subscription it tests")


EVENT_SCHEMAS: dict[str, type[BaseModel]] = {
    **{t.value: PeriodEvent for t in WebhookEventType if t.value.startswith("period.")},
    WebhookEventType.achievements_verified.value: AchievementsEvent,
    "ping": PingEvent,
}
"""The body each type of event is posted with."""
