"""Webhook subscriptions through HTTP: create, read, change, delete; a secret answered once
and never again (not in reads, lists nor the audit trail), rotated with a grace period;
a ping that puts one event in the outbox for one subscription; the deliveries; strict
input; the URL check against private addresses; the events in the OpenAPI document."""

from __future__ import annotations

import base64
import datetime as dt
import json
from typing import Any

import pytest
from sqlmodel import Session, func, select
from standardwebhooks import Webhook, WebhookVerificationError

from app.core.db import utcnow
from app.models import (
    AuditEvent,
    DeliveryState,
    Role,
    WebhookDelivery,
    WebhookEvent,
    WebhookEventType,
    WebhookSubscription,
)
from app.schemas.webhooks import EVENT_SCHEMAS
from app.services.webhook_secrets import decrypt, signature
from tests.api.helpers import assert_problem

API = "/api/v1/webhooks"
URL = "https://esakip.probolinggokota.go.id/api/iki/webhook"

pytestmark = pytest.mark.usefixtures("fake_dns")


def subscribe(client, headers, **fields: Any) -> dict[str, Any]:
    body = {"url": URL, "events": ["achievements.verified"], **fields}
    created = client.post(API, headers=headers, json=body)
    assert created.status_code == 201, created.text
    return created.json()


def count(session: Session, model: type) -> int:
    return session.exec(select(func.count()).select_from(model)).one()


def trail(session: Session, entity: str) -> list[AuditEvent]:
    return list(
        session.exec(
            select(AuditEvent).where(AuditEvent.entity == entity).order_by(AuditEvent.id)  # type: ignore[arg-type]
        )
    )


# The secret ----------------------------------------------------------------------------------


def test_the_secret_is_answered_once_and_never_again(client, session, admin):
    created = client.post(
        API, headers=admin, json={"url": URL, "events": ["period.verified"], "agency": "DINSOSP3A"}
    )
    assert created.status_code == 201, created.text
    body = created.json()
    secret = body["secret"]
    assert secret.startswith("whsec_") and len(base64.b64decode(secret[6:])) == 32
    assert created.headers["Location"] == f"{API}/{body['id']}"
    assert created.headers["Cache-Control"] == "no-store"
    assert (body["url"], body["events"], body["active"]) == (URL, ["period.verified"], True)
    assert body["agency"]["code"] == "DINSOSP3A" and body["unit"] is None

    # Never again: not in a read, a list, nor anywhere in the audit trail.
    read = client.get(f"{API}/{body['id']}", headers=admin)
    listed = client.get(API, headers=admin)
    assert read.status_code == 200 and listed.status_code == 200
    assert "secret" not in read.json() and read.json() == {
        k: v for k, v in body.items() if k != "secret"
    }
    assert listed.json()["items"] == [read.json()]
    audit = client.get("/api/v1/audit", headers=admin, params={"entity": "webhook_subscription"})
    (event,) = audit.json()["items"]
    assert event["action"] == "create" and event["after"]["url"] == URL
    for text in (read.text, listed.text, audit.text):
        assert secret not in text and secret[6:] not in text and "whsec_" not in text
    assert not {"secret_encrypted", "previous_secret_encrypted"} & set(event["after"])

    # Stored encrypted (the service signs with it), not in clear.
    row = session.get(WebhookSubscription, body["id"])
    assert secret not in row.secret_encrypted and decrypt(row.secret_encrypted) == secret


def test_deliveries_are_signed_so_that_standard_webhooks_verifies_them(client, session, admin):
    body = subscribe(client, admin)
    row = session.get(WebhookSubscription, body["id"])
    payload = b'{"type":"ping","timestamp":"2025-04-01T00:00:00Z","data":{}}'
    now = utcnow()
    headers = {
        "webhook-id": "msg_1",
        "webhook-timestamp": str(int(now.timestamp())),
        "webhook-signature": signature(row, "msg_1", now, payload, now),
    }
    assert Webhook(body["secret"]).verify(payload, headers) == json.loads(payload)
    with pytest.raises(WebhookVerificationError):
        Webhook(body["secret"]).verify(payload + b" ", headers)


