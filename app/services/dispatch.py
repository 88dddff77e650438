"""The dispatcher (`iki worker`): it posts the outbox's events to their subscriptions, signed,
at least once, in commit order per subscription and agency, and records each attempt.

A round: claim the due heads of lanes (`webhooks.claimable_deliveries`) and commit the
claim (`delivering`, a lease, one more attempt), so that another dispatcher skips them;
post each (at most WEBHOOK_CONCURRENCY at once, each bounded by WEBHOOK_TIMEOUT_SECONDS);
then record the answer on the delivery, in a transaction of its own that is audited
(`deliver`). A dispatcher that stops between the claim and the record leaves the delivery
`delivering` until its lease runs out; any dispatcher then claims it again, and the
receiver gets it again with the same `webhook-id`.

What an answer decides (`decide`, a pure rule): a 2xx is delivered; 410 Gone fails the
delivery and sets the subscription inactive (`disabled_reason` `gone`); 429 and 503 are
retried after their `Retry-After`; anything else (another status, a redirect, a timeout, a
refused connection, a URL that now resolves to a refused address) is retried with
exponential backoff and jitter, until `retry_until` (WEBHOOK_RETRY_HOURS after the
delivery was made), then `failed`.

Plain tables, no task library: the outbox must be written in the workflow step's own
transaction on SQLite and on PostgreSQL alike, which a broker-backed queue (Celery, RQ,
Dramatiq) cannot do, and the libraries that keep their queue in the database serve
PostgreSQL only.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import email.utils
import json
import logging
import os
import random
import socket
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from importlib.metadata import version
from typing import Any

import httpx
from sqlalchemy import Engine, update
from sqlmodel import Session, col, select

from app.core.config import Settings, get_settings
from app.core.db import for_writes, utcnow
from app.core.text import without_controls
from app.models import WebhookDelivery, WebhookEvent, WebhookSubscription
from app.models.webhooks import MAX_EXCERPT, DeliveryState
from app.services import audit
from app.services.common import by_id
from app.services.webhook_secrets import UnreadableSecret, sign, signing_secrets
from app.services.webhook_urls import UnsafeUrl, check_url
from app.services.webhooks import claimable_deliveries

logger = logging.getLogger("app.webhooks")

USER_AGENT = f"iki-webhooks/{version('iki-service')}"
READ_AT_MOST = 4096
"""Bytes of an answer read, for its excerpt; the rest is not waited for."""
GONE = "gone"
"""The `disabled_reason` of a subscription whose receiver answered 410 Gone."""
RETRY_AFTER_CODES = frozenset({429, 503})


@dataclass(frozen=True)
class Attempt:
    """A delivery claimed by a dispatcher: what to post where, and with which secrets."""

    delivery_id: int
    subscription_id: int
    lease: str
    number: int
    """This attempt's number, from 1."""
    url: str
    message_id: str
    body: bytes
    secrets: tuple[str, ...]
    retry_until: dt.datetime
    problem: str | None = None
    """Why it cannot be posted (a secret the configured keys cannot read): it fails as an
    attempt without an answer does, and is retried."""


@dataclass(frozen=True)
class Answer:
    """What an attempt got: a status (none when no answer came), how long it took, the
    start of the answer's body or of the error, and the wait a 429 or 503 asked for."""

    status_code: int | None
    latency_ms: int
    excerpt: str
    retry_after: float | None = None


@dataclass(frozen=True)
class Decision:
    """What becomes of a delivery after an attempt."""

    state: DeliveryState
    next_attempt_at: dt.datetime
    disable: bool = False
    """Set the subscription inactive (its receiver answered 410 Gone)."""


# The rules -------------------------------------------------------------------------------------


def backoff(number: int, base: float, cap: float, draw: float) -> float:
    """Seconds to wait after the `number`-th failed attempt: `base` doubled at each attempt
    up to `cap`, times a factor between 0.5 and 1 drawn from `draw` (in [0, 1)), so that
    receivers coming back are not all retried at once."""
    nominal = min(cap, base * 2 ** min(number - 1, 60))
    return nominal * (0.5 + draw / 2)


