"""Bodies that cannot be accepted are refused before they are read, on a real server: too
large (413), without a valid key (401), for a key that may not do it (403); a body that
stalls is answered 408; no database connection waits on a body."""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from sqlalchemy import Engine
from sqlmodel import Session

from app.core.config import get_settings
from app.core.db import for_writes, get_session, get_write_session, make_engine
from app.main import app
from app.models import Role
from tests.live import seeded_database, send_head_first, server_in_thread

FIFTY_MB = 50 * 1024 * 1024
IMPORT = "/api/v1/data-values/import"
# A body trickling in, 1 byte at a time: more of them than a database pool holds connections
# (SQLite's queue: 5 + 10; PostgreSQL's: DB_POOL_SIZE twice, 10 + 10).
SLOW_BODIES = 24


@dataclass(frozen=True)
class Live:
    base: str
    pid: int
    keys: dict[str, dict[str, str]]
    engine: Engine


@pytest.fixture(scope="module")
def server(databases) -> Iterator[Live]:
    """uvicorn serving the app from a thread of this process, whose memory is measured, on a
    database of its own with keys (the limits are the settings' defaults, 2 and 20 MB)."""
    settings = get_settings()
    assert (settings.max_body_bytes, settings.max_import_bytes) == (2_000_000, 20_000_000)
    url = databases.new_url("bodies")
    keys = seeded_database(url, {"reader": (Role.reader, ()), "psm": (Role.operator, ("BID_PSM",))})
    engine = make_engine(url)
    writes = for_writes(engine)

    def session_of(bind) -> Iterator[Session]:
        with Session(bind, expire_on_commit=False) as session:
            yield session

    app.dependency_overrides[get_session] = lambda: (yield from session_of(engine))
    app.dependency_overrides[get_write_session] = lambda: (yield from session_of(writes))
    try:
        with server_in_thread(app) as base:
            yield Live(base, os.getpid(), keys, engine)
    finally:
        app.dependency_overrides.clear()
        engine.dispose()


def _rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS")


@pytest.mark.parametrize("key", [None, "Bearer iki_whatever"])
def test_a_50_mb_body_is_refused_before_it_is_read(server, key):
    base, pid = server.base, server.pid
    headers = {"Content-Type": "application/json", "Content-Length": str(FIFTY_MB)}
    if key:
        headers["Authorization"] = key
    before = _rss_kb(pid)
    answer, seconds = send_head_first(base, "POST", IMPORT, headers)
    assert answer.startswith(b"HTTP/1.1 413"), answer[:200]
    assert b"application/problem+json" in answer and b"payload_too_large" in answer
    assert b"larger than 20 MB" in answer  # the import limit, from MAX_IMPORT_BYTES
    assert seconds < 1.0
    assert _rss_kb(pid) - before < 20_000  # KB: well under the import limit


def test_a_body_without_a_key_is_refused_before_it_is_read(server):
    base = server.base
    headers = {"Content-Type": "application/json", "Content-Length": "1000000"}
    answer, seconds = send_head_first(base, "POST", "/api/v1/data-values/2025/1", headers)
    assert answer.startswith(b"HTTP/1.1 401") and b"unauthenticated" in answer
    assert seconds < 1.0


def test_a_wrong_key_is_refused_before_the_body_is_read(server):
    """A wrong key announcing 1.5 MB (under the limit) and sending none of it is answered
    401 at once, not after waiting for the body."""
    base = server.base
    headers = {
        "Authorization": "Bearer iki_wrong",
        "Content-Type": "application/json",
        "Content-Length": "1500000",
    }
    answer, seconds = send_head_first(base, "PUT", "/api/v1/data-values/2025/1", headers)
    assert answer.startswith(b"HTTP/1.1 401") and b"unknown or revoked" in answer
    assert seconds < 2.0


@pytest.mark.parametrize(
    "framing", [{"Transfer-Encoding": "chunked"}, {"Content-Length": "19000000"}]
)
def test_a_key_without_the_capability_is_refused_before_the_body_is_read(server, framing):
    """A reader's import (it may not enter data): 403 before a byte of the body is sent."""
    base, keys = server.base, server.keys
    headers = {**keys["reader"], "Content-Type": "text/csv", **framing}
    answer, seconds = send_head_first(base, "POST", IMPORT, headers)
    assert answer.startswith(b"HTTP/1.1 403"), answer[:300]
    assert b"forbidden" in answer and b"enter_data" in answer
    assert seconds < 2.0


