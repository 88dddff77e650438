"""The outbox: each workflow step writes its events in its own transaction, with a delivery
per active subscription that wants them and whose filters let them through; a step that
is refused or fails after the write leaves nothing; `achievements.verified` carries what
the pull answers for the unit's quarter, page by page; a dispatcher claims the head of each
lane in event order."""

from __future__ import annotations

import datetime as dt
import math
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, col, func, select

from app.core.config import get_settings
from app.core.db import utcnow
from app.core.security import PrincipalKind
from app.main import app
from app.models import (
    Capability,
    DeliveryState,
    Period,
    Role,
    WebhookDelivery,
    WebhookEvent,
    WebhookEventType,
    WebhookSubscription,
)
from app.schemas.webhooks import AchievementsEvent, PeriodEvent
from app.services import webhooks
from app.services.keys import create_key
from app.services.webhooks import claimable_deliveries, subscription_principal
from tests.api.helpers import assert_problem, indicator_id

API = "/api/v1"
YEAR = 2025
URL = "https://esakip.probolinggokota.go.id/api/iki/webhook"
EVERY_EVENT = [t.value for t in WebhookEventType]

pytestmark = pytest.mark.usefixtures("fake_dns")


def subscribe(client, headers, events=EVERY_EVENT, **fields: Any) -> int:
    created = client.post(
        f"{API}/webhooks", headers=headers, json={"url": URL, "events": events, **fields}
    )
    assert created.status_code == 201, created.text
    return created.json()["id"]


def step(client, headers, action: str, unit: str = "BID_PSM", quarter: int = 1):
    note = {"note": "alasan"} if action in ("return", "reopen") else None
    return client.post(
        f"{API}/periods/{YEAR}/{quarter}/units/{unit}/{action}",
        headers=headers,
        params={"agency": "DINSOSP3A"},
        json=note,
    )


def report(client, session, psm) -> None:
    """BID_PSM's Q1 values of KADIS.1.1 (psks_diberdayakan / psks_terdata)."""
    written = client.put(
        f"{API}/indicators/{indicator_id(session, 'KADIS.1.1')}/realizations/{YEAR}/1",
        headers=psm,
        json={"values": {"psks_diberdayakan": 30, "psks_terdata": 200}},
    )
    assert written.status_code == 200, written.text


def outbox(session: Session) -> list[WebhookEvent]:
    return list(session.exec(select(WebhookEvent).order_by(col(WebhookEvent.id))))


def received(session: Session, subscription: int) -> list[str]:
    """The types of the events a subscription is to be posted, in event order."""
    return list(
        session.exec(
            select(WebhookEvent.type)
            .join(WebhookDelivery, col(WebhookDelivery.event_id) == col(WebhookEvent.id))
            .where(WebhookDelivery.subscription_id == subscription)
            .order_by(col(WebhookEvent.id))
        )
    )


def count(session: Session, model: type) -> int:
    return session.exec(select(func.count()).select_from(model)).one()


def test_each_step_writes_its_events_for_each_subscription_that_wants_them(
    client, session, admin, psm, verifier
):
    created = client.post(
        f"{API}/agencies", headers=admin, json={"code": "DINKES", "name": "Dinas Kesehatan"}
    )
    assert created.status_code == 201, created.text
    everything = subscribe(client, admin)
    psm_figures = subscribe(
        client, admin, ["achievements.verified"], agency="DINSOSP3A", unit="BID_PSM"
    )
    verified_only = subscribe(client, admin, ["period.verified"])
    other_unit = subscribe(client, admin, agency="DINSOSP3A", unit="BID_RPJS")
    other_agency = subscribe(client, admin, agency="DINKES")
    paused = subscribe(client, admin, active=False)

    report(client, session, psm)
    answers = []
    for headers, action in (
        (psm, "submit"),
        (verifier, "return"),
        (psm, "submit"),
        (verifier, "verify"),
        (verifier, "reopen"),
    ):
        answer = step(client, headers, action)
        assert answer.status_code == 200, answer.text
        answers.append(answer.json())

    steps = ["period.submitted", "period.returned", "period.submitted", "period.verified"]
    every = [*steps, "achievements.verified", "period.reopened"]
    assert received(session, everything) == every
    assert received(session, psm_figures) == ["achievements.verified"]
    assert received(session, verified_only) == ["period.verified"]
    for left_out in (other_unit, other_agency, paused):
        assert received(session, left_out) == []

    # One event per step (and page), shared by the subscriptions, in the order of the steps.
    events = outbox(session)
    assert [e.type for e in events] == every
    assert len({e.message_id for e in events}) == len(events)
    unit_id = session.exec(select(Period.unit_id)).one()
    for event in events:
        assert (event.unit_id, event.year, event.quarter) == (unit_id, YEAR, 1)
        assert event.payload["type"] == event.type
        assert dt.datetime.fromisoformat(event.payload["timestamp"]) == event.created_at
    # A period event carries the quarter as the step answered it.
    periods = [e for e in events if e.type.startswith("period.")]
    assert [e.payload["data"] for e in periods] == answers
    for event in periods:
        PeriodEvent.model_validate(event.payload)