def retry_after(header: str | None, now: dt.datetime) -> float | None:
    """The seconds a `Retry-After` header asks to wait (a number of seconds, or an HTTP
    date); None when it is absent or unreadable."""
    if header is None:
        return None
    text = header.strip()
    if text.isdigit():
        return float(int(text[:12]))
    try:
        when = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    return max(0.0, (when - now).total_seconds())


def decide(
    answer: Answer, attempt: Attempt, now: dt.datetime, settings: Settings, draw: float
) -> Decision:
    """What an answer makes of a delivery (see the module's text)."""
    code = answer.status_code
    if code is not None and 200 <= code < 300:
        return Decision(DeliveryState.delivered, now)
    if code == 410:
        return Decision(DeliveryState.failed, now, disable=True)
    cap = settings.webhook_retry_cap_seconds
    if code in RETRY_AFTER_CODES and answer.retry_after is not None:
        delay = min(answer.retry_after, cap)
    else:
        delay = backoff(attempt.number, settings.webhook_retry_base_seconds, cap, draw)
    due = now + dt.timedelta(seconds=delay)
    if due > attempt.retry_until:
        return Decision(DeliveryState.failed, now)
    return Decision(DeliveryState.pending, due)


def excerpt(raw: bytes | str) -> str:
    """At most MAX_EXCERPT characters of an answer or an error, on one line, without
    control characters."""
    text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else raw
    return " ".join(without_controls(text).split())[:MAX_EXCERPT]


# Posting ---------------------------------------------------------------------------------------


def pinned_request(
    client: httpx.AsyncClient, url: str, host: str, address: str, headers: dict[str, str]
) -> httpx.Request:
    """A POST to `url` that connects to `address`, the one its host was checked to resolve
    to (a second resolution could answer another), and still names the host: in `Host`,
    and in TLS (the server name sent and the certificate checked)."""
    target = httpx.URL(url)
    request = client.build_request(
        "POST",
        target.copy_with(host=address),
        headers={"Host": target.netloc.decode("ascii"), **headers},
    )
    if target.scheme == "https":
        request.extensions["sni_hostname"] = host
    return request


async def post(client: httpx.AsyncClient, attempt: Attempt, settings: Settings) -> Answer:
    """Post one attempt and read the start of the answer, within WEBHOOK_TIMEOUT_SECONDS
    from the URL's check to the last byte read. Never raises for what the receiver or the
    network does."""
    started = time.monotonic()

    def answer(code: int | None, text: bytes | str, wait: float | None = None) -> Answer:
        return Answer(code, round((time.monotonic() - started) * 1000), excerpt(text), wait)

    if attempt.problem is not None:
        return answer(None, attempt.problem)
    limit = settings.webhook_timeout_seconds
    try:
        async with asyncio.timeout(limit):
            checked = await asyncio.to_thread(check_url, attempt.url)
            sent_at = utcnow()
            headers = {
                "Content-Type": "application/json",
                "webhook-id": attempt.message_id,
                "webhook-timestamp": str(int(sent_at.timestamp())),
                "webhook-signature": sign(
                    attempt.secrets, attempt.message_id, sent_at, attempt.body
                ),
            }
            request = pinned_request(
                client, attempt.url, checked.host, str(checked.addresses[0]), headers
            )
            request.stream = httpx.ByteStream(attempt.body)
            request.headers["Content-Length"] = str(len(attempt.body))
            response = await client.send(request, stream=True)
            try:
                body = b""
                async for chunk in response.aiter_raw():
                    body += chunk
                    if len(body) >= READ_AT_MOST:
                        break
            finally:
                await response.aclose()
    except TimeoutError:
        return answer(None, f"no answer within {limit:g} s")
    except UnsafeUrl as error:
        return answer(None, error.detail)
    except httpx.HTTPError as error:
        return answer(None, f"{type(error).__name__}: {error}")
    return answer(
        response.status_code, body, retry_after(response.headers.get("retry-after"), utcnow())
    )


# Claiming and recording ------------------------------------------------------------------------


def body(payload: dict[str, Any]) -> bytes:
    """The bytes posted for an event: its JSON as stored, compact, in UTF-8."""
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()


def worker_name() -> str:
    """This dispatcher's name in `leased_by`: host and process."""
    return f"{socket.gethostname()[:60]}:{os.getpid()}"


