"""Bounded work for every request at the edge: authentication and authorization before any
body, PDFs in a bounded pool of processes beside quick reads, a database pool that answers
503 when exhausted, a throttle that never locks out a valid key nor believes a forwarded
address from anyone not named, logs without keys, and HEAD wherever GET."""

from __future__ import annotations

import asyncio
import io
import logging
import os
import re
import statistics
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from limits import parse as parse_limit
from limits.storage import MemoryStorage
from sqlalchemy import Engine, create_engine, text
from sqlmodel import Session

from app.api.limits import WITH_BODY, matched_route, route_capabilities
from app.core.config import get_settings
from app.core.db import get_session
from app.core.errors import TooManyRequests, Unauthenticated, install_error_handlers
from app.core.logging import HideSecrets, is_sane_request_id, mask_secrets
from app.core.security import FailureThrottle, authenticate
from app.main import app
from app.models import Role
from tests.api.helpers import assert_problem
from tests.api.test_capabilities import ROUTES, _url
from tests.live import alive, descendants, iki_serve, seeded_database

API = "/api/v1"
PDFS = 20
PDF_WORKERS = 2
FAILURES = 100


def _pdf_loads() -> bool:
    try:
        import weasyprint  # noqa: F401
    except (ImportError, OSError):
        return False
    return True


# Authentication and authorization before the body, for every route ---------------------------


def _call_without_body(method: str, path: str, headers: dict[str, str]) -> list[dict[str, Any]]:
    """Call the app as a server would, with a receive that fails the test if the app asks
    for the body; the messages it sent."""
    sent: list[dict[str, Any]] = []
    raw_path, _, query = path.partition("?")

    async def receive() -> dict[str, Any]:
        raise AssertionError(f"{method} {path}: the body was read")

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": raw_path,
        "raw_path": raw_path.encode(),
        "root_path": "",
        "query_string": query.encode(),
        "headers": [
            (b"content-type", b"application/json"),
            (b"content-length", b"1000"),
            *((k.lower().encode(), v.encode()) for k, v in headers.items()),
        ],
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 80),
    }
    asyncio.run(app(scope, receive, send))
    return sent


WITH_BODIES = [(m, p, caps) for m, p, _route, caps in ROUTES if m in WITH_BODY]


def test_every_operation_with_a_body_is_refused_before_it_is_read(client, make_key):
    """Each operation with a body, with a wrong key (401) and with a viewer's key where the
    operation needs more than a viewer holds (403): answered without reading the body."""
    viewer = make_key(Role.viewer)
    refused = 0
    for method, path, capabilities in WITH_BODIES:
        wrong = _call_without_body(method, _url(path), {"Authorization": "Bearer iki_wrong"})
        assert wrong[0]["status"] == 401, (method, path)
        if not capabilities <= Role.viewer.capabilities:
            answer = _call_without_body(method, _url(path), viewer)
            assert answer[0]["status"] == 403, (method, path, answer)
            refused += 1
    assert refused > 20


def test_the_guard_reads_the_capability_each_route_asks_for():
    """The route the guard matches for each operation, and the capability it reads off it,
    are those of the route's own `requires(...)`."""
    for method, path, route, capabilities in ROUTES:
        scope = {"type": "http", "method": method, "path": _url(path), "root_path": "", "app": app}
        found = matched_route(scope)
        assert found is not None, (method, path)
        assert found.endpoint is route.endpoint, (method, path)
        assert set(route_capabilities(found)) == capabilities, (method, path)


def test_the_principal_is_looked_up_once(client, reader, count_statements):
    """The guard's lookup is the request's only one: the route reuses its principal."""
    client.get(f"{API}/agencies", headers=reader)  # the key's last use is written once
    count_statements.statements.clear()
    assert client.get(f"{API}/agencies", headers=reader).status_code == 200
    lookups = [s for s in count_statements.statements if "FROM api_key " in s]
    assert len(lookups) == 1, lookups


# Throttle --------------------------------------------------------------------------------------


