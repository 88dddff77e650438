"""The load generator of `load.py`: a closed loop of clients, in a process of its own.

Run by `load.py`, which writes the plan (JSON) on its stdin: the servers' base URLs on
127.0.0.1, the seconds, the year and quarter, and one entry per client with its kind and its
credentials. It imports nothing of the service (httpx and the standard library only), so that
what it costs is the generator's alone.

Each client is one `httpx.AsyncClient` (its own connection, kept alive) on the asyncio loop,
and sends its next request when the previous one answered (a closed loop, no think time):

- `operator`: PUTs the realisasi of one of its unit's indicators for the quarter (the values
  of the variables its unit owns), then GETs it back and checks that the values are those
  sent; then the next indicator of its unit, round and round;
- `esakip`: pulls every achievement of the quarter changed since its cursor (pages of 1000,
  the first page's cursor kept), over and over;
- `dashboard`: opens `/dasbor` of its agency, signed in as a person (the session cookie).

A warm-up runs before the clock: each client's first request (the e-SAKIP's is the full
pull that gives its first cursor), tried again a few times if it fails, since the clients
start as one herd. The generator prints `start` and `end` lines at the edges of
the measured window (so that `load.py` reads the processes' CPU time there), then one line of
JSON: per kind of request its count, throughput, latency percentiles and errors by status,
and the generator's own CPU seconds. An answer 503 `busy` with Retry-After is counted apart
and honoured (the client waits as told, within the window); any other answer that is not the
one expected is an error, by its status (or `transport`, `mismatch`).
"""

from __future__ import annotations

import asyncio
import json
import math
import resource
import sys
import time
from collections import Counter, defaultdict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

import httpx

PUT, READ, PULL, DASHBOARD = "operator PUT", "operator GET", "e-SAKIP pull", "dashboard"
KINDS = (PUT, READ, PULL, DASHBOARD)
WARM = "warm-up"
WARM_TRIES = 5
PAGE = 1000
MAX_RETRY_AFTER = 5.0
T = TypeVar("T")