def claim(session: Session, lease: str, now: dt.datetime, limit: int) -> list[Attempt]:
    """Claim at most `limit` due heads of lanes under `lease` and commit the claim; what to
    post for each. Two statements and two reads, whatever their number."""
    settings = get_settings()
    rows = list(session.exec(claimable_deliveries(now, limit)))
    if not rows:
        session.rollback()
        return []
    session.exec(
        update(WebhookDelivery)
        .where(col(WebhookDelivery.id).in_([row.id for row in rows]))
        .values(
            state=DeliveryState.delivering,
            lease_until=now + dt.timedelta(seconds=settings.webhook_lease_seconds),
            leased_by=lease,
            attempts=WebhookDelivery.attempts + 1,
        )
        .execution_options(synchronize_session=False)
    )
    events = by_id(session, WebhookEvent, {row.event_id for row in rows})
    subscriptions = by_id(session, WebhookSubscription, {row.subscription_id for row in rows})
    attempts = []
    for row in rows:
        assert row.id is not None
        event, subscription = events[row.event_id], subscriptions[row.subscription_id]
        try:
            secrets, problem = tuple(signing_secrets(subscription, now)), None
        except UnreadableSecret as error:
            secrets, problem = (), str(error)
        attempts.append(
            Attempt(
                delivery_id=row.id,
                subscription_id=row.subscription_id,
                lease=lease,
                number=row.attempts + 1,
                url=subscription.url,
                message_id=event.message_id,
                body=body(event.payload),
                secrets=secrets,
                retry_until=row.retry_until,
                problem=problem,
            )
        )
    session.commit()  # after the rows were read: the commit expires them
    return attempts


@dataclass(frozen=True)
class Outcome:
    """An attempt made: its answer, and what the answer decided."""

    attempt: Attempt
    answer: Answer
    decision: Decision


def record(session: Session, outcomes: Sequence[Outcome]) -> list[Outcome]:
    """Record attempts' answers and what they decided, audited (`deliver`; `gone` for a
    subscription a 410 sets inactive), in one transaction that it commits; the outcomes
    recorded. An outcome whose delivery is no longer its attempt's (its lease ran out and
    another dispatcher claimed it, or the subscription was deleted) is left out: the
    delivery stays as it is."""
    ids = [outcome.attempt.delivery_id for outcome in outcomes]
    held = {
        row.id: row
        for row in session.exec(
            select(WebhookDelivery)
            .where(col(WebhookDelivery.id).in_(ids))
            .order_by(col(WebhookDelivery.id))  # locked in the same order by every dispatcher
            .with_for_update()
        )
    }
    mine = [
        outcome
        for outcome in outcomes
        if (row := held.get(outcome.attempt.delivery_id)) is not None
        and row.state is DeliveryState.delivering
        and row.leased_by == outcome.attempt.lease
    ]
    now = utcnow()
    with audit.action(session, "deliver"):
        for outcome in mine:
            delivery, answer = held[outcome.attempt.delivery_id], outcome.answer
            delivery.state = outcome.decision.state
            delivery.next_attempt_at = outcome.decision.next_attempt_at
            delivery.lease_until = None
            delivery.leased_by = None
            delivery.last_status_code = answer.status_code
            delivery.last_latency_ms = answer.latency_ms
            delivery.last_excerpt = answer.excerpt or None
            if outcome.decision.state is DeliveryState.delivered:
                delivery.delivered_at = now
            session.add(delivery)
    gone = {o.attempt.subscription_id for o in mine if o.decision.disable}
    with audit.action(session, GONE):
        for subscription in by_id(session, WebhookSubscription, gone).values():
            if subscription.active:
                subscription.active = False
                subscription.disabled_reason = GONE
                subscription.updated_at = now
                session.add(subscription)
    session.commit()
    return mine


# The loop --------------------------------------------------------------------------------------