def test_without_a_subscription_a_step_writes_nothing(client, session, admin, psm):
    subscribe(client, admin, active=False)
    assert step(client, psm, "submit").status_code == 200
    assert (count(session, WebhookEvent), count(session, WebhookDelivery)) == (0, 0)


@pytest.mark.parametrize("page_size", [200, 2])
def test_the_verified_achievements_are_what_the_pull_answers(
    client, session, admin, psm, verifier, reader, monkeypatch, page_size
):
    monkeypatch.setattr(get_settings(), "webhook_page_size", page_size)
    subscription = subscribe(client, admin, ["achievements.verified"])
    report(client, session, psm)
    assert step(client, psm, "submit").status_code == 200
    assert step(client, verifier, "verify").status_code == 200

    events = outbox(session)
    first = client.get(
        f"{API}/achievements",
        headers=reader,
        params={"year": YEAR, "quarter": 1, "unit": "BID_PSM", "verified_only": "true"}
        | {"limit": page_size},
    ).json()
    pages = math.ceil(first["total"] / page_size)
    assert pages == len(events) and (pages > 1) == (page_size == 2)
    cursor = events[0].payload["data"]["cursor"]
    assert int(cursor.removeprefix("c1-")) <= int(first["cursor"].removeprefix("c1-"))
    for number, event in enumerate(events, start=1):
        pulled = client.get(
            f"{API}/achievements",
            headers=reader,
            params={"year": YEAR, "quarter": 1, "unit": "BID_PSM", "verified_only": "true"}
            | {"limit": page_size, "offset": (number - 1) * page_size},
        ).json()
        data = event.payload["data"]
        # The items as JSON, exactly as the pull answers them.
        assert data["items"] == pulled["items"]
        assert {k: data[k] for k in ("total", "limit", "offset")} == {
            k: pulled[k] for k in ("total", "limit", "offset")
        }
        assert (data["page"], data["pages"], event.page, event.pages) == (
            number,
            pages,
            number,
            pages,
        )
        assert (data["agency"], data["unit"], data["year"], data["quarter"]) == (
            "DINSOSP3A",
            "BID_PSM",
            YEAR,
            1,
        )
        assert data["cursor"] == cursor
        AchievementsEvent.model_validate(event.payload)
    items = {i["indicator"]["code"]: i for e in events for i in e.payload["data"]["items"]}
    assert len(items) == first["total"]
    official = items["KADIS.1.1"]
    assert (official["verification"], official["verified"]) == ("verified", True)
    assert official["values"] == {"psks_diberdayakan": 30, "psks_terdata": 200}
    assert received(session, subscription) == ["achievements.verified"] * pages


def test_a_refused_step_writes_nothing(client, session, admin, psm, psm_verifier, verifier):
    subscribe(client, admin)
    written = client.put(
        f"{API}/data-values/{YEAR}/1", headers=psm_verifier, json={"values": {"psks_terdata": 9}}
    )
    assert written.status_code == 200, written.text
    assert step(client, psm, "submit").status_code == 200
    assert [e.type for e in outbox(session)] == ["period.submitted"]
    # Four eyes: the Sekretaris wrote data of the quarter.
    assert_problem(step(client, psm_verifier, "verify"), 409, "self_verification")
    assert_problem(step(client, verifier, "reopen"), 409, "invalid_transition")
    no_note = client.post(f"{API}/periods/{YEAR}/1/units/BID_PSM/return", headers=verifier)
    assert_problem(no_note, 422, "invalid_input")
    assert [e.type for e in outbox(session)] == ["period.submitted"]
    assert count(session, WebhookDelivery) == 1


def test_a_step_that_fails_after_its_outbox_write_leaves_nothing(committed_engine, monkeypatch):
    """With real commits, on each database: an error after the events were written rolls
    the step back with them; the same step then commits them."""
    with Session(committed_engine) as session:
        _, admin_key = create_key(session, "admin-outbox", Role.admin)
        _, operator_key = create_key(session, "psm-outbox", Role.operator, ("BID_PSM",))
        session.commit()
    admin = {"Authorization": f"Bearer {admin_key}"}
    psm = {"Authorization": f"Bearer {operator_key}"}
    client = TestClient(app, raise_server_exceptions=False)
    subscription = subscribe(client, admin)

    written_first = webhooks.record_step
    written: list[int] = []

    def fails_after_writing(*args: Any, **kwargs: Any) -> list[WebhookEvent]:
        events = written_first(*args, **kwargs)
        written.append(len(events))
        raise RuntimeError("after the outbox write")

    monkeypatch.setattr(webhooks, "record_step", fails_after_writing)
    assert step(client, psm, "submit").status_code == 500
    assert written == [1]
    with Session(committed_engine) as session:
        assert (count(session, WebhookEvent), count(session, WebhookDelivery)) == (0, 0)
        assert count(session, Period) == 0

    monkeypatch.setattr(webhooks, "record_step", written_first)
    assert step(client, psm, "submit").status_code == 200
    with Session(committed_engine) as session:
        assert [e.type for e in outbox(session)] == ["period.submitted"]
        assert received(session, subscription) == ["period.submitted"]