def test_a_rotated_secret_signs_beside_the_old_one_for_the_grace_period(client, session, admin):
    body = subscribe(client, admin)
    old = body["secret"]
    before = utcnow()
    rotated = client.post(f"{API}/{body['id']}/rotate-secret", headers=admin)
    assert rotated.status_code == 200, rotated.text
    assert rotated.headers["Cache-Control"] == "no-store"
    new = rotated.json()["secret"]
    assert new.startswith("whsec_") and new != old
    until = dt.datetime.fromisoformat(rotated.json()["previous_secret_until"])
    assert dt.timedelta(hours=23.9) < until - before < dt.timedelta(hours=24.1)
    read = client.get(f"{API}/{body['id']}", headers=admin).json()
    assert read["previous_secret_until"] == rotated.json()["previous_secret_until"]

    row = session.get(WebhookSubscription, body["id"])
    payload = b'{"type":"ping"}'
    # Signed now (within the grace period), and signed once it has run out.
    for now, accepted in ((utcnow(), {old, new}), (until + dt.timedelta(seconds=1), {new})):
        headers = {
            "webhook-id": "msg_2",
            "webhook-timestamp": str(int(utcnow().timestamp())),
            "webhook-signature": signature(row, "msg_2", utcnow(), payload, now),
        }
        assert len(headers["webhook-signature"].split(" ")) == len(accepted)
        for secret in (old, new):
            if secret in accepted:
                Webhook(secret).verify(payload, headers)
            else:
                with pytest.raises(WebhookVerificationError):
                    Webhook(secret).verify(payload, headers)

    # The rotation is audited, without either secret.
    events = trail(session, "webhook_subscription")
    assert [e.action for e in events] == ["create", "rotate_secret"]
    text = json.dumps([e.before for e in events] + [e.after for e in events])
    assert old not in text and new not in text and "secret_encrypted" not in text
    assert "previous_secret_until" in events[1].after


def test_a_grace_period_of_zero_keeps_no_old_secret(client, session, admin, monkeypatch):
    from app.core.config import get_settings

    monkeypatch.setattr(get_settings(), "webhook_secret_grace_hours", 0)
    body = subscribe(client, admin)
    rotated = client.post(f"{API}/{body['id']}/rotate-secret", headers=admin).json()
    assert rotated["previous_secret_until"] is None
    row = session.get(WebhookSubscription, body["id"])
    assert row.previous_secret_encrypted is None
    assert signature(row, "m", utcnow(), b"x", utcnow()).count("v1,") == 1


# Validation ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"events": ["period.approved"]}, "body.events.0"),
        ({"events": ["ping"]}, "body.events.0"),
        ({"events": []}, "body.events"),
        ({"url": "ftp://esakip.probolinggokota.go.id/hook"}, "body.url"),
        ({"url": "esakip.probolinggokota.go.id/hook"}, "body.url"),
        ({"url": "https://user:pass@esakip.probolinggokota.go.id/hook"}, "body.url"),
        ({"url": "https://esakip.probolinggokota.go.id/hook#x"}, "body.url"),
        ({"url": "https://esakip.probolinggokota.go.id/a b"}, "body.url"),
        ({"url": "https:///hook"}, "body.url"),
        ({"url": "https://esakip.probolinggokota.go.id:99999/"}, "body.url"),
        ({"url": "https://esakip.probolinggokota.go.id/" + "a" * 1970}, "body.url"),
        ({"active": "yes"}, "body.active"),
        ({"secret": "whsec_mine"}, "body.secret"),
        ({"agency": "dinsos"}, "body.agency"),
    ],
    ids=lambda value: str(value)[:40],
)
def test_bad_input_is_refused_and_nothing_is_stored(client, session, admin, body, field):
    sent = {"url": URL, "events": ["achievements.verified"]} | body
    answer = assert_problem(client.post(API, headers=admin, json=sent), 422, "validation_error")
    assert field in {e["field"] for e in answer["errors"]}, answer["errors"]
    assert count(session, WebhookSubscription) == 0