def test_a_streamed_body_is_cut_at_the_limit(server):
    base, keys = server.base, server.keys

    def chunks() -> Iterator[bytes]:
        yield b'{"values": {"x": 1}, "note": "'
        for _ in range(300):  # 3 MB, no Content-Length
            yield b"x" * 10_000
        yield b'"}'

    answer = httpx.put(
        f"{base}/api/v1/data-values/2025/1",
        headers={**keys["psm"], "Content-Type": "application/json"},
        content=chunks(),
        timeout=10,
    )
    assert answer.status_code == 413
    assert answer.json()["code"] == "payload_too_large"
    assert "larger than 2 MB" in answer.json()["detail"]  # from MAX_BODY_BYTES
    assert answer.headers["X-Request-ID"]


def test_a_body_that_stalls_is_answered_408(server, monkeypatch):
    base, keys = server.base, server.keys
    monkeypatch.setattr(get_settings(), "body_timeout_seconds", 0.5)
    headers = {**keys["psm"], "Content-Type": "application/json", "Content-Length": "100"}
    answer, seconds = send_head_first(
        base, "PUT", "/api/v1/data-values/2025/1", headers, body=b'{"values": '
    )
    assert answer.startswith(b"HTTP/1.1 408"), answer[:300]
    assert b"request_timeout" in answer and b"connection: close" in answer.lower()
    assert 0.4 < seconds < 5


def test_a_body_that_trickles_past_the_deadline_is_answered_408(server, monkeypatch):
    """Bytes that keep coming, slowly, within the pause allowed: cut at the deadline."""
    base, keys = server.base, server.keys
    monkeypatch.setattr(get_settings(), "body_timeout_seconds", 1.0)
    monkeypatch.setattr(get_settings(), "body_deadline_seconds", 1.5)
    answer, sent, seconds = _trickle(base, keys["psm"], interval=0.2, limit=50)
    assert answer.startswith(b"HTTP/1.1 408"), answer[:300]
    assert b"request_timeout" in answer
    assert sent < 50 and 1.2 < seconds < 6  # cut by the deadline, before the body ended


def test_slow_bodies_hold_no_database_connection(server, monkeypatch):
    """More bodies trickling in than the pool has connections, and reads beside them stay
    quick: a route starts only when its body is in, so none waits on a client."""
    base, keys = server.base, server.keys
    monkeypatch.setattr(get_settings(), "body_timeout_seconds", 2.0)
    monkeypatch.setattr(get_settings(), "body_deadline_seconds", 4.0)
    with ThreadPoolExecutor(max_workers=SLOW_BODIES) as pool:
        slow = [
            pool.submit(_trickle, base, keys["psm"], interval=0.5, limit=40)
            for _ in range(SLOW_BODIES)
        ]
        time.sleep(1.0)  # every slow body under way
        held = server.engine.pool.checkedout()  # type: ignore[attr-defined]
        reads = []
        for _ in range(10):
            started = time.monotonic()
            answer = httpx.get(f"{base}/api/v1/indicators/1", headers=keys["reader"], timeout=30)
            reads.append((answer.status_code, time.monotonic() - started))
            time.sleep(0.1)
        cut = [future.result() for future in slow]
    assert held == 0
    assert all(status == 200 for status, _ in reads), reads
    assert max(seconds for _, seconds in reads) < 1.0, reads
    assert all(answer.startswith(b"HTTP/1.1 408") for answer, _, _ in cut)


def test_a_write_with_a_whole_body_goes_through(server):
    base, keys = server.base, server.keys
    answer = httpx.put(
        f"{base}/api/v1/data-values/2025/1",
        headers=keys["psm"],
        json={"values": {"psks_terdata": 200}},
        timeout=10,
    )
    assert answer.status_code == 200, answer.text


def _trickle(
    base: str, headers: dict[str, str], *, interval: float, limit: int
) -> tuple[bytes, int, float]:
    """POST an import of `limit` bytes (a route that reads its body itself), one byte every
    `interval` seconds, until the server answers: its answer, the bytes sent, the seconds it
    took."""
    host, port = base.removeprefix("http://").split(":")
    head = [
        f"POST {IMPORT} HTTP/1.1",
        f"Host: {host}",
        *(f"{k}: {v}" for k, v in headers.items()),
        "Content-Type: text/csv",
        f"Content-Length: {limit}",
    ]
    started = time.monotonic()
    sent = 0
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(("\r\n".join(head) + "\r\n\r\n").encode())
        sock.settimeout(interval)
        answer = b""
        while sent < limit and not answer:
            try:
                answer = sock.recv(65536)
            except TimeoutError:
                try:
                    sock.sendall(b"v")
                except OSError:  # the server answered and closed
                    break
                sent += 1
        sock.settimeout(10)
        while b"\r\n\r\n" not in answer:
            part = sock.recv(65536)
            if not part:
                break
            answer += part
    return answer, sent, time.monotonic() - started