def test_the_throttle_counts_addresses_and_key_prefixes():
    throttle = FailureThrottle(MemoryStorage())
    limit = parse_limit("3/minute")
    # One address, a new key each time: the address is held off after 3.
    assert [throttle.fail(limit, "10.0.0.1", f"iki_{n:06d}xyz") for n in range(3)] == [None] * 3
    assert throttle.fail(limit, "10.0.0.1", "iki_999999xyz") is not None
    # One key prefix from many addresses (a broken script on many hosts): held off after 3.
    assert [throttle.fail(limit, f"10.0.1.{n}", "iki_sameprefix-a") for n in range(3)] == [None] * 3
    wait = throttle.fail(limit, "10.0.1.99", "iki_sameprefix-b")
    assert wait is not None and 1 <= wait <= 60


@pytest.fixture
def throttled(monkeypatch):
    monkeypatch.setattr(get_settings(), "auth_failure_limit", "20/minute")
    from app.core import security

    security.failures.reset()
    yield
    security.failures.reset()


def test_a_valid_key_is_never_refused_by_the_throttle(session, make_key, throttled):
    """After 100 failures from its address and with its own prefix, a valid key still
    authenticates; only failures are answered 429."""
    headers = make_key(Role.reader)
    secret = headers["Authorization"].removeprefix("Bearer ")
    statuses = []
    for n in range(FAILURES):
        try:
            authenticate(session, f"{secret[:10]}{n:06d}", "10.9.9.9")
        except (Unauthenticated, TooManyRequests) as error:
            statuses.append(error.status_code)
    assert statuses == [401] * 20 + [429] * (FAILURES - 20)
    for _ in range(12):
        assert authenticate(session, secret, "10.9.9.9").role == Role.reader


# A database pool that is exhausted --------------------------------------------------------------


def _tiny_pool(engine: Engine) -> Engine:
    url = engine.url.render_as_string(hide_password=False)
    extra = {"connect_args": {"check_same_thread": False}} if url.startswith("sqlite") else {}
    return create_engine(url, pool_size=1, max_overflow=0, pool_timeout=0.2, **extra)


def test_a_pool_timeout_in_a_route_is_503_busy(engine):
    tiny = _tiny_pool(engine)
    unit = FastAPI()
    install_error_handlers(unit)

    @unit.get("/two-connections")
    def two_connections() -> dict[str, int]:
        with tiny.connect() as first, tiny.connect() as second:
            return {
                "sum": first.execute(text("SELECT 1")).scalar_one()
                + second.execute(text("SELECT 1")).scalar_one()
            }

    try:
        answer = TestClient(unit).get("/two-connections")
        body = assert_problem(answer, 503, "busy")
        assert answer.headers["Retry-After"] == "2" and "connection" in body["detail"]
    finally:
        tiny.dispose()


def test_a_pool_timeout_while_authenticating_is_503_busy(engine):
    tiny = _tiny_pool(engine)

    def tiny_session() -> Iterator[Session]:
        with Session(tiny) as session:
            yield session

    app.dependency_overrides[get_session] = tiny_session
    try:
        with tiny.connect() as held:  # the pool's only connection
            held.execute(text("SELECT 1"))
            answer = TestClient(app).get(f"{API}/agencies", headers={"Authorization": "Bearer x"})
        assert_problem(answer, 503, "busy")
        assert answer.headers["Retry-After"] == "2" and answer.headers["X-Request-ID"]
    finally:
        app.dependency_overrides.clear()
        tiny.dispose()


# Logs and request ids ---------------------------------------------------------------------------

KEY = "iki_Zm9vYmFyYmF6cXV4cXV1eGNvcmdlZ3JhdWx0Z2FycGx5"