def test_a_url_of_2000_characters_is_taken(client, admin):
    url = URL + "/" + "a" * (2000 - len(URL) - 1)
    assert len(url) == 2000
    assert subscribe(client, admin, url=url)["url"] == url


@pytest.mark.parametrize(
    ("body", "field"),
    [({"agency": "DINKES"}, "agency"), ({"unit": "BID_NONE"}, "unit")],
)
def test_unknown_filters_are_invalid_input(client, session, admin, body, field):
    sent = {"url": URL, "events": ["period.verified"]} | body
    answer = assert_problem(client.post(API, headers=admin, json=sent), 422, "invalid_input")
    assert answer["field"] == field
    assert count(session, WebhookSubscription) == 0


@pytest.mark.parametrize(
    "url",
    [
        "http://169.254.169.254/latest/meta-data/",
        "http://10.0.0.1/",
        "http://[::1]/",
        "http://sneaky.example/hook",
        "https://rebound.example/hook",
        "https://nowhere.example/hook",
    ],
)
def test_a_url_to_a_private_address_is_refused_at_create_and_update(client, session, admin, url):
    answer = client.post(API, headers=admin, json={"url": url, "events": ["period.verified"]})
    assert assert_problem(answer, 422, "unsafe_url")["field"] == "url"
    assert count(session, WebhookSubscription) == 0
    created = subscribe(client, admin)
    changed = client.patch(f"{API}/{created['id']}", headers=admin, json={"url": url})
    assert_problem(changed, 422, "unsafe_url")
    assert client.get(f"{API}/{created['id']}", headers=admin).json()["url"] == URL


def test_loopback_is_allowed_when_the_setting_says_so(client, admin, monkeypatch):
    from app.core.config import get_settings

    monkeypatch.setattr(get_settings(), "webhook_allow_loopback", True)
    assert subscribe(client, admin, url="http://127.0.0.1:8765/hook")["url"].startswith("http://1")
    assert subscribe(client, admin, url="http://sneaky.example/hook")
    refused = {"url": "http://10.0.0.1/", "events": ["period.verified"]}
    assert_problem(client.post(API, headers=admin, json=refused), 422, "unsafe_url")


# Changes and deletion --------------------------------------------------------------------------


def test_a_subscription_changes_field_by_field(client, session, admin):
    body = subscribe(client, admin)
    one = f"{API}/{body['id']}"
    etag = client.get(one, headers=admin).headers["ETag"]

    unit = client.patch(one, headers=admin, json={"unit": "BID_PSM"})
    assert unit.status_code == 200, unit.text
    assert (unit.json()["agency"]["code"], unit.json()["unit"]["code"]) == ("DINSOSP3A", "BID_PSM")
    assert_problem(
        client.patch(one, headers={**admin, "If-Match": etag}, json={}), 412, "precondition_failed"
    )

    events = client.patch(
        one,
        headers=admin,
        json={"events": ["period.reopened", "period.submitted", "period.reopened"]},
    )
    assert events.json()["events"] == ["period.submitted", "period.reopened"]  # each once, in order
    assert events.json()["unit"]["code"] == "BID_PSM"  # left out: unchanged
    cleared = client.patch(one, headers=admin, json={"unit": None})
    assert (cleared.json()["agency"]["code"], cleared.json()["unit"]) == ("DINSOSP3A", None)
    everyone = client.patch(one, headers=admin, json={"agency": None})
    assert (everyone.json()["agency"], everyone.json()["unit"]) == (None, None)
    assert_problem(client.patch(one, headers=admin, json={"events": None}), 422, "validation_error")
    assert_problem(client.patch(one, headers=admin, json={"url": None}), 422, "validation_error")

    # The service disabled it (a receiver answered 410): active again, the reason goes.
    row = session.get(WebhookSubscription, body["id"])
    row.active, row.disabled_reason = False, "gone"
    session.add(row)
    session.flush()
    assert client.get(one, headers=admin).json()["disabled_reason"] == "gone"
    revived = client.patch(one, headers=admin, json={"active": True})
    assert (revived.json()["active"], revived.json()["disabled_reason"]) == (True, None)

    changes = [e for e in trail(session, "webhook_subscription") if e.action == "update"]
    assert len(changes) == 6  # five through the API, and the service's `gone`
    assert all(body["secret"] not in json.dumps([e.before, e.after]) for e in changes)
    assert all("secret_encrypted" not in (e.after or {}) for e in changes)