class Dispatcher:
    """Delivers from the outbox of `engine` until told to stop (`run`)."""

    def __init__(
        self,
        engine: Engine,
        *,
        name: str | None = None,
        draw: Callable[[], float] = random.random,
    ) -> None:
        self.engine = for_writes(engine)  # each of its transactions writes
        self.settings = get_settings()
        self.name = name or worker_name()
        self.draw = draw
        self.claims = 0

    def _session(self) -> Session:
        session = Session(self.engine)
        audit.act_as(session, "webhook-worker", None, f"worker-{self.name}"[:64], None)
        return session

    def claim_due(self, limit: int) -> list[Attempt]:
        """Claim what is due now, at most `limit`."""
        self.claims += 1
        with self._session() as session:
            return claim(session, f"{self.name}#{self.claims}", utcnow(), limit)

    def finish(self, made: Sequence[tuple[Attempt, Answer]]) -> list[Outcome]:
        """Decide and record attempts made, in one transaction; their outcomes."""
        now = utcnow()
        outcomes = [
            Outcome(attempt, answer, decide(answer, attempt, now, self.settings, self.draw()))
            for attempt, answer in made
        ]
        with self._session() as session:
            recorded = {id(outcome) for outcome in record(session, outcomes)}
        for outcome in outcomes:
            attempt, answer, decision = outcome.attempt, outcome.answer, outcome.decision
            delivered = decision.state is DeliveryState.delivered
            logger.log(
                logging.INFO if delivered else logging.WARNING,
                "webhook delivery %s (subscription %s, attempt %s): %s in %s ms, %s%s",
                attempt.delivery_id,
                attempt.subscription_id,
                attempt.number,
                answer.status_code or answer.excerpt,
                answer.latency_ms,
                decision.state.value,
                "" if id(outcome) in recorded else " (not recorded: its lease was taken over)",
            )
        return outcomes

    async def _post(self, client: httpx.AsyncClient, attempt: Attempt) -> tuple[Attempt, Answer]:
        return attempt, await post(client, attempt, self.settings)

    async def _record(self, finished: set[asyncio.Task[tuple[Attempt, Answer]]]) -> None:
        made = []
        for task in finished:
            try:
                made.append(task.result())
            except Exception:  # a bug in posting: the lease runs out and it is claimed again
                logger.exception("a webhook delivery failed unexpectedly")
        if not made:
            return
        try:
            await asyncio.to_thread(self.finish, made)
        except Exception:  # the database is away: the leases run out, they are claimed again
            logger.exception("webhook deliveries could not be recorded")

    async def run(self, stop: asyncio.Event) -> None:
        """Claim, post and record until `stop` is set, then let the deliveries in flight end
        (each is bounded by WEBHOOK_TIMEOUT_SECONDS) and record them.

        A round records what was posted since the last one, in one transaction, then claims
        what is due, in another: two transactions a round, whatever the number of
        deliveries, so that the database (SQLite's one writer above all) is not asked once
        per delivery."""
        settings = self.settings
        timeout = httpx.Timeout(
            settings.webhook_timeout_seconds, connect=settings.webhook_connect_timeout_seconds
        )
        running: set[asyncio.Task[tuple[Attempt, Answer]]] = set()
        stopping = asyncio.ensure_future(stop.wait())
        # Threads for the database and the URL checks: one per delivery in flight and one
        # for the rounds, so that none waits for another's thread.
        threads = ThreadPoolExecutor(settings.webhook_concurrency + 1, "webhook-dispatch")
        asyncio.get_running_loop().set_default_executor(threads)
        pause = settings.webhook_poll_seconds
        async with httpx.AsyncClient(
            timeout=timeout,
            follow_redirects=False,
            trust_env=False,  # no proxy from the environment: the checked address is the peer
            headers={"User-Agent": USER_AGENT},
            limits=httpx.Limits(max_connections=settings.webhook_concurrency),
        ) as client:
            while not stop.is_set():
                finished = {task for task in running if task.done()}
                running -= finished
                await self._record(finished)
                free = settings.webhook_concurrency - len(running)
                claimed: list[Attempt] = []
                if free > 0:
                    try:
                        claimed = await asyncio.to_thread(self.claim_due, free)
                        pause = settings.webhook_poll_seconds
                    except Exception:  # the database is away: wait longer each time
                        logger.exception("webhook dispatcher cannot claim deliveries")
                        pause = min(30.0, pause * 2)
                for attempt in claimed:
                    running.add(asyncio.create_task(self._post(client, attempt)))
                if claimed and len(claimed) == free:
                    continue  # more may be due at once
                await asyncio.wait(
                    {*running, stopping}, timeout=pause, return_when=asyncio.FIRST_COMPLETED
                )
            if running:
                await asyncio.wait(running, timeout=settings.webhook_timeout_seconds + 5)
                await self._record({task for task in running if task.done()})
        stopping.cancel()