def test_a_subscription_reads_as_a_principal_of_its_own(client, session, admin):
    ident = subscribe(client, admin)
    principal = subscription_principal(session.get(WebhookSubscription, ident))
    assert principal.kind is PrincipalKind.subscription
    assert principal.identity == f"subscription:{ident}"
    assert principal.capabilities == {Capability.read_achievements}
    # Never more than a reader key (of its agency, which its filter names) would read.
    assert principal.capabilities < Role.reader.capabilities
    assert not principal.can(Capability.read_data) and not principal.can(Capability.administer)


def test_a_dispatcher_claims_the_head_of_each_lane_in_event_order(
    client, session, admin, psm, verifier
):
    first = subscribe(client, admin)
    second = subscribe(client, admin, ["period.verified"])
    report(client, session, psm)
    assert step(client, psm, "submit").status_code == 200
    assert step(client, verifier, "verify").status_code == 200
    assert client.post(f"{API}/webhooks/{first}/ping", headers=admin).status_code == 202
    deliveries = {
        (d.subscription_id, e.type): d
        for d, e in session.exec(
            select(WebhookDelivery, WebhookEvent).join(
                WebhookEvent, col(WebhookEvent.id) == col(WebhookDelivery.event_id)
            )
        )
    }
    submitted, verified, figures, ping = (
        deliveries[(first, kind)]
        for kind in ("period.submitted", "period.verified", "achievements.verified", "ping")
    )
    others = deliveries[(second, "period.verified")]
    now = utcnow()

    def claimable() -> list[int]:
        return [d.id for d in session.exec(claimable_deliveries(now, 10))]

    def set_(delivery: WebhookDelivery, **fields: Any) -> None:
        for name, value in fields.items():
            setattr(delivery, name, value)
        session.add(delivery)
        session.flush()

    # One head per lane: the first subscription's agency lane and ping lane, the second's.
    assert claimable() == [submitted.id, others.id, ping.id]
    held = now + dt.timedelta(seconds=30)
    set_(submitted, state=DeliveryState.delivering, lease_until=held, leased_by="w1")
    assert claimable() == [others.id, ping.id]  # in flight at one dispatcher: its lane waits
    set_(submitted, lease_until=now - dt.timedelta(seconds=1))
    assert claimable() == [submitted.id, others.id, ping.id]  # its lease ran out
    set_(submitted, state=DeliveryState.delivered, lease_until=None)
    assert claimable() == [verified.id, others.id, ping.id]
    set_(verified, state=DeliveryState.failed)  # given up: the lane goes on
    assert claimable() == [others.id, figures.id, ping.id]  # in event order
    set_(figures, next_attempt_at=now + dt.timedelta(minutes=1))  # a retry not due yet
    assert claimable() == [others.id, ping.id]
    client.patch(f"{API}/webhooks/{first}", headers=admin, json={"active": False})
    assert claimable() == [others.id]


def test_the_verified_achievements_count_only_verified_data(
    client, session, admin, verifier, reader
):
    """UPTD_PPA is the source of KADIS.4.2, whose data BID_PPPHA reports: verifying
    UPTD_PPA's quarter sends KADIS.4.2 as the pull serves it verified only, without the
    values of BID_PPPHA's quarter, which is not verified."""
    subscribe(client, admin, ["achievements.verified"])
    values = {
        "kla_indikator_tercapai": 12,
        "kla_indikator_ditetapkan": 20,
        "kasus_perempuan_tertangani": 8,
        "kasus_perempuan_diterima": 10,
        "kasus_anak_tertangani": 4,
        "kasus_anak_diterima": 5,
    }
    written = client.put(f"{API}/data-values/{YEAR}/1", headers=admin, json={"values": values})
    assert written.status_code == 200, written.text
    assert step(client, admin, "submit", unit="UPTD_PPA").status_code == 200
    assert step(client, verifier, "verify", unit="UPTD_PPA").status_code == 200

    (event,) = outbox(session)
    pulled = client.get(
        f"{API}/achievements",
        headers=reader,
        params={"year": YEAR, "quarter": 1, "unit": "UPTD_PPA", "verified_only": "true"},
    ).json()
    assert event.payload["data"]["items"] == pulled["items"]
    items = {i["indicator"]["code"]: i for i in pulled["items"]}
    assert items["KADIS.4.2"]["verified"] is False
    assert items["KADIS.4.2"]["realization"] is None  # BID_PPPHA's 12 of 20 is not official
