"""A long import beside concurrent writers and readers, on a two-worker server: nobody gets a
500, and readers are not kept waiting behind the import."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[1]
ROWS = 50_000


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _iki(env: dict[str, str], *args: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "app.cli", *args], env=env, cwd=ROOT, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str, str]]:
    if os.environ.get("TEST_DATABASE_URL", "").startswith("postgresql"):
        pytest.skip("the write lock that a long import holds is SQLite's")
    folder = tmp_path_factory.mktemp("long-import")
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{folder / 'iki.db'}",
        "SEED_DIR": str(ROOT / "seed"),
    }
    env.pop("AUTH_FAILURE_LIMIT", None)
    _iki(env, "migrate")
    _iki(env, "seed")
    admin = _iki(env, "keys", "create", "--name", "admin-long", "--role", "admin")
    reader = _iki(env, "keys", "create", "--name", "reader-long", "--role", "reader")
    port = _free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "app.cli", "serve", "--port", str(port), "--workers", "2"],
        env=env,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    for _ in range(200):
        try:
            httpx.get(f"{base}/healthz", timeout=0.5)
            break
        except httpx.TransportError:
            time.sleep(0.1)
    yield base, admin, reader
    process.terminate()
    process.wait(timeout=20)


def test_no_request_answers_500_beside_a_long_import(server):
    base, admin, reader = server
    auth = {"Authorization": f"Bearer {admin}"}
    lines = ["variable,year,quarter,value"]
    codes = ["psks_terdata", "psks_diberdayakan", "ppks_terdata", "tmp_terkelola"]
    for row in range(ROWS):
        lines.append(f"{codes[row % 4]},2025,{row // 4 % 4 + 1},{row}")
    csv = "\n".join(lines) + "\n"

    def long_import() -> httpx.Response:
        return httpx.post(
            f"{base}/api/v1/data-values/import",
            params={"atomic": "false"},
            headers={**auth, "Content-Type": "text/csv"},
            content=csv,
            timeout=120,
        )

    def put(number: int) -> httpx.Response:
        time.sleep(0.5 + number * 0.2)  # while the import runs
        return httpx.put(
            f"{base}/api/v1/data-values/2025/{number % 4 + 1}",
            headers=auth,
            json={"values": {"lembaga_pkha_dikuatkan": number}},
            timeout=60,
        )

    def read(number: int) -> tuple[httpx.Response, float]:
        time.sleep(0.5 + number * 0.3)
        started = time.monotonic()
        answer = httpx.get(
            f"{base}/api/v1/agencies", headers={"Authorization": f"Bearer {reader}"}, timeout=60
        )
        return answer, time.monotonic() - started

    with ThreadPoolExecutor(max_workers=13) as pool:
        importing = pool.submit(long_import)
        writes = [pool.submit(put, n) for n in range(8)]
        reads = [pool.submit(read, n) for n in range(4)]
        imported = importing.result()
        written = [w.result() for w in writes]
        read_answers = [r.result() for r in reads]

    assert imported.status_code == 200, imported.text[:500]
    summary = imported.json()
    assert summary["created"] + summary["updated"] + summary["unchanged"] == 16
    assert summary["rejected"] == ROWS - 16  # the same variable and quarter again
    statuses = [w.status_code for w in written]
    assert 500 not in statuses and set(statuses) <= {200, 503}, [w.text for w in written]
    for answer in written:
        if answer.status_code == 503:
            assert answer.headers["Retry-After"] and answer.json()["code"] == "busy"
    assert all(a.status_code == 200 for a, _ in read_answers)
    assert max(seconds for _, seconds in read_answers) < 5  # a read never waits for the lock
