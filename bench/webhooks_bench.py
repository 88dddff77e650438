"""Webhook delivery: how soon a verification reaches e-SAKIP, and how fast a backlog drains.

Run from the repository root: python bench/webhooks_bench.py [--databases sqlite,postgresql]

For each database (SQLite, a file in a temporary folder; PostgreSQL too when BENCH_DATABASE_URL
or TEST_DATABASE_URL names a server, on which a scratch database is created and dropped), the
seeded agency is served by uvicorn (one worker) with `iki worker` beside it, as `make run`
does, and a receiver listens on 127.0.0.1 in this process (it answers 200 at once):

- latency: `VERIFICATIONS` times, BID_PSM's first quarter is submitted by its operator,
  verified by the Kepala Dinas and reopened; the time from the verify's answer to the
  receiver's receipt of its `period.verified` (each waited for before the next): p50, p95,
  and the goal, p95 under 2 s;
- backlog: `BACKLOG` events for one subscription, over 25 lanes (agencies), written to the
  outbox before a dispatcher starts, then drained: events per second, with one dispatcher
  and, on PostgreSQL, two.

The exit status is 1 if a goal is missed.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from functools import partial
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import httpx
from cryptography.fernet import Fernet
from sqlalchemy import Engine
from sqlmodel import Session

from app.core.config import get_settings
from app.core.db import make_engine
from app.core.migrations import upgrade
from app.models import Role
from app.services import audit, keys
from app.services.seed import load_seed
from bench.city_bench import finish, fresh_database, server, verdicts
from bench.pages_bench import postgres_server
from tests.receivers import Receiver, accept, backlog, delivered, subscribe, wait_for

ROOT = Path(__file__).resolve().parents[1]
VERIFICATIONS = 200
BACKLOG = 10_000
LANES = 25
YEAR = 2025
SETTINGS = {
    "WEBHOOK_ALLOW_LOOPBACK": "true",
    "AUTH_FAILURE_LIMIT": "0",
    "WEBHOOK_ENCRYPTION_KEY": Fernet.generate_key().decode(),  # the bench's processes share it
}
GOALS = {"verify to receipt p95 (s)": 2.0}


@contextmanager
def dispatcher(url: str) -> Iterator[subprocess.Popen[bytes]]:
    """`iki worker` on the database, stopped with SIGTERM at the end."""
    process = subprocess.Popen(
        [sys.executable, "-m", "app.cli", "worker"],
        env=os.environ | SETTINGS | {"DATABASE_URL": url},
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        yield process
    finally:
        process.terminate()
        process.wait(timeout=60)


def prepare(url: str) -> tuple[Engine, dict[str, str]]:
    """The seeded agency, and the keys of the bench by role."""
    engine = make_engine(url)
    upgrade(engine)
    made = {}
    with Session(engine) as session:
        audit.act_as(session, "bench", "admin", None)
        load_seed(session, ROOT / "seed")
        for name, role, units in (
            ("admin", Role.admin, ()),
            ("operator", Role.operator, ("BID_PSM",)),
            ("verifier", Role.verifier, ()),
        ):
            made[name] = keys.create_key(session, f"bench-{name}", role, units)[1]
        session.commit()
    return engine, made


def latency(base: str, secrets: dict[str, str], receiver: Receiver) -> list[float]:
    """Seconds from each verify's answer to its `period.verified` at the receiver."""
    as_ = {name: {"Authorization": f"Bearer {secret}"} for name, secret in secrets.items()}
    with httpx.Client(base_url=base, timeout=30) as client:
        created = client.post(
            "/api/v1/webhooks",
            headers=as_["admin"],
            json={"url": receiver.url, "events": ["period.verified"], "unit": "BID_PSM"},
        )
        created.raise_for_status()
        quarter = f"/api/v1/periods/{YEAR}/1/units/BID_PSM"
        samples = []
        for n in range(VERIFICATIONS):
            client.post(f"{quarter}/submit", headers=as_["operator"]).raise_for_status()
            client.post(f"{quarter}/verify", headers=as_["verifier"]).raise_for_status()
            answered = time.monotonic()
            wait_for(partial(received_more_than, receiver, n), 30, f"verification {n + 1}")
            samples.append(receiver.received[n].at - answered)
            note = {"note": "diulang untuk pengukuran"}
            client.post(f"{quarter}/reopen", headers=as_["verifier"], json=note).raise_for_status()
        client.delete(f"/api/v1/webhooks/{created.json()['id']}", headers=as_["admin"])
    return samples


def received_more_than(receiver: Receiver, count: int) -> bool:
    return len(receiver.received) > count


def drained(engine: Engine, subscription: int) -> bool:
    """Whether every event of the backlog was delivered (looked at every 0.2 s)."""
    time.sleep(0.2)
    return delivered(engine, subscription) == BACKLOG


def drain(engine: Engine, url: str, receiver: Receiver, workers: int) -> float:
    """Events per second that `workers` dispatchers drain a backlog of BACKLOG with."""
    subscription = subscribe(engine, receiver.url)
    backlog(engine, subscription, BACKLOG, LANES)
    started = time.monotonic()
    with ExitStack() as stack:
        for _ in range(workers):
            stack.enter_context(dispatcher(url))
        wait_for(partial(drained, engine, subscription), 600, "the backlog drained")
        elapsed = time.monotonic() - started
    return BACKLOG / elapsed


def run(kind: str) -> dict[str, float]:
    figures: dict[str, float] = {}
    os.environ.update(SETTINGS)
    get_settings.cache_clear()
    with (
        tempfile.TemporaryDirectory() as workdir,
        fresh_database(kind, Path(workdir), name="iki_webhooks_bench") as url,
    ):
        engine, secrets = prepare(url)
        with Receiver(accept) as receiver:
            with server(url) as base, dispatcher(url):
                samples = latency(base, secrets, receiver)
            figures["verify to receipt p50 (s)"] = statistics.median(samples)
            figures["verify to receipt p95 (s)"] = statistics.quantiles(samples, n=20)[18]
            figures["verify to receipt max (s)"] = max(samples)
        for workers in (1, 2) if kind == "postgresql" else (1,):
            with Receiver(accept) as receiver:
                rate = drain(engine, url, receiver, workers)
            figures[f"backlog of {BACKLOG:,}, {workers} worker(s) (events/s)"] = rate
        engine.dispose()
    return figures


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    default = "sqlite,postgresql" if postgres_server() else "sqlite"
    parser.add_argument("--databases", default=default)
    args = parser.parse_args()
    missed = []
    for kind in args.databases.split(","):
        missed += verdicts(kind, run(kind), GOALS)
    return finish(missed)


if __name__ == "__main__":
    sys.exit(main())
