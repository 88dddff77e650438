"""The admission of requests: at most DB_POOL_SIZE of a worker at once past the body, the
others waiting without a thread, then answered 503 busy; /healthz is never held back."""

from __future__ import annotations

import asyncio
import threading

import pytest

from app.api.limits import THREADS, Admission, RequestGuard
from app.core.errors import Busy
from app.main import app


def test_admission_lets_in_its_limit_and_answers_busy_after_the_wait():
    admission = Admission(limit=2, wait=0.2)

    async def scenario() -> list[str]:
        held = asyncio.Event()
        log: list[str] = []

        async def holder(name: str) -> None:
            async with admission.admitted():
                log.append(f"in {name}")
                await held.wait()
            log.append(f"out {name}")

        first = asyncio.create_task(holder("a"))
        second = asyncio.create_task(holder("b"))
        await asyncio.sleep(0.01)
        with pytest.raises(Busy) as refused:
            async with admission.admitted():
                log.append("in c")
        assert refused.value.headers == {"Retry-After": "2"}
        late = asyncio.create_task(holder("d"))  # waits, then gets the first permit freed
        await asyncio.sleep(0.01)
        held.set()
        await asyncio.gather(first, second, late)
        return log

    log = asyncio.run(scenario())
    assert log[:2] == ["in a", "in b"] and "in c" not in log
    assert log.index("in d") > log.index("out a")


def test_the_limit_is_the_pool_size_below_the_threads():
    guard = RequestGuard(app)
    assert guard.admission.limit == 10 < THREADS  # DB_POOL_SIZE's default


def test_requests_past_the_limit_are_answered_busy_and_healthz_is_not_held(client, reader):
    """Every permit held (as by requests stuck in their routes): an API request is answered
    503 busy in words after the wait, /healthz at once."""
    guard = _guard(app)
    admission = guard.admission
    wait, admission.wait = admission.wait, 0.2
    release = threading.Event()
    holding = threading.Event()

    async def hold_all() -> None:
        permits = [await admission.enter() for _ in range(admission.limit)]
        holding.set()
        await asyncio.to_thread(release.wait, 10)
        for permit in permits:
            permit.release()

    future = client.portal.start_task_soon(hold_all)  # on the client's own event loop
    try:
        assert holding.wait(5)
        busy = client.get("/api/v1/achievements", headers=reader, params={"year": 2025})
        route = client.get("/readyz")  # no key to look up: held back at its route
        alive = client.get("/healthz")
    finally:
        release.set()
        future.result(timeout=10)
        admission.wait = wait
    assert busy.status_code == 503, busy.text
    assert busy.json()["code"] == "busy" and busy.headers["Retry-After"] == "2"
    assert route.status_code == 503 and route.json()["code"] == "busy"
    assert alive.status_code == 200


def _guard(application: object) -> RequestGuard:
    """The app's RequestGuard, in its built middleware stack."""
    layer = getattr(application, "middleware_stack", None)
    for _ in range(20):
        if isinstance(layer, RequestGuard):
            return layer
        layer = getattr(layer, "app", None)
    raise AssertionError("no RequestGuard in the middleware stack")
