"""Delivery to real receivers on 127.0.0.1, by a dispatcher running beside the API on a
database of its own (real commits): signed posts that Standard Webhooks verifies, in
commit order per lane, each failure mode retried or stopped as the rules say, redelivery,
and nothing sent for a step rolled back."""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlmodel import Session, col, select
from standardwebhooks import Webhook

from app.core.config import get_settings
from app.main import app
from app.models import DeliveryState, Role, WebhookDelivery, WebhookEvent
from app.services import webhooks
from app.services.dispatch import Answer, Attempt, Decision, Outcome, record
from app.services.keys import create_key
from tests.api.helpers import assert_problem, indicator_id
from tests.conftest import serving_own_database
from tests.receivers import Receiver, Reply, accept, dispatching, fail_times, hang_first, wait_for

API = "/api/v1"
YEAR = 2025
SETTINGS = {
    "WEBHOOK_ALLOW_LOOPBACK": "true",
    "WEBHOOK_RETRY_BASE_SECONDS": "0.1",
    "WEBHOOK_RETRY_CAP_SECONDS": "2",
    "WEBHOOK_TIMEOUT_SECONDS": "1",
    "WEBHOOK_CONNECT_TIMEOUT_SECONDS": "1",
    "WEBHOOK_LEASE_SECONDS": "5",
    "WEBHOOK_POLL_SECONDS": "0.05",
}
WAIT = 20.0
"""The longest any test waits for the dispatcher (most wait well under a second)."""


@dataclass
class World:
    engine: Engine
    client: TestClient
    keys: dict[str, dict[str, str]]

    def subscribe(self, url: str, events: list[str] | None = None, **fields: Any) -> dict:
        # Without `events`, one that no test here causes: the subscription gets its pings.
        body = {"url": url, "events": events or ["period.reopened"], **fields}
        created = self.client.post(f"{API}/webhooks", headers=self.keys["admin"], json=body)
        assert created.status_code == 201, created.text
        return created.json()

    def ping(self, subscription: int) -> dict:
        sent = self.client.post(f"{API}/webhooks/{subscription}/ping", headers=self.keys["admin"])
        assert sent.status_code == 202, sent.text
        return sent.json()

    def deliveries(self, subscription: int) -> list[dict]:
        listed = self.client.get(
            f"{API}/webhooks/{subscription}/deliveries", headers=self.keys["admin"]
        )
        assert listed.status_code == 200, listed.text
        return listed.json()["items"]

    def delivery(self, subscription: int, ident: int) -> dict:
        return next(d for d in self.deliveries(subscription) if d["id"] == ident)

    def settled(self, subscription: int, ident: int) -> dict | None:
        """The delivery once it is delivered or failed."""
        found = self.delivery(subscription, ident)
        return found if found["state"] in ("delivered", "failed") else None

    def step(self, who: str, action: str, quarter: int = 1, unit: str = "BID_PSM") -> dict:
        note = {"note": "mohon dilengkapi"} if action in ("return", "reopen") else None
        answer = self.client.post(
            f"{API}/periods/{YEAR}/{quarter}/units/{unit}/{action}",
            headers=self.keys[who],
            params={"agency": "DINSOSP3A"},
            json=note,
        )
        assert answer.status_code == 200, answer.text
        return answer.json()


@pytest.fixture(scope="module")
def world(databases) -> Iterator[World]:
    with pytest.MonkeyPatch.context() as patch:
        for name, value in SETTINGS.items():
            patch.setenv(name, value)
        get_settings.cache_clear()
        with serving_own_database(databases, "delivery") as engine:
            with Session(engine) as session:
                keys = {
                    name: {"Authorization": f"Bearer {create_key(session, name, *how)[1]}"}
                    for name, how in {
                        "admin": (Role.admin,),
                        "psm": (Role.operator, ("BID_PSM",)),
                        "verifier": (Role.verifier,),
                        "reader": (Role.reader,),
                    }.items()
                }
                session.commit()
            with dispatching(engine):
                yield World(engine, TestClient(app), keys)
    get_settings.cache_clear()


@pytest.fixture
def subscriptions(world: World) -> Iterator[list[int]]:
    """The test's subscriptions, deleted after it (their receivers are gone by then)."""
    made: list[int] = []
    yield made
    for ident in made:
        world.client.delete(f"{API}/webhooks/{ident}", headers=world.keys["admin"])