def test_a_deleted_subscription_goes_with_its_deliveries(client, session, admin):
    kept = subscribe(client, admin)
    gone = subscribe(client, admin)
    for body in (kept, gone):
        assert client.post(f"{API}/{body['id']}/ping", headers=admin).status_code == 202
    etag = client.get(f"{API}/{gone['id']}", headers=admin).headers["ETag"]
    deleted = client.delete(f"{API}/{gone['id']}", headers={**admin, "If-Match": etag})
    assert deleted.status_code == 204, deleted.text
    assert_problem(client.get(f"{API}/{gone['id']}", headers=admin), 404, "not_found")
    assert [d.subscription_id for d in session.exec(select(WebhookDelivery))] == [kept["id"]]
    assert count(session, WebhookEvent) == 2  # the outbox keeps its events
    (event,) = [e for e in trail(session, "webhook_subscription") if e.action == "delete"]
    assert event.before["url"] == URL and "secret_encrypted" not in event.before


def test_only_an_admin_manages_webhooks(client, make_key, admin):
    body = subscribe(client, admin)
    for role in (Role.reader, Role.auditor, Role.verifier):
        headers = make_key(role)
        assert_problem(client.get(API, headers=headers), 403, "forbidden")
        assert_problem(
            client.post(f"{API}/{body['id']}/rotate-secret", headers=headers), 403, "forbidden"
        )


# Ping and deliveries --------------------------------------------------------------------------


def test_a_ping_puts_one_event_in_the_outbox_for_that_subscription_only(client, session, admin):
    pinged = subscribe(client, admin)
    other = subscribe(client, admin, events=list(WebhookEventType))
    answer = client.post(f"{API}/{pinged['id']}/ping", headers=admin)
    assert answer.status_code == 202, answer.text
    delivery = answer.json()
    assert (delivery["state"], delivery["attempts"], delivery["last_status_code"]) == (
        "pending",
        0,
        None,
    )
    assert delivery["event"]["type"] == "ping" and delivery["event"]["agency"] is None

    (event,) = session.exec(select(WebhookEvent)).all()
    (stored,) = session.exec(select(WebhookDelivery)).all()
    assert (stored.subscription_id, stored.event_id, stored.id) == (
        pinged["id"],
        event.id,
        delivery["id"],
    )
    assert event.message_id == delivery["event"]["message_id"] and event.message_id.startswith(
        "msg_"
    )
    assert event.payload["type"] == "ping" and event.payload["data"] == {
        "subscription": pinged["id"],
        "message": "ping",
    }
    EVENT_SCHEMAS["ping"].model_validate(event.payload)
    assert client.get(f"{API}/{other['id']}/deliveries", headers=admin).json()["total"] == 0
    (audited,) = [e for e in trail(session, "webhook_delivery")]
    assert audited.action == "ping"

    # An inactive subscription is not pinged: nothing would deliver it.
    client.patch(f"{API}/{other['id']}", headers=admin, json={"active": False})
    assert_problem(client.post(f"{API}/{other['id']}/ping", headers=admin), 409, "conflict")
    assert count(session, WebhookEvent) == 1
    assert_problem(client.post(f"{API}/999999/ping", headers=admin), 404, "not_found")


