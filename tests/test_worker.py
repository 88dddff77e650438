"""`iki worker` as deployed, a process of its own: killed mid-delivery and started again, it
still delivers every event (the one in flight again, under the same `webhook-id`); two of
them on PostgreSQL share a backlog without losing an event."""

from __future__ import annotations

import collections
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
from sqlalchemy import Engine
from sqlmodel import Session, col, select

from app.core.config import get_settings
from app.models import Role, WebhookDelivery, WebhookEvent
from tests.conftest import serving_own_database
from tests.live import alive, descendants, iki_serve, seeded_database
from tests.receivers import (
    Receiver,
    accept,
    backlog,
    delivered,
    hang_first,
    subscribe,
    wait_for,
)

ROOT = Path(__file__).resolve().parents[1]
FAST = {
    "WEBHOOK_ALLOW_LOOPBACK": "true",
    "WEBHOOK_RETRY_BASE_SECONDS": "0.1",
    "WEBHOOK_POLL_SECONDS": "0.05",
}


@pytest.fixture
def database(databases, monkeypatch) -> Iterator[Engine]:
    for name, value in FAST.items():
        monkeypatch.setenv(name, value)
    get_settings.cache_clear()
    with serving_own_database(databases, "worker") as engine:
        yield engine
    get_settings.cache_clear()


@contextmanager
def worker(engine: Engine, log: Path, **settings: str) -> Iterator[subprocess.Popen[bytes]]:
    """`iki worker` on `engine`'s database, stopped with SIGTERM at the end of the block
    (unless it was killed before)."""
    env = {
        **os.environ,
        **FAST,
        **settings,
        "DATABASE_URL": engine.url.render_as_string(hide_password=False),
    }
    with log.open("ab") as sink:
        process = subprocess.Popen(
            [sys.executable, "-m", "app.cli", "worker"],
            env=env,
            cwd=ROOT,
            stdout=sink,
            stderr=subprocess.STDOUT,
        )
    try:
        yield process
    finally:
        if process.poll() is None:
            process.terminate()
        assert process.wait(timeout=30) in (0, -signal.SIGKILL), log.read_text()[-2000:]


def test_a_worker_killed_mid_delivery_leaves_it_to_be_delivered_again(database, tmp_path):
    with Receiver(hang_first(6)) as receiver:
        subscription = subscribe(database, receiver.url)
        ids = backlog(database, subscription, events=5, lanes=1)
        timing = {"WEBHOOK_TIMEOUT_SECONDS": "3", "WEBHOOK_LEASE_SECONDS": "4"}
        log = tmp_path / "worker.log"
        with worker(database, log, **timing) as first:
            wait_for(lambda: receiver.received, 30, "the first delivery in flight")
            first.send_signal(signal.SIGKILL)
            first.wait(timeout=10)
        assert delivered(database, subscription) == 0
        with worker(database, log, **timing):
            wait_for(lambda: delivered(database, subscription) == 5, 60, "all delivered")

    got = receiver.ids()
    # Every event arrived; the one in flight at the kill twice, under the same webhook-id.
    assert set(got) == set(ids)
    assert collections.Counter(got) == {ids[0]: 2} | dict.fromkeys(ids[1:], 1)
    assert list(dict.fromkeys(got)) == ids  # in order
    with Session(database) as session:
        first_delivery = session.exec(
            select(WebhookDelivery)
            .join(WebhookEvent, col(WebhookEvent.id) == col(WebhookDelivery.event_id))
            .where(WebhookEvent.message_id == ids[0])
        ).one()
    assert first_delivery.attempts == 2


@pytest.mark.skipif(
    not os.environ.get("TEST_DATABASE_URL", "").startswith("postgresql"),
    reason="several dispatchers claim apart on PostgreSQL (SKIP LOCKED); SQLite runs one",
)
def test_two_workers_deliver_a_backlog_of_1000_without_losing_one(database, tmp_path, capsys):
    events, lanes = 1000, 20
    with Receiver(accept) as receiver:
        subscription = subscribe(database, receiver.url)
        ids = backlog(database, subscription, events, lanes)
        started = time.monotonic()
        with worker(database, tmp_path / "a.log"), worker(database, tmp_path / "b.log"):
            wait_for(
                lambda: delivered(database, subscription) == events, 120, "the backlog delivered"
            )
        elapsed = time.monotonic() - started

    got = receiver.ids()
    counts = collections.Counter(got)
    duplicates = sum(n - 1 for n in counts.values())
    with capsys.disabled():
        print(
            f"\ntwo workers, {events} events in {lanes} lanes: {len(counts)} delivered, "
            f"{duplicates} duplicated, {elapsed:.1f} s"
        )
    assert set(counts) == set(ids)  # none lost
    assert duplicates <= 5
    # Each lane in event order: its events' first arrivals are in the order written.
    order = {message: n for n, message in enumerate(ids)}
    firsts = list(dict.fromkeys(got))
    for lane in range(lanes):
        arrived = [order[m] for m in firsts if order[m] % lanes == lane]
        assert arrived == sorted(arrived)
    # Both took part: each recorded deliveries under its own name.
    with Session(database) as session:
        from app.models import AuditEvent

        workers = session.exec(
            select(AuditEvent.request_id)
            .where(AuditEvent.entity == "webhook_delivery", AuditEvent.action == "deliver")
            .distinct()
        ).all()
    assert len(workers) == 2


def test_serve_with_worker_delivers_and_stops_its_dispatcher_with_it(tmp_path, monkeypatch):
    """`make run` and the container: `iki serve --with-worker` runs the dispatcher beside
    the server, and a SIGTERM to the server stops both."""
    url = f"sqlite:///{tmp_path / 'iki.db'}"
    headers = seeded_database(url, {"admin": (Role.admin, ())})["admin"]
    with (
        Receiver(accept) as receiver,
        iki_serve(
            {"DATABASE_URL": url, **FAST}, tmp_path / "serve.log", ["--with-worker"]
        ) as server,
    ):
        workers = {
            pid
            for pid in descendants(server.pid)
            if b"worker" in Path(f"/proc/{pid}/cmdline").read_bytes()
        }
        assert len(workers) == 1
        created = httpx.post(
            f"{server.base}/api/v1/webhooks",
            headers=headers,
            json={"url": receiver.url, "events": ["period.reopened"]},
        ).json()
        httpx.post(f"{server.base}/api/v1/webhooks/{created['id']}/ping", headers=headers)
        wait_for(lambda: receiver.received, 30, "the ping delivered")
    wait_for(lambda: not alive(workers), 30, "the dispatcher stopped with the server")
