"""The dispatcher's rules, pure: what an answer makes of a delivery, the backoff, the
`Retry-After` header, the excerpt kept, and the request pinned to the checked address."""

from __future__ import annotations

import datetime as dt

import httpx
import pytest

from app.core.config import Settings
from app.models import DeliveryState
from app.models.webhooks import MAX_EXCERPT
from app.services.dispatch import (
    Answer,
    Attempt,
    backoff,
    decide,
    excerpt,
    pinned_request,
    retry_after,
)

NOW = dt.datetime(2026, 12, 4, 8, 0, tzinfo=dt.UTC)
SETTINGS = Settings(webhook_retry_base_seconds=20, webhook_retry_cap_seconds=3600)


def attempt(number: int = 1, retry_hours: float = 24) -> Attempt:
    return Attempt(
        delivery_id=1,
        subscription_id=1,
        lease="w#1",
        number=number,
        url="https://esakip.example.go.id/hook",
        message_id="msg_1",
        body=b"{}",
        secrets=("whsec_x",),
        retry_until=NOW + dt.timedelta(hours=retry_hours),
    )


def seconds_until(moment: dt.datetime) -> float:
    return (moment - NOW).total_seconds()


@pytest.mark.parametrize("code", [200, 201, 202, 204, 299])
def test_any_2xx_is_delivered(code):
    decision = decide(Answer(code, 5, ""), attempt(), NOW, SETTINGS, 0.5)
    assert (decision.state, decision.disable) == (DeliveryState.delivered, False)


def test_410_fails_the_delivery_and_disables_the_subscription():
    decision = decide(Answer(410, 5, ""), attempt(), NOW, SETTINGS, 0.5)
    assert (decision.state, decision.disable) == (DeliveryState.failed, True)


@pytest.mark.parametrize("code", [None, 301, 302, 400, 404, 408, 409, 500, 502, 504])
def test_anything_else_is_retried_with_backoff(code):
    decision = decide(Answer(code, 5, ""), attempt(3), NOW, SETTINGS, 0.0)
    assert (decision.state, decision.disable) == (DeliveryState.pending, False)
    assert seconds_until(decision.next_attempt_at) == 40  # half of 20 s doubled twice


@pytest.mark.parametrize("code", [429, 503])
def test_429_and_503_wait_as_retry_after_says_within_the_cap(code):
    asked = decide(Answer(code, 5, "", retry_after=120), attempt(), NOW, SETTINGS, 0.9)
    assert seconds_until(asked.next_attempt_at) == 120
    capped = decide(Answer(code, 5, "", retry_after=10**9), attempt(), NOW, SETTINGS, 0.9)
    assert seconds_until(capped.next_attempt_at) == 3600
    unsaid = decide(Answer(code, 5, ""), attempt(), NOW, SETTINGS, 0.0)
    assert seconds_until(unsaid.next_attempt_at) == 10  # no header: the backoff


def test_the_first_retry_comes_within_30_seconds_and_the_waits_double_up_to_the_cap():
    low = [backoff(n, 20, 3600, 0.0) for n in range(1, 12)]
    high = [backoff(n, 20, 3600, 0.999999) for n in range(1, 12)]
    assert low[:4] == [10, 20, 40, 80] and high[0] < 20 <= 30
    assert max(high) <= 3600 and low[-1] == 1800
    assert backoff(10_000, 20, 3600, 0.5) == 2700  # no overflow far on


def test_retrying_lasts_about_a_day_then_fails():
    """Counted with the settings' defaults: the attempts a day holds, drawn low and high."""
    for draw in (0.0, 0.999999):
        moment, number = NOW, 0
        while True:
            number += 1
            decision = decide(Answer(500, 5, ""), attempt(number), moment, SETTINGS, draw)
            if decision.state is DeliveryState.failed:
                break
            moment = decision.next_attempt_at
        assert 20 <= seconds_until(moment) / 3600 <= 24
        assert 20 < number < 60


def test_a_retry_past_the_window_fails_now():
    late = decide(Answer(500, 5, ""), attempt(1, retry_hours=0.001), NOW, SETTINGS, 0.5)
    assert (late.state, late.next_attempt_at) == (DeliveryState.failed, NOW)
    asked = decide(Answer(429, 5, "", retry_after=7200), attempt(1, 0.5), NOW, SETTINGS, 0.5)
    assert asked.state is DeliveryState.failed


@pytest.mark.parametrize(
    ("header", "seconds"),
    [
        ("120", 120.0),
        (" 0 ", 0.0),
        ("Fri, 04 Dec 2026 08:02:00 GMT", 120.0),
        ("Fri, 04 Dec 2026 07:00:00 GMT", 0.0),  # a date gone by: at once
        ("soon", None),
        ("-5", None),
        ("1.5", None),
        ("", None),
        (None, None),
    ],
)
def test_retry_after_is_seconds_or_an_http_date(header, seconds):
    assert retry_after(header, NOW) == seconds


def test_an_excerpt_is_one_short_line_without_control_characters():
    assert excerpt(b"  Internal\r\n  Server\x00\x1b[31m Error ") == "Internal Server[31m Error"
    assert excerpt("\xff".encode("latin-1")) == "\ufffd"
    assert len(excerpt("x" * 5000)) == MAX_EXCERPT


@pytest.mark.parametrize(
    ("url", "address", "sent_to", "host", "sni"),
    [
        (
            "https://esakip.example.go.id/api/hook?x=1",
            "103.151.20.8",
            "https://103.151.20.8/api/hook?x=1",
            "esakip.example.go.id",
            "esakip.example.go.id",
        ),
        (
            "http://esakip.example.go.id:8080/hook",
            "2001:df0:27a::8",
            "http://[2001:df0:27a::8]:8080/hook",
            "esakip.example.go.id:8080",
            None,
        ),
    ],
)
def test_a_request_connects_to_the_checked_address_and_names_the_host(
    url, address, sent_to, host, sni
):
    request = pinned_request(httpx.AsyncClient(), url, url.split("/")[2].split(":")[0], address, {})
    assert str(request.url) == sent_to
    assert request.headers["host"] == host
    assert request.extensions.get("sni_hostname") == sni


def test_a_lease_shorter_than_a_delivery_is_refused():
    with pytest.raises(ValueError, match="WEBHOOK_LEASE_SECONDS"):
        Settings(webhook_timeout_seconds=30, webhook_lease_seconds=30)