def percentile(ordered: list[float], q: float) -> float:
    """The `q`-th percentile (0..100) of sorted samples, interpolated between the two nearest
    ranks (as numpy's default); NaN when there are none."""
    if not ordered:
        return math.nan
    rank = (len(ordered) - 1) * q / 100
    low = math.floor(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


@dataclass
class Tally:
    """What one kind of request did: latencies of its answers (ms), the answers within the
    window, the 503s `busy`, and the errors by status."""

    latencies: list[float] = field(default_factory=list)
    in_window: int = 0
    busy: int = 0
    busy_why: Counter[str] = field(default_factory=Counter)  # `pool` or `lock`
    errors: Counter[str] = field(default_factory=Counter)
    items: int = 0  # achievements answered (pulls)

    def summary(self, seconds: float) -> dict[str, Any]:
        """Requests (all answered, the window's last ones included), those answered within
        the window and their throughput (per second), p50/p95/p99 (ms), 503 busy, and errors
        by status."""
        ordered = sorted(self.latencies)
        return {
            "requests": len(ordered),
            "answered": self.in_window,
            "throughput": self.in_window / seconds if seconds > 0 else math.nan,
            "p50": percentile(ordered, 50),
            "p95": percentile(ordered, 95),
            "p99": percentile(ordered, 99),
            "busy": self.busy,
            "busy_why": dict(sorted(self.busy_why.items())),
            "errors": dict(sorted(self.errors.items())),
            "items": self.items,
        }


def is_busy(response: httpx.Response) -> bool:
    """A 503 `busy` with Retry-After: the service shedding load as documented."""
    if response.status_code != 503 or "retry-after" not in response.headers:
        return False
    try:
        return bool(response.json().get("code") == "busy")
    except ValueError:
        return False


def busy_cause(response: httpx.Response) -> str:
    """Why the service was busy: every database connection in use (`pool`), or a write's
    lock held too long (`lock`), as its problem's detail says."""
    detail = str(response.json().get("detail", ""))
    return "pool" if "connection" in detail else "lock" if "lock" in detail else "other"


class Run:
    """The clock and the tallies shared by every client of one run."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.started = asyncio.Event()
        self.start = self.deadline = math.inf
        self.ready = 0  # clients whose warm-up request answered
        self.tallies: dict[str, Tally] = defaultdict(Tally)

    async def warm_up(self, first: Callable[[], Awaitable[T | None]]) -> T | None:
        """The client's first request, tried again while it fails (busy, or an error: the
        clients start as one herd), a few times; then the client is counted ready and waits
        for the clock. Its answer, or None."""
        answer = None
        for _ in range(WARM_TRIES):
            answer = await first()
            if answer is not None:
                break
        self.ready += 1
        await self.started.wait()
        return answer

    def open(self) -> bool:
        return time.monotonic() < self.deadline

    async def send(
        self,
        client: httpx.AsyncClient,
        kind: str,
        method: str,
        url: str,
        expect: int = 200,
        **options: Any,
    ) -> httpx.Response | None:
        """One request, timed and tallied under `kind`; the response if it was the expected
        one, else None (after waiting Retry-After, within the window, if it was busy)."""
        tally = self.tallies[kind]
        begun = time.monotonic()
        try:
            response = await client.request(method, url, **options)
        except httpx.HTTPError as error:
            tally.errors[f"transport {type(error).__name__}"] += 1
            return None
        ended = time.monotonic()
        tally.latencies.append((ended - begun) * 1000)
        if ended <= self.deadline:
            tally.in_window += 1
        if response.status_code == expect:
            return response
        if is_busy(response):
            tally.busy += 1
            tally.busy_why[busy_cause(response)] += 1
            wait = min(float(response.headers["retry-after"]), MAX_RETRY_AFTER)
            await asyncio.sleep(max(0.0, min(wait, self.deadline - time.monotonic())))
        else:
            tally.errors[str(response.status_code)] += 1
        return None


async def operator(run: Run, client: httpx.AsyncClient, plan: dict[str, Any], spec: Any) -> None:
    """PUT an indicator's values of the quarter, read them back; the next indicator."""
    writes = spec["writes"]
    year, quarter = plan["year"], plan["quarter"]
    first = f"/api/v1/indicators/{writes[0][0]}/realizations/{year}/{quarter}"
    await run.warm_up(lambda: run.send(client, WARM, "GET", first))
    n = 0
    while run.open():
        indicator, codes = writes[n % len(writes)]
        values = {code: 10 + (n * 7 + k) % 50 for k, code in enumerate(codes)}
        n += 1
        path = f"/api/v1/indicators/{indicator}/realizations/{year}/{quarter}"
        if await run.send(client, PUT, "PUT", path, json={"values": values}) is None:
            continue
        back = await run.send(client, READ, "GET", path)
        if back is not None and spec["exact"]:
            stored = back.json()["quarter_values"]
            if any(stored.get(code) != value for code, value in values.items()):
                run.tallies[READ].errors["mismatch"] += 1


async def pull(
    run: Run, client: httpx.AsyncClient, params: dict[str, Any], kind: str = PULL
) -> str | None:
    """Every page of one pull, tallied under `kind`; the first page's cursor, or None if a
    page was not answered."""
    offset, cursor = 0, ""
    while True:
        page = {**params, "limit": PAGE, "offset": offset}
        answer = await run.send(client, kind, "GET", "/api/v1/achievements", params=page)
        if answer is None:
            return None
        body = answer.json()
        cursor = cursor or body["cursor"]
        run.tallies[kind].items += len(body["items"])
        offset += PAGE
        if offset >= body["total"]:
            return cursor


