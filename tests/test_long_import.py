"""A long import beside concurrent writers and readers, on a two-worker server: nobody gets a
500, writers are answered or told to retry, and readers are not kept waiting behind the
import."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from sqlmodel import Session

from app.core.db import make_engine
from app.core.migrations import upgrade
from app.models import Role
from app.services.keys import create_key
from app.services.seed import load_seed

ROOT = Path(__file__).resolve().parents[1]
# Long enough for every writer and reader below to start while it runs (asserted).
ROWS = 10_000


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str, str]]:
    if os.environ.get("TEST_DATABASE_URL", "").startswith("postgresql"):
        pytest.skip("the write lock that a long import holds is SQLite's")
    url = f"sqlite:///{tmp_path_factory.mktemp('long-import') / 'iki.db'}"
    engine = make_engine(url)
    upgrade(engine)
    with Session(engine) as session:
        load_seed(session, ROOT / "seed")
        _, admin = create_key(session, "admin-long", Role.admin)
        _, reader = create_key(session, "reader-long", Role.reader)
        session.commit()
    engine.dispose()
    env = {**os.environ, "DATABASE_URL": url}
    env.pop("AUTH_FAILURE_LIMIT", None)
    port = _free_port()
    process = subprocess.Popen(
        # uvicorn itself: `iki serve` adds nothing these requests need, and each of its
        # workers would import the command line module again.
        [sys.executable, "-m", "uvicorn", "app.main:app", "--port", str(port), "--workers", "2"],
        env=env,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    for _ in range(300):
        try:
            httpx.get(f"{base}/healthz", timeout=0.5)
            break
        except httpx.TransportError:
            time.sleep(0.1)
    yield base, admin, reader
    process.terminate()
    process.wait(timeout=20)


Timed = tuple[httpx.Response, float, float]  # the answer, when it was sent, when it came


def _timed(request: Callable[[], httpx.Response]) -> Timed:
    started = time.monotonic()
    answer = request()
    return answer, started, time.monotonic()


def test_no_request_answers_500_beside_a_long_import(server):
    base, admin, reader = server
    auth = {"Authorization": f"Bearer {admin}"}
    lines = ["variable,year,quarter,value"]
    codes = ["psks_terdata", "psks_diberdayakan", "ppks_terdata", "tmp_terkelola"]
    for row in range(ROWS):
        lines.append(f"{codes[row % 4]},2025,{row // 4 % 4 + 1},{row}")
    csv = "\n".join(lines) + "\n"

    def long_import() -> Timed:
        return _timed(
            lambda: httpx.post(
                f"{base}/api/v1/data-values/import",
                params={"atomic": "false"},
                headers={**auth, "Content-Type": "text/csv"},
                content=csv,
                timeout=120,
            )
        )

    def put(number: int) -> Timed:
        time.sleep(0.2 + number * 0.05)  # while the import runs
        return _timed(
            lambda: httpx.put(
                f"{base}/api/v1/data-values/2025/{number % 4 + 1}",
                headers=auth,
                json={"values": {"lembaga_pkha_dikuatkan": number}},
                timeout=60,
            )
        )

    def read(number: int) -> Timed:
        time.sleep(0.2 + number * 0.1)
        return _timed(
            lambda: httpx.get(
                f"{base}/api/v1/agencies", headers={"Authorization": f"Bearer {reader}"}, timeout=60
            )
        )

    with ThreadPoolExecutor(max_workers=13) as pool:
        importing = pool.submit(long_import)
        writes = [pool.submit(put, n) for n in range(8)]
        reads = [pool.submit(read, n) for n in range(4)]
        imported, _, import_ended = importing.result()
        written = [w.result() for w in writes]
        read_answers = [r.result() for r in reads]

    assert imported.status_code == 200, imported.text[:500]
    summary = imported.json()
    assert summary["created"] + summary["updated"] + summary["unchanged"] == 16
    assert summary["rejected"] == ROWS - 16  # the same variable and quarter again
    statuses = [w.status_code for w, _, _ in written]
    assert 500 not in statuses and set(statuses) <= {200, 503}, [w.text for w, _, _ in written]
    for answer, _, _ in written:
        if answer.status_code == 503:
            assert answer.headers["Retry-After"] and answer.json()["code"] == "busy"
    assert all(a.status_code == 200 for a, _, _ in read_answers)
    assert max(ended - started for _, started, ended in read_answers) < 5
    # The import was long enough to prove it: every writer and reader was sent while it ran,
    # and a reader was answered before it ended (a read never waits for the import).
    assert all(started < import_ended for _, started, _ in written + read_answers)
    assert any(ended < import_ended for _, _, ended in read_answers)
