"""Live servers on 127.0.0.1 for tests that need real sockets: a database of their own with
keys, uvicorn in a thread or as `iki serve`, and requests written byte by byte."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import uvicorn
from sqlmodel import Session

from app.core.db import make_engine
from app.core.migrations import upgrade
from app.models import Role
from app.services.keys import create_key
from app.services.seed import load_seed

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_until_up(base: str, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            httpx.get(f"{base}/healthz", timeout=0.5)
            return
        except httpx.TransportError:
            time.sleep(0.1)
    raise AssertionError(f"{base} did not come up in {seconds} s")


def seeded_database(
    url: str, keys: dict[str, tuple[Role, tuple[str, ...]]]
) -> dict[str, dict[str, str]]:
    """Migrate and seed the database at `url` and create `keys` (name: role, units); their
    Authorization headers by name."""
    engine = make_engine(url)
    try:
        upgrade(engine)
        with Session(engine) as session:
            load_seed(session, ROOT / "seed")
            secrets = {
                name: create_key(session, name, role, units)[1]
                for name, (role, units) in keys.items()
            }
            session.commit()
    finally:
        engine.dispose()
    return {name: {"Authorization": f"Bearer {secret}"} for name, secret in secrets.items()}


@contextmanager
def server_in_thread(app: Any) -> Iterator[str]:
    """uvicorn serving `app` from a thread of this process; its base URL."""
    port = free_port()
    served = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=served.run, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until_up(base)
        yield base
    finally:
        served.should_exit = True
        thread.join(timeout=10)


@dataclass(frozen=True)
class Process:
    base: str
    pid: int


@contextmanager
def iki_serve(env: dict[str, str], log: Path, options: Sequence[str] = ()) -> Iterator[Process]:
    """`iki serve` (with `options`) in a process of its own, as deployed (its uvicorn
    options, its logging to `log`), stopped as a service manager would (SIGTERM)."""
    port = free_port()
    environment = {**os.environ, **env}
    command = [sys.executable, "-m", "app.cli", "serve", "--host", "127.0.0.1", "--port"]
    with log.open("wb") as sink:
        process = subprocess.Popen(
            [*command, str(port), *options],
            env=environment,
            cwd=ROOT,
            stdout=sink,
            stderr=subprocess.STDOUT,
        )
        base = f"http://127.0.0.1:{port}"
        try:
            wait_until_up(base, seconds=60)
            yield Process(base, process.pid)
        finally:
            process.terminate()
            process.wait(timeout=30)


def descendants(pid: int) -> set[int]:
    """The processes under `pid` (its children, theirs, ...), from /proc."""
    parents: dict[int, int] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rpartition(")")[2].split()
        except OSError:  # ended meanwhile
            continue
        parents[int(stat.parent.name)] = int(fields[1])
    found: set[int] = set()
    frontier = {pid}
    while frontier:
        frontier = {child for child, parent in parents.items() if parent in frontier} - found
        found |= frontier
    return found


def alive(pids: set[int]) -> set[int]:
    return {pid for pid in pids if Path(f"/proc/{pid}").exists()}


def send_head_first(
    base: str,
    method: str,
    path: str,
    headers: dict[str, str],
    *,
    body: bytes = b"",
    timeout: float = 10,
) -> tuple[bytes, float]:
    """Send a request's head and `body` (none by default, whatever the head announces), then
    read the answer: its bytes, and the seconds it took to come."""
    host, port = base.removeprefix("http://").split(":")
    lines = [
        f"{method} {path} HTTP/1.1",
        f"Host: {host}",
        *(f"{k}: {v}" for k, v in headers.items()),
    ]
    started = time.monotonic()
    with socket.create_connection((host, int(port)), timeout=timeout) as sock:
        sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode() + body)
        answer = b""
        while b"\r\n\r\n" not in answer:
            part = sock.recv(65536)
            if not part:
                break
            answer += part
        head, _, rest = answer.partition(b"\r\n\r\n")
        length = next(
            (
                int(line.split(b":")[1])
                for line in head.split(b"\r\n")
                if line.lower().startswith(b"content-length:")
            ),
            0,
        )
        while len(rest) < length:
            part = sock.recv(65536)
            if not part:
                break
            rest += part
    return head + b"\r\n\r\n" + rest, time.monotonic() - started