async def esakip(run: Run, client: httpx.AsyncClient, plan: dict[str, Any], spec: Any) -> None:
    """Pull the quarter's changes since the cursor, over and over (with `full`, the whole
    quarter every time)."""
    params = {"year": plan["year"], "quarter": plan["quarter"]}
    # The full pull that gives the first cursor (without one, the first timed pull is full).
    cursor = await run.warm_up(lambda: pull(run, client, params, WARM))
    while run.open():
        since = {"cursor": cursor} if cursor and not spec.get("full") else {}
        cursor = await pull(run, client, params | since) or cursor


async def dashboard(run: Run, client: httpx.AsyncClient, plan: dict[str, Any], spec: Any) -> None:
    """Open the agency's dashboard of the quarter, over and over."""
    params = {"tahun": plan["year"], "triwulan": plan["quarter"], "agency": spec["agency"]}
    await run.warm_up(lambda: run.send(client, WARM, "GET", "/dasbor", params=params))
    while run.open():
        answer = await run.send(client, DASHBOARD, "GET", "/dasbor", params=params)
        if answer is not None and "text/html" not in answer.headers.get("content-type", ""):
            run.tallies[DASHBOARD].errors["not html"] += 1


LOOPS = {"operator": operator, "esakip": esakip, "dashboard": dashboard}


def spread(kinds: list[str], servers: int) -> list[int]:
    """The server of each client: the clients of each kind dealt in turn, so that every
    server has its share of each kind."""
    dealt: Counter[str] = Counter()
    where = []
    for kind in kinds:
        where.append(dealt[kind] % servers)
        dealt[kind] += 1
    return where


def connect(base: str, spec: dict[str, Any], timeout: float) -> httpx.AsyncClient:
    headers = {"Authorization": f"Bearer {spec['key']}"} if "key" in spec else {}
    return httpx.AsyncClient(
        base_url=base,
        headers=headers,
        cookies=spec.get("cookies"),
        timeout=timeout,
        limits=httpx.Limits(max_connections=1),
    )


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


async def generate(plan: dict[str, Any]) -> dict[str, Any]:
    """Run the plan's clients for its seconds, after their warm-up; the summary."""
    run = Run(float(plan["seconds"]))
    bases = plan["bases"]
    where = spread([spec["kind"] for spec in plan["clients"]], len(bases))
    clients = [
        connect(bases[n], spec, plan["timeout"])
        for n, spec in zip(where, plan["clients"], strict=True)
    ]
    tasks = [
        asyncio.create_task(LOOPS[spec["kind"]](run, client, plan, spec))
        for client, spec in zip(clients, plan["clients"], strict=True)
    ]
    # The warm-up: every client's first request answered, or failed (a bounded wait).
    warm_deadline = time.monotonic() + 2 * plan["timeout"]
    while run.ready + sum(t.done() for t in tasks) < len(tasks):
        if time.monotonic() > warm_deadline:
            break
        await asyncio.sleep(0.05)
    cpu_before = cpu_seconds()
    run.start = time.monotonic()
    run.deadline = run.start + run.seconds
    print("start", flush=True)
    run.started.set()
    await asyncio.sleep(run.seconds)
    cpu_window = cpu_seconds() - cpu_before
    print("end", flush=True)
    done, pending = await asyncio.wait(tasks, timeout=plan["timeout"] + MAX_RETRY_AFTER)
    for task in pending:
        task.cancel()
    failed = [repr(t.exception()) for t in done if t.exception() is not None]
    for client in clients:
        await client.aclose()
    return {
        "seconds": run.seconds,
        "generator_cpu_s": cpu_window,
        "kinds": {k: run.tallies[k].summary(run.seconds) for k in KINDS if k in run.tallies},
        "warm_up": run.tallies[WARM].summary(run.seconds),
        "clients_failed": failed,
        "clients_unfinished": len(pending),
    }


def main() -> int:
    plan = json.load(sys.stdin)
    print(json.dumps(asyncio.run(generate(plan))), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