def test_a_verified_quarter_reaches_an_accepting_receiver_signed(world, subscriptions):
    with Receiver(accept) as receiver:
        created = world.subscribe(receiver.url, ["period.submitted", "achievements.verified"])
        subscriptions.append(created["id"])
        with Session(world.engine) as session:
            path = f"{API}/indicators/{indicator_id(session, 'KADIS.1.1')}/realizations/{YEAR}/1"
        written = world.client.put(
            path,
            headers=world.keys["psm"],
            json={"values": {"psks_diberdayakan": 30, "psks_terdata": 200}},
        )
        assert written.status_code == 200, written.text
        world.step("psm", "submit")
        world.step("verifier", "verify")
        wait_for(lambda: len(receiver.received) >= 2, WAIT, "two events received")

    # Each one verifies with the secret answered at creation, as a receiver checks it.
    bodies = [Webhook(created["secret"]).verify(r.body, r.headers) for r in receiver.received]
    assert [b["type"] for b in bodies] == ["period.submitted", "achievements.verified"]
    for request in receiver.received:
        assert request.headers["content-type"] == "application/json"
        assert request.headers["user-agent"].startswith("iki-webhooks/")
        assert request.headers["host"] == receiver.url.split("/")[2]
    assert bodies[0]["data"]["state"] == "submitted"

    # The figures are what the pull answers, verified only, for that unit and quarter.
    data = bodies[1]["data"]
    pulled = world.client.get(
        f"{API}/achievements",
        headers=world.keys["reader"],
        params={"year": YEAR, "quarter": 1, "unit": "BID_PSM", "verified_only": "true"},
    ).json()
    assert data["items"] == pulled["items"] and data["total"] == pulled["total"] > 0
    assert data["cursor"].startswith("c1-")
    kadis = next(i for i in data["items"] if i["indicator"]["code"] == "KADIS.1.1")
    assert kadis["verified"] is True

    deliveries = world.deliveries(created["id"])
    assert [(d["state"], d["attempts"], d["last_status_code"]) for d in deliveries] == [
        ("delivered", 1, 200),
        ("delivered", 1, 200),
    ]
    assert all(d["last_latency_ms"] is not None and d["delivered_at"] for d in deliveries)


def test_a_failing_receiver_is_retried_with_backoff_and_its_lane_keeps_order(world, subscriptions):
    with Receiver(fail_times(3)) as receiver:
        created = world.subscribe(
            receiver.url, ["period.submitted", "period.returned"], unit="BID_PSM"
        )
        subscriptions.append(created["id"])
        world.step("psm", "submit", quarter=2)
        world.step("verifier", "return", quarter=2)
        world.step("psm", "submit", quarter=2)
        wait_for(lambda: len(receiver.received) >= 6, WAIT, "three events after three failures")

    received = receiver.received
    ids = [r.message_id for r in received]
    # The first event three times refused, then taken; the later ones wait for it.
    assert ids[:4] == [ids[0]] * 4 and len(set(ids)) == 3
    kinds = [Webhook(created["secret"]).verify(r.body, r.headers)["type"] for r in received]
    assert kinds[3:] == ["period.submitted", "period.returned", "period.submitted"]
    # Each wait at least half of the base doubled at each attempt (0.05, 0.1, 0.2 s).
    gaps = [later.at - earlier.at for earlier, later in itertools.pairwise(received[:4])]
    assert [round(g, 2) >= 0.05 * 2**n for n, g in enumerate(gaps)] == [True] * 3, gaps
    first = world.deliveries(created["id"])[-1]
    assert (first["state"], first["attempts"], first["last_status_code"]) == ("delivered", 4, 200)


@pytest.mark.parametrize("status", [429, 503])
def test_429_and_503_are_retried_after_their_retry_after(world, subscriptions, status):
    with Receiver(fail_times(1, status, {"Retry-After": "1"})) as receiver:
        subscription = world.subscribe(receiver.url)["id"]
        subscriptions.append(subscription)
        sent = world.ping(subscription)
        done = wait_for(lambda: world.settled(subscription, sent["id"]), WAIT, "delivered")
    first, second = receiver.received
    assert first.message_id == second.message_id
    assert second.at - first.at >= 0.95  # not the 0.05-0.1 s of the backoff
    assert (done["state"], done["attempts"]) == ("delivered", 2)