def test_the_deliveries_are_listed_newest_first_and_paged(client, session, admin):
    body = subscribe(client, admin)
    ids = [client.post(f"{API}/{body['id']}/ping", headers=admin).json()["id"] for _ in range(3)]
    deliveries = f"{API}/{body['id']}/deliveries"
    listed = client.get(deliveries, headers=admin, params={"limit": 2})
    assert listed.status_code == 200, listed.text
    page = listed.json()
    assert (page["total"], page["limit"], [d["id"] for d in page["items"]]) == (3, 2, ids[::-1][:2])
    item = page["items"][0]
    assert set(item) == {
        "id",
        "event",
        "state",
        "attempts",
        "next_attempt_at",
        "last_status_code",
        "last_latency_ms",
        "last_excerpt",
        "delivered_at",
        "retry_until",
        "created_at",
    }
    rest = client.get(deliveries, headers=admin, params={"limit": 2, "offset": 2}).json()
    assert [d["id"] for d in rest["items"]] == ids[:1]

    row = session.get(WebhookDelivery, ids[0])
    row.state, row.attempts = DeliveryState.failed, 12
    row.last_status_code, row.last_latency_ms = 500, 87
    row.last_excerpt = "Internal Server Error"
    session.add(row)
    session.flush()
    failed = client.get(deliveries, headers=admin, params={"state": "failed"}).json()
    assert failed["total"] == 1
    assert {
        k: failed["items"][0][k]
        for k in ("state", "attempts", "last_status_code", "last_latency_ms", "last_excerpt")
    } == {
        "state": "failed",
        "attempts": 12,
        "last_status_code": 500,
        "last_latency_ms": 87,
        "last_excerpt": "Internal Server Error",
    }
    assert_problem(
        client.get(deliveries, headers=admin, params={"state": "lost"}), 422, "validation_error"
    )
    assert_problem(client.get(f"{API}/999999/deliveries", headers=admin), 404, "not_found")


def test_subscriptions_are_listed_by_filter(client, admin):
    a = subscribe(client, admin, agency="DINSOSP3A")
    b = subscribe(client, admin, events=["period.verified"], active=False)

    def ids(**params: Any) -> list[int]:
        answer = client.get(API, headers=admin, params=params)
        assert answer.status_code == 200, answer.text
        return [item["id"] for item in answer.json()["items"]]

    assert ids() == [a["id"], b["id"]]
    assert ids(active="true") == [a["id"]] and ids(active="false") == [b["id"]]
    assert ids(event="period.verified") == [b["id"]]
    assert ids(agency="DINSOSP3A") == [a["id"]] and ids(agency="DINKES") == []


# The document ---------------------------------------------------------------------------------


def test_the_openapi_document_describes_each_event_as_a_webhook(client):
    spec = client.get("/openapi.json").json()
    assert spec["openapi"].startswith("3.1")
    hooks = spec["webhooks"]
    assert set(hooks) == {t.value for t in WebhookEventType} | {"ping"}
    schemas = spec["components"]["schemas"]
    for kind, operation in hooks.items():
        post = operation["post"]
        ref = post["requestBody"]["content"]["application/json"]["schema"]["$ref"]
        model = ref.rsplit("/", 1)[1]
        assert model == EVENT_SCHEMAS[kind].__name__
        allowed = schemas[model]["properties"]["type"]
        assert kind in allowed.get("enum", [allowed.get("const")])
        headers = {p["name"] for p in post["parameters"] if p["in"] == "header"}
        assert headers == {"webhook-id", "webhook-timestamp", "webhook-signature"}
    items = schemas["VerifiedAchievements"]["properties"]["items"]["items"]["$ref"]
    assert items.endswith("/AchievementPublic")
    assert schemas["PeriodEvent"]["properties"]["data"]["$ref"].endswith("/PeriodPublic")
    events = schemas["WebhookCreate"]["properties"]["events"]["items"]["$ref"].rsplit("/", 1)[1]
    assert schemas[events]["enum"] == [t.value for t in WebhookEventType]