@pytest.mark.parametrize(
    ("target", "masked"),
    [
        (f"/api/v1/agencies?x={KEY}&year=2025", "/api/v1/agencies?x=***&year=2025"),
        ("/api/v1/agencies?k%65y=SECRET&year=2025", "/api/v1/agencies?k%65y=***&year=2025"),
        ("/a?x=iki%5FZm9vYmFy", "/a?x=***"),
        ("/a?x=%69%6B%69%5FZm9v", "/a?x=***"),
        ("/a?x=%2569ki_Zm9v", "/a?x=***"),
        ("/a?note=Bearer+IKI_Zm9v", "/a?note=***"),
        (f"/a?{KEY}", "/a?***"),
        (f"/api/v1/{KEY}/x", "/api/v1/***/x"),
        ("/a?api_key=abc&token=def&Pass%77ord=ghi", "/a?api_key=***&token=***&Pass%77ord=***"),
        ("/a?q=wiki_page&year=2025", "/a?q=wiki_page&year=2025"),
    ],
)
def test_key_shaped_values_are_masked_whatever_their_name_or_encoding(target, masked):
    assert mask_secrets(target) == masked


@pytest.mark.parametrize(
    "value",
    [
        "0f8fad5b-d9cb-469f-a165-70867728950e",
        "0F8FAD5BD9CB469FA16570867728950E",
        "{0f8fad5b-d9cb-469f-a165-70867728950e}",
        "urn:uuid:0f8fad5b-d9cb-469f-a165-70867728950e",
        "01ARZ3NDEKTSV4RRFFQ69G5FAV",
        "4bf92f3577b34da6",
    ],
)
def test_plain_request_ids_are_kept(value):
    assert is_sane_request_id(value)


@pytest.mark.parametrize(
    "value", [KEY, "iki_0f8fad5bd9cb469fa16570867728950e", "hunter2", "a b", "esakip-0001", ""]
)
def test_other_request_ids_are_replaced(value):
    assert not is_sane_request_id(value)


def test_a_key_never_reaches_an_answer_or_a_log_line(client, reader, caplog):
    """A key sent as X-Request-ID is replaced by a fresh id (answered and logged); a key in
    a path that fails is masked in the error's log line."""
    caplog.set_level(logging.INFO)
    caplog.handler.addFilter(HideSecrets())
    echoed = client.get(f"{API}/agencies", headers={**reader, "X-Request-ID": KEY})
    assert echoed.status_code == 200
    fresh = echoed.headers["X-Request-ID"]
    assert fresh != KEY and re.fullmatch(r"[0-9a-f]{32}", fresh)

    from app.services import organization

    def boom(*args: object, **kwargs: object) -> None:
        raise RuntimeError(f"failed for {KEY}")

    original = organization.get_agency
    organization.get_agency = boom  # type: ignore[assignment]
    try:
        with TestClient(client.app, raise_server_exceptions=False) as quiet:
            failed = quiet.get(f"{API}/agencies/1", headers=reader)
    finally:
        organization.get_agency = original  # type: ignore[assignment]
    assert failed.status_code == 500
    lines = [handler_line(record) for record in caplog.records]
    assert any("Unhandled error" in line for line in lines)
    assert not any(KEY in line or KEY[4:20] in line for line in lines), lines
    assert KEY not in echoed.text + failed.text


def handler_line(record: logging.LogRecord) -> str:
    return record.getMessage() + (record.exc_text or "")


# HEAD wherever GET ------------------------------------------------------------------------------


def test_head_answers_wherever_get_does(client, reader):
    for path, headers in (("/healthz", {}), (f"{API}/indicators/1", reader)):
        got = client.get(path, headers=headers)
        head = client.head(path, headers=headers)
        assert head.status_code == got.status_code == 200, path
        assert head.content == b""
        for name in ("content-type", "content-length", "etag"):
            assert head.headers.get(name) == got.headers.get(name), (path, name)
    assert client.head(f"{API}/indicators/1").status_code == 401
    refused = client.head(f"{API}/data-values/import", headers=reader)
    assert refused.status_code == 405 and refused.headers["Allow"] == "POST"


# On a real server: `iki serve` ------------------------------------------------------------------


@dataclass(frozen=True)
class Served:
    base: str
    keys: dict[str, dict[str, str]]
    log: Path