def test_a_receiver_that_hangs_is_cut_at_the_timeout_and_retried(world, subscriptions):
    with Receiver(hang_first(3)) as receiver:
        subscription = world.subscribe(receiver.url)["id"]
        subscriptions.append(subscription)
        sent = world.ping(subscription)
        done = wait_for(lambda: world.settled(subscription, sent["id"]), WAIT, "delivered")
    assert (done["state"], done["attempts"], done["last_status_code"]) == ("delivered", 2, 200)
    # The first attempt was recorded as no answer at 1 s, not as the 200 sent after 3 s.
    trail = world.client.get(
        f"{API}/audit",
        headers=world.keys["admin"],
        params={"entity": "webhook_delivery", "entity_id": str(sent["id"]), "action": "deliver"}
        | {"since": sent["created_at"]},  # SQLite gives a deleted row's id again
    ).json()["items"]
    first = trail[-1]["after"]  # what changed: no status came
    assert first.get("last_status_code") is None
    assert first["last_excerpt"] == "no answer within 1 s"
    assert first["state"] == "pending"
    assert trail[0]["actor"] == "webhook-worker"


def test_410_gone_disables_the_subscription(world, subscriptions):
    with Receiver(lambda n, _: Reply(410)) as receiver:
        subscription = world.subscribe(receiver.url)["id"]
        subscriptions.append(subscription)
        sent = world.ping(subscription)
        done = wait_for(lambda: world.settled(subscription, sent["id"]), WAIT, "given up")
        assert (done["state"], done["attempts"], done["last_status_code"]) == ("failed", 1, 410)
        shown = world.client.get(f"{API}/webhooks/{subscription}", headers=world.keys["admin"])
        assert (shown.json()["active"], shown.json()["disabled_reason"]) == (False, "gone")
        pinged = world.client.post(
            f"{API}/webhooks/{subscription}/ping", headers=world.keys["admin"]
        )
        assert_problem(pinged, 409, "conflict")
    assert len(receiver.received) == 1


def test_retries_end_when_the_retry_window_does(world, subscriptions, monkeypatch):
    monkeypatch.setattr(get_settings(), "webhook_retry_hours", 1 / 3600)  # one second
    with Receiver(lambda n, _: Reply(500)) as failing, Receiver(accept) as accepting:
        doomed = world.subscribe(failing.url)["id"]
        fine = world.subscribe(accepting.url)["id"]
        subscriptions.extend([doomed, fine])
        lost, sent = world.ping(doomed), world.ping(fine)
        # A failing receiver holds back its own lane only.
        done = wait_for(lambda: world.settled(fine, sent["id"]), WAIT, "the other delivered")
        assert done["state"] == "delivered"
        failed = wait_for(lambda: world.settled(doomed, lost["id"]), WAIT, "given up")
        tried = len(failing.received)
    assert failed["state"] == "failed" and failed["attempts"] == tried >= 3
    assert failed["last_status_code"] == 500


def test_a_delivery_is_sent_again_on_request(world, subscriptions):
    with Receiver(accept) as receiver:
        subscription = world.subscribe(receiver.url)["id"]
        subscriptions.append(subscription)
        sent = world.ping(subscription)
        wait_for(lambda: world.settled(subscription, sent["id"]), WAIT, "delivered")
        path = f"{API}/webhooks/{subscription}/deliveries/{sent['id']}/redeliver"
        again = world.client.post(path, headers=world.keys["admin"])
        assert again.status_code == 202, again.text
        assert again.json()["state"] == "pending"
        assert again.json()["retry_until"] > sent["retry_until"]
        wait_for(lambda: len(receiver.received) == 2, WAIT, "sent again")
        wait_for(lambda: world.settled(subscription, sent["id"]), WAIT, "delivered again")
        unknown = world.client.post(
            f"{API}/webhooks/{subscription}/deliveries/999999/redeliver",
            headers=world.keys["admin"],
        )
        assert_problem(unknown, 404, "not_found")
    first, second = receiver.received
    assert first.message_id == second.message_id == sent["event"]["message_id"]
    trail = world.client.get(
        f"{API}/audit",
        headers=world.keys["admin"],
        params={"entity": "webhook_delivery", "action": "redeliver", "since": sent["created_at"]},
    ).json()["items"]
    assert [e["entity_id"] for e in trail] == [str(sent["id"])]


