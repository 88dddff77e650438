"""Webhook receivers on 127.0.0.1 for tests: HTTP servers that record what they are posted
and answer from a script (accept, fail N times, 429 with Retry-After, hang, 410), and the
dispatcher run in a thread of the test's process."""

from __future__ import annotations

import asyncio
import http.server
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Engine
from sqlmodel import Session, func, select

from app.core.db import utcnow
from app.models import DeliveryState, WebhookDelivery, WebhookEventType, WebhookSubscription
from app.models.webhooks import PING
from app.schemas.webhooks import WebhookCreate
from app.services import webhooks
from app.services.dispatch import Dispatcher


@dataclass(frozen=True)
class Received:
    """One POST as the receiver read it."""

    at: float
    headers: dict[str, str]
    body: bytes

    @property
    def message_id(self) -> str:
        return self.headers["webhook-id"]


@dataclass(frozen=True)
class Reply:
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    hold: float = 0.0
    """Seconds to wait before answering (a receiver that hangs)."""


Script = Callable[[int, Received], Reply]
"""The reply to the n-th request (from 0) of a receiver."""


def accept(_: int, __: Received) -> Reply:
    return Reply()


def fail_times(times: int, status: int = 500, headers: dict[str, str] | None = None) -> Script:
    """Answer `status` to the first `times` requests, then accept."""
    return lambda n, _: Reply(status, headers or {}) if n < times else Reply()


def hang_first(seconds: float) -> Script:
    """Hold the first request `seconds` before answering it, then accept at once."""
    return lambda n, _: Reply(hold=seconds) if n == 0 else Reply()


class Receiver:
    """An HTTP server on 127.0.0.1 answering POSTs from `script`; what it was posted, in the
    order the requests arrived."""

    def __init__(self, script: Script = accept) -> None:
        self.script = script
        self.received: list[Received] = []
        self._lock = threading.Lock()
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                got = Received(
                    time.monotonic(),
                    {k.lower(): v for k, v in self.headers.items()},
                    self.rfile.read(length),
                )
                with receiver._lock:
                    number = len(receiver.received)
                    receiver.received.append(got)
                reply = receiver.script(number, got)
                if reply.hold:
                    time.sleep(reply.hold)
                body = b"ok" if 200 <= reply.status < 300 else b"not now"
                try:
                    self.send_response(reply.status)
                    for name, value in reply.headers.items():
                        self.send_header(name, value)
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                except OSError:  # the dispatcher gave up waiting and closed the connection
                    pass

            def log_message(self, *args: Any) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"

    def __enter__(self) -> Receiver:
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *_: object) -> None:
        self.server.shutdown()
        self.server.server_close()

    def ids(self) -> list[str]:
        with self._lock:
            return [r.message_id for r in self.received]


def wait_for(condition: Callable[[], Any], seconds: float, what: str) -> Any:
    """`condition()` once it is truthy, polled for at most `seconds`."""
    deadline = time.monotonic() + seconds
    while True:
        found = condition()
        if found:
            return found
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {seconds} s: {what}")
        time.sleep(0.02)


@contextmanager
def dispatching(engine: Engine, **options: Any) -> Iterator[Dispatcher]:
    """A dispatcher delivering from `engine`'s outbox in a thread of this process, stopped
    (and its deliveries in flight ended) at the end of the block."""
    dispatcher = Dispatcher(engine, **options)
    started = threading.Event()
    held: dict[str, Any] = {}

    async def main() -> None:
        held["loop"], held["stop"] = asyncio.get_running_loop(), asyncio.Event()
        started.set()
        await dispatcher.run(held["stop"])

    thread = threading.Thread(target=asyncio.run, args=(main(),), daemon=True)
    thread.start()
    assert started.wait(10), "the dispatcher did not start"
    try:
        yield dispatcher
    finally:
        held["loop"].call_soon_threadsafe(held["stop"].set)
        thread.join(timeout=30)
        assert not thread.is_alive(), "the dispatcher did not stop"


def subscribe(engine: Engine, url: str) -> int:
    """A subscription to `url` that gets pings only (it wants an event nothing here
    causes); its id."""
    with Session(engine) as session:
        created, _ = webhooks.create_webhook(
            session, WebhookCreate(url=url, events=[WebhookEventType.period_reopened])
        )
        session.commit()
    return created.id


def backlog(engine: Engine, subscription: int, events: int, lanes: int) -> list[str]:
    """`events` test events for one subscription, spread over `lanes` lanes (as if of that
    many agencies), written by the outbox's own writer; their message ids in event order."""
    with Session(engine) as session:
        row = session.get(WebhookSubscription, subscription)
        assert row is not None
        now = utcnow()
        outbox = [
            (webhooks._event(PING, now, {"n": n}, agency_id=n % lanes + 1), [row])
            for n in range(events)
        ]
        webhooks._write(session, outbox, now)
        session.commit()
        return [event.message_id for event, _ in outbox]


def delivered(engine: Engine, subscription: int) -> int:
    """How many of a subscription's deliveries are delivered."""
    with Session(engine) as session:
        return session.exec(
            select(func.count()).where(
                WebhookDelivery.subscription_id == subscription,
                WebhookDelivery.state == DeliveryState.delivered,
            )
        ).one()