def _serve(databases, tmp_path_factory, label: str, **env: str) -> Iterator[Served]:
    url = databases.new_url(label)
    keys = seeded_database(url, {"reader": (Role.reader, ()), "admin": (Role.admin, ())})
    log = tmp_path_factory.mktemp(label) / "server.log"
    environment = {
        "DATABASE_URL": url,
        "AUTH_FAILURE_LIMIT": "20/minute",
        "PDF_WORKERS": str(PDF_WORKERS),
        "TRUSTED_PROXIES": "",
        "FORWARDED_ALLOW_IPS": "*",  # uvicorn's own default, which `iki serve` overrides
        **env,
    }
    with iki_serve(environment, log) as server:
        yield Served(server.base, keys, log)


@pytest.fixture(scope="module")
def served(databases, tmp_path_factory) -> Iterator[Served]:
    yield from _serve(databases, tmp_path_factory, "edge")


@pytest.fixture(scope="module")
def behind_proxy(databases, tmp_path_factory) -> Iterator[Served]:
    yield from _serve(databases, tmp_path_factory, "proxied", TRUSTED_PROXIES="127.0.0.1/32")


@pytest.mark.skipif(not _pdf_loads(), reason="WeasyPrint cannot load here (pango missing)")
def test_twenty_pdfs_leave_reads_quick(served):
    """20 PDFs of the whole SK at once beside a loop of reads: no 500; a PDF is typeset or
    answered 503 busy at once; every read is answered within 1 s. The machine is shared: a
    burst whose slowest read missed the bound is tried once more (the bound is the
    service's, a run of other jobs beside it is not)."""
    latencies: list[float] = []
    for _ in range(2):  # bounded: a second burst only when the first missed the bound
        latencies = _burst_of_pdfs_beside_reads(served)
        if max(latencies) < 1.0:
            break
    assert max(latencies) < 1.0, (statistics.median(latencies), max(latencies))


def _burst_of_pdfs_beside_reads(served) -> list[float]:
    """The latencies of the reads made while 20 PDFs were asked at once (the PDFs' answers
    are checked here)."""
    reader = served.keys["reader"]
    decree = httpx.get(f"{served.base}{API}/decrees", headers=reader).json()["items"][0]["id"]
    pdf_url = f"{served.base}{API}/decrees/{decree}/document?format=pdf"

    def pdf() -> tuple[httpx.Response, float]:
        started = time.monotonic()
        answer = httpx.get(pdf_url, headers=reader, timeout=300)
        return answer, time.monotonic() - started

    reads: list[tuple[int, float]] = []
    with ThreadPoolExecutor(max_workers=PDFS) as pool:
        pdfs = [pool.submit(pdf) for _ in range(PDFS)]
        for _ in range(2000):  # bounded: until the PDFs are done
            if all(future.done() for future in pdfs):
                break
            started = time.monotonic()
            answer = httpx.get(f"{served.base}{API}/indicators/1", headers=reader, timeout=30)
            reads.append((answer.status_code, time.monotonic() - started))
            time.sleep(0.05)
        answers = [future.result() for future in pdfs]

    statuses = [answer.status_code for answer, _ in answers]
    assert set(statuses) <= {200, 503} and 200 in statuses, statuses
    for answer, seconds in answers:
        if answer.status_code == 503:
            assert answer.json()["code"] == "busy" and answer.headers["Retry-After"]
            assert seconds < 2.0  # refused at once, not after waiting for a worker
        else:
            assert answer.content.startswith(b"%PDF-")
    # The burst came faster than PDFs are made: the pool was full, and said so at once.
    assert 503 in statuses
    assert len(reads) >= 10 and {status for status, _ in reads} == {200}
    return [seconds for _, seconds in reads]


@pytest.mark.skipif(not _pdf_loads(), reason="WeasyPrint cannot load here (pango missing)")
def test_the_pdf_workers_end_with_the_server(databases, tmp_path):
    """Stopped as a service manager stops it (SIGTERM), the server leaves no PDF worker
    behind (uvicorn ends on that signal, without the exit hooks of the process pool)."""
    url = databases.new_url("workers")
    keys = seeded_database(url, {"reader": (Role.reader, ())})
    environment = {"DATABASE_URL": url, "PDF_WORKERS": "1", "AUTH_FAILURE_LIMIT": "0"}
    with iki_serve(environment, tmp_path / "server.log") as server:
        decrees = httpx.get(f"{server.base}{API}/decrees", headers=keys["reader"]).json()
        position = f"{API}/positions/1/iki?year={decrees['items'][0]['year']}&format=pdf"
        answer = httpx.get(f"{server.base}{position}", headers=keys["reader"], timeout=120)
        assert answer.status_code == 200, answer.text
        workers = descendants(server.pid)
        assert len(workers) >= 2  # the forkserver, the worker (and a resource tracker)
    deadline = time.monotonic() + 20
    while alive(workers) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not alive(workers)