def test_a_pending_delivery_is_not_redelivered(world, subscriptions):
    with Receiver(hang_first(3)) as receiver:
        subscription = world.subscribe(receiver.url)["id"]
        subscriptions.append(subscription)
        sent = world.ping(subscription)
        wait_for(lambda: receiver.received, WAIT, "in flight")
        path = f"{API}/webhooks/{subscription}/deliveries/{sent['id']}/redeliver"
        assert_problem(world.client.post(path, headers=world.keys["admin"]), 409, "conflict")
        wait_for(lambda: world.settled(subscription, sent["id"]), WAIT, "delivered")


def test_a_rolled_back_step_sends_nothing(world, subscriptions, monkeypatch):
    with Receiver(accept) as receiver:
        created = world.subscribe(receiver.url, ["period.submitted"], unit="BID_RPJS")
        subscriptions.append(created["id"])
        record_step = webhooks.record_step

        def fails_after_writing(*args: Any, **kwargs: Any) -> list[WebhookEvent]:
            record_step(*args, **kwargs)
            raise RuntimeError("after the outbox write")

        monkeypatch.setattr(webhooks, "record_step", fails_after_writing)
        refused = TestClient(app, raise_server_exceptions=False).post(
            f"{API}/periods/{YEAR}/3/units/BID_RPJS/submit",
            headers=world.keys["admin"],
            params={"agency": "DINSOSP3A"},
        )
        assert refused.status_code == 500
        monkeypatch.setattr(webhooks, "record_step", record_step)
        world.step("admin", "submit", quarter=3, unit="BID_RPJS")
        wait_for(lambda: receiver.received, WAIT, "the committed step's event")
    # Only the step that committed was sent: its event is the only one in the outbox.
    with Session(world.engine) as session:
        written = session.exec(
            select(WebhookEvent.message_id)
            .join(WebhookDelivery, col(WebhookDelivery.event_id) == col(WebhookEvent.id))
            .where(WebhookDelivery.subscription_id == created["id"])
        ).all()
    assert receiver.ids() == written and len(written) == 1


def test_a_delivery_is_recorded_only_under_its_own_lease(world, subscriptions):
    """A dispatcher whose lease ran out and was taken over records nothing: the one that
    holds the delivery now does."""
    with Receiver(hang_first(3)) as receiver:
        subscription = world.subscribe(receiver.url)["id"]
        subscriptions.append(subscription)
        sent = world.ping(subscription)
        wait_for(lambda: receiver.received, WAIT, "in flight")
        stale = Attempt(
            delivery_id=sent["id"],
            subscription_id=subscription,
            lease="another-worker#1",
            number=1,
            url=receiver.url,
            message_id="msg_x",
            body=b"{}",
            secrets=(),
            retry_until=dt.datetime.now(dt.UTC),
        )
        with Session(world.engine) as session:
            answer = Answer(200, 5, "ok")
            now = dt.datetime.now(dt.UTC)
            decision = Decision(DeliveryState.delivered, now)
            assert record(session, [Outcome(stale, answer, decision)]) == []
        assert world.delivery(subscription, sent["id"])["state"] == "delivering"
        wait_for(lambda: world.settled(subscription, sent["id"]), WAIT, "delivered")


def test_a_url_is_checked_again_at_each_delivery(world, subscriptions, fake_dns):
    """A name that resolved to a public address when it was set and to a private one by the
    time of the delivery: the attempt is refused before any connection, and retried."""
    subscription = world.subscribe("https://esakip.example.go.id/hook")["id"]
    subscriptions.append(subscription)
    fake_dns["esakip.example.go.id"] = ["10.1.2.3"]
    sent = world.ping(subscription)
    tried = wait_for(
        lambda: (
            (d := world.delivery(subscription, sent["id"]))["attempts"] >= 1
            and d["state"] == "pending"
            and d
        ),
        WAIT,
        "one attempt refused",
    )
    assert tried["last_status_code"] is None
    assert "resolves to 10.1.2.3, a private address" in tried["last_excerpt"]
