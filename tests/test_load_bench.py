"""The pure pieces of the deadline-day bench (bench/load.py and its generator): who the
clients are, where the operators work, how answers are tallied and summarised. The bench
itself runs in `make bench`, not here."""

from __future__ import annotations

import asyncio
import concurrent.futures
import math

import httpx
import pytest

from bench.load import kinds_of_clients, operator_places, ratio_bound, unit_writes
from bench.load_clients import PUT, Run, Tally, is_busy, percentile, spread


def test_percentiles_interpolate_between_ranks():
    samples = [float(n) for n in range(1, 101)]
    assert percentile(samples, 50) == pytest.approx(50.5)
    assert percentile(samples, 95) == pytest.approx(95.05)
    assert percentile(samples, 99) == pytest.approx(99.01)
    assert percentile(samples, 100) == 100.0
    assert percentile([7.0], 99) == 7.0
    assert math.isnan(percentile([], 50))


def test_a_tally_summarises_its_answers():
    tally = Tally(latencies=[30.0, 10.0, 20.0, 40.0], in_window=3, busy=1)
    tally.errors.update(["500", "mismatch", "500"])
    summary = tally.summary(seconds=2)
    assert summary["requests"] == 4
    assert summary["answered"] == 3
    assert summary["throughput"] == 1.5
    assert summary["p50"] == 25.0
    assert summary["busy"] == 1
    assert summary["errors"] == {"500": 2, "mismatch": 1}


def problem(status: int, code: str, detail: str = "", **headers: str) -> httpx.Response:
    return httpx.Response(status, json={"code": code, "detail": detail}, headers=headers)


def test_only_a_503_busy_with_retry_after_is_load_shedding():
    assert is_busy(problem(503, "busy", **{"Retry-After": "2"}))
    assert not is_busy(problem(503, "busy"))
    assert not is_busy(problem(503, "unavailable", **{"Retry-After": "2"}))
    assert not is_busy(problem(500, "busy", **{"Retry-After": "2"}))
    assert not is_busy(httpx.Response(503, text="<html>", headers={"Retry-After": "2"}))


def test_answers_are_tallied_as_expected_busy_or_errors():
    answers = iter(
        [
            httpx.Response(200, json={}),
            problem(503, "busy", "every database connection is in use", **{"Retry-After": "2"}),
            problem(503, "busy", "Another write holds the lock", **{"Retry-After": "2"}),
            problem(500, "internal"),
            problem(503, "unavailable"),
        ]
    )

    async def scenario() -> Run:
        transport = httpx.MockTransport(lambda request: next(answers))
        run = Run(seconds=1)
        run.deadline = 0.0  # the window is over: a busy answer is not waited for
        async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as client:
            for _ in range(5):
                await run.send(client, PUT, "PUT", "/x", json={})

            def refuse(request: httpx.Request) -> httpx.Response:
                raise httpx.ConnectError("refused")

            transport.handler = refuse  # type: ignore[assignment]
            assert await run.send(client, PUT, "PUT", "/x") is None
        return run

    # In a thread of its own: a browser test of the same worker may hold a running loop here.
    with concurrent.futures.ThreadPoolExecutor(1) as thread:
        tally = thread.submit(asyncio.run, scenario()).result(timeout=60).tallies[PUT]
    assert len(tally.latencies) == 5
    assert tally.in_window == 0
    assert tally.busy == 2
    assert tally.busy_why == {"pool": 1, "lock": 1}
    assert tally.errors == {"500": 1, "503": 1, "transport ConnectError": 1}


def test_every_tenth_client_pulls_and_every_twentieth_opens_the_dashboard():
    kinds = kinds_of_clients(100)
    assert kinds.count("operator") == 90
    assert [i + 1 for i, k in enumerate(kinds) if k == "dashboard"] == [20, 40, 60, 80, 100]
    assert [i + 1 for i, k in enumerate(kinds) if k == "esakip"] == [10, 30, 50, 70, 90]


def test_operators_spread_over_agencies_and_units():
    units = ["A", "B", "C", "D", "E", "F"]
    places = operator_places(90, 25, units)
    assert len({(agency, unit) for agency, unit, _ in places}) == 90
    assert all(exact for *_, exact in places)
    assert {agency for agency, _, _ in places} == set(range(1, 26))
    assert {unit for _, unit, _ in places} == set(units)
    crowded = operator_places(160, 25, units)  # 150 places: ten are shared by two
    assert sum(not exact for *_, exact in crowded) == 20


def test_a_unit_writes_the_variables_it_owns():
    def variable(code: str, unit: str) -> dict[str, object]:
        return {"code": code, "owner_unit": {"code": unit}}

    indicators = [
        {"id": 1, "variables": [variable("a", "U"), variable("b", "V")]},
        {"id": 2, "variables": [variable("c", "V")]},
        {"id": 3, "variables": [variable("d", "U"), variable("e", "U")]},
    ]
    assert unit_writes(indicators, "U") == [[1, ["a"]], [3, ["d", "e"]]]
    assert unit_writes(indicators, "W") == []


def test_each_server_gets_its_share_of_each_kind():
    kinds = kinds_of_clients(100)
    where = spread(kinds, 2)
    for kind in ("operator", "esakip", "dashboard"):
        servers = [n for n, k in zip(where, kinds, strict=True) if k == kind]
        assert abs(servers.count(0) - servers.count(1)) <= 1, kind
    assert spread(kinds, 1) == [0] * 100


def test_two_workers_gain_what_the_cores_left_to_them_allow():
    # 50 ms of server CPU a request: one worker, one core, 20 a second.
    assert ratio_bound(0.050, 0.0, 0.0, cores=2) == pytest.approx(2.0)
    # PostgreSQL and the generator take 20 ms a request on the same two cores: 2 / 0.07.
    assert ratio_bound(0.050, 0.015, 0.005, cores=2) == pytest.approx(2 / 0.070 / 20)
    # With 4 cores they no longer limit two workers.
    assert ratio_bound(0.050, 0.015, 0.005, cores=4) == pytest.approx(2.0)