def test_a_valid_key_works_after_100_failures_from_its_address(served):
    """100 bad keys, each naming another client in X-Forwarded-For: the peer (127.0.0.1) is
    not a trusted proxy, so every failure counts against it (429 after 20); its valid key
    still works, every time."""
    statuses = []
    for n in range(FAILURES):
        headers = {"Authorization": f"Bearer iki_{n:06d}bad", "X-Forwarded-For": f"10.1.{n}.1"}
        statuses.append(httpx.get(f"{served.base}{API}/agencies", headers=headers).status_code)
    assert statuses == [401] * 20 + [429] * (FAILURES - 20)
    for _ in range(12):
        answer = httpx.get(f"{served.base}{API}/agencies", headers=served.keys["reader"])
        assert answer.status_code == 200


def test_a_trusted_proxy_names_the_client(behind_proxy):
    """Behind a proxy named in TRUSTED_PROXIES, each forwarded client is counted apart."""
    statuses = []
    for n in range(30):
        headers = {"Authorization": f"Bearer iki_{n:06d}bad", "X-Forwarded-For": f"10.2.{n}.1"}
        statuses.append(
            httpx.get(f"{behind_proxy.base}{API}/agencies", headers=headers).status_code
        )
    assert statuses == [401] * 30
    one_client = {"X-Forwarded-For": "10.3.0.1"}
    for n in range(20):
        bad = {**one_client, "Authorization": f"Bearer iki_{n:06d}ugh"}
        assert httpx.get(f"{behind_proxy.base}{API}/agencies", headers=bad).status_code == 401
    bad = {**one_client, "Authorization": "Bearer iki_999999ugh"}
    assert httpx.get(f"{behind_proxy.base}{API}/agencies", headers=bad).status_code == 429


def test_the_access_log_carries_no_key(served):
    reader = served.keys["reader"]
    secret = reader["Authorization"].removeprefix("Bearer ")
    marker = "0f8fad5bd9cb469fa16570867728950e"
    for query in (f"x={secret}", "k%65y=SECRET", f"x=iki%5F{secret[4:]}"):
        httpx.get(
            f"{served.base}{API}/agencies?{query}&marker={marker}",
            headers={**reader, "X-Request-ID": secret},
        )
    httpx.get(f"{served.base}/healthz", headers={"X-Request-ID": marker})
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and marker not in served.log.read_text():
        time.sleep(0.1)
    log = served.log.read_text()
    assert f"[{marker}]" in log  # a plain id is kept on its lines
    assert log.count(f"marker={marker}") >= 3  # the access lines were written
    assert secret not in log and secret[4:] not in log and "SECRET" not in log


def test_head_on_a_real_server(served):
    got = httpx.get(f"{served.base}/healthz")
    head = httpx.head(f"{served.base}/healthz")
    assert head.status_code == 200 and head.content == b""
    assert head.headers["content-length"] == got.headers["content-length"]


def test_no_key_reaches_the_server_log_through_io():
    """HideSecrets masks a key quoted in any line, not only in access lines."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(HideSecrets())
    logger = logging.getLogger("app.test.hide")
    logger.addHandler(handler)
    try:
        logger.warning("header was %s", f"Bearer {KEY}")
        logger.warning("encoded %s", "iki%5FZm9vYmFy")
    finally:
        logger.removeHandler(handler)
    assert KEY[4:] not in stream.getvalue() and "Zm9vYmFy" not in stream.getvalue()
    assert os.linesep.join(["header was Bearer iki_***", "encoded iki_***", ""]) == (
        stream.getvalue()
    )
