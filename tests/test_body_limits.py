"""Bodies that cannot be accepted are refused before they are read, on a real server."""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import uvicorn

from app.core.config import get_settings
from app.main import app

FIFTY_MB = 50 * 1024 * 1024


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def server() -> Iterator[tuple[str, int]]:
    """uvicorn serving the app from a thread of this process, whose memory is measured (these
    requests never reach the database; the limits are the settings' defaults, 2 and 20 MB)."""
    settings = get_settings()
    assert (settings.max_body_bytes, settings.max_import_bytes) == (2_000_000, 20_000_000)
    port = _free_port()
    served = uvicorn.Server(uvicorn.Config(app, port=port, log_level="warning"))
    thread = threading.Thread(target=served.run, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{port}"
    for _ in range(100):
        try:
            httpx.get(f"{base}/healthz", timeout=0.5)
            break
        except httpx.TransportError:
            time.sleep(0.1)
    yield base, os.getpid()
    served.should_exit = True
    thread.join(timeout=10)


def _rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS")


def _send_headers_only(base: str, path: str, headers: dict[str, str]) -> tuple[bytes, float]:
    """Announce a body and send none of it: the answer must come without reading it."""
    host, port = base.removeprefix("http://").split(":")
    lines = [f"POST {path} HTTP/1.1", f"Host: {host}", *(f"{k}: {v}" for k, v in headers.items())]
    started = time.monotonic()
    with socket.create_connection((host, int(port)), timeout=5) as sock:
        sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
        answer = b""
        while b"\r\n\r\n" not in answer:
            answer += sock.recv(65536)
        head, _, body = answer.partition(b"\r\n\r\n")
        length = next(
            int(line.split(b":")[1])
            for line in head.split(b"\r\n")
            if line.lower().startswith(b"content-length:")
        )
        while len(body) < length:
            body += sock.recv(65536)
    return head + b"\r\n\r\n" + body, time.monotonic() - started


@pytest.mark.parametrize("key", [None, "Bearer iki_whatever"])
def test_a_50_mb_body_is_refused_before_it_is_read(server, key):
    base, pid = server
    headers = {"Content-Type": "application/json", "Content-Length": str(FIFTY_MB)}
    if key:
        headers["Authorization"] = key
    before = _rss_kb(pid)
    answer, seconds = _send_headers_only(base, "/api/v1/data-values/import", headers)
    assert answer.startswith(b"HTTP/1.1 413"), answer[:200]
    assert b"application/problem+json" in answer and b"payload_too_large" in answer
    assert b"larger than 20 MB" in answer  # the import limit, from MAX_IMPORT_BYTES
    assert seconds < 1.0
    assert _rss_kb(pid) - before < 20_000  # KB: well under the import limit


def test_a_body_without_a_key_is_refused_before_it_is_read(server):
    base, _ = server
    headers = {"Content-Type": "application/json", "Content-Length": "1000000"}
    answer, seconds = _send_headers_only(base, "/api/v1/data-values/2025/1", headers)
    assert answer.startswith(b"HTTP/1.1 401") and b"unauthenticated" in answer
    assert seconds < 1.0


def test_a_streamed_body_is_cut_at_the_limit(server):
    base, _ = server

    def chunks() -> Iterator[bytes]:
        yield b'{"values": {"x": 1}, "note": "'
        for _ in range(300):  # 3 MB, no Content-Length
            yield b"x" * 10_000
        yield b'"}'

    answer = httpx.put(
        f"{base}/api/v1/data-values/2025/1",
        headers={"Authorization": "Bearer iki_whatever", "Content-Type": "application/json"},
        content=chunks(),
        timeout=10,
    )
    assert answer.status_code == 413
    assert answer.json()["code"] == "payload_too_large"
    assert "larger than 2 MB" in answer.json()["detail"]  # from MAX_BODY_BYTES
    assert answer.headers["X-Request-ID"]
