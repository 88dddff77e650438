"""City-scale speed: the achievements pull and the writes, against the data path's floor.

Run from the repository root: python bench/city_bench.py [--databases sqlite,postgresql]

For each database, one server (uvicorn, one worker) serves a city that grows from 1 to 25
to 100 agencies like the seeded one (bench/city.py). At each size, in one run, it measures:

- the full pull: every achievement of the year at quarter 4, pages of 1000, over HTTP, of
  data unchanged since the last pull (figures remembered by revision), and the first pull
  after every agency's data changed (`iki forget`: every figure computed again);
- the floor: the same figures read in this process by plain SQL (definitions, values,
  targets), year-to-date aggregation in Python, formulas by compiled `eval`, `json.dumps`;
- a realization PUT and a data-values PUT of one quarter (median, p95), a 39-indicator
  achievements page, and `/healthz` (median), on the same server;
- the data-quality checks of one unit's quarter (`GET .../checks`, median), and of every
  unit's quarter 4 of the city at once, in this process (`unit_quarters` and `check`, as
  the pull computes them: 600 unit-quarters at 100 agencies).

It prints one line per figure, then the goals as ratios measured in this run, and exits with
status 1 if one is missed.
"""

from __future__ import annotations

import argparse
import gc
import json
import math
import os
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import httpx
from sqlalchemy import Engine, make_url, text
from sqlmodel import Session, select

from app.core.db import make_engine
from app.core.migrations import upgrade
from app.models import Role, Unit
from app.quality import check
from app.services import audit, keys, quality, revisions
from app.services.seed import load_seed
from bench.city import YEAR, agency_code, city_seed_dir, target_items, value_rows

SIZES = (1, 25, 100)
POSTGRES_ADMIN = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
BENCH_DATABASE = "iki_bench"
PAGE = 1000
TOTAL = re.compile(rb'"total":([0-9]+)')
QUIET = ("--log-level", "warning", "--no-access-log")


# The goals of the city-scale issue: (name, limit) over ratios measured in one run.
GOALS = {
    "pull/floor at 100 agencies": 3.0,
    "pull 100 / pull 25 (4x the data)": 4.5,
    "realization PUT 100 / PUT 1": 1.2,
    "realization PUT / healthz": 4.0,
    "39-indicator page / healthz": 5.0,
    "seeding 100 agencies (s)": 10.0,
    "targets of 3,900 indicators (s)": 10.0,
    "checks of a unit's quarter / realization PUT": 5.0,
}


@dataclass
class Figures:
    """What one size measured."""

    agencies: int
    indicators: int = 0
    seed_s: float = 0.0
    import_s: float = 0.0
    targets_s: float = 0.0
    pull_s: float = 0.0
    cold_pull_s: float = 0.0
    floor_s: float = 0.0
    page_ms: float = 0.0
    healthz_ms: float = 0.0
    realization_ms: list[float] = field(default_factory=list)
    sheet_ms: list[float] = field(default_factory=list)
    checks_ms: float = 0.0
    city_checks_s: float = 0.0
    unit_quarters: int = 0


def median(samples: list[float]) -> float:
    return statistics.median(samples)


def p95(samples: list[float]) -> float:
    return statistics.quantiles(samples, n=20)[18]


def timed(function: Callable[[], Any], repeats: int) -> list[float]:
    """Wall times of `repeats` calls, in seconds, with the collector run between them."""
    samples = []
    for _ in range(repeats):
        gc.collect()
        start = time.perf_counter()
        function()
        samples.append(time.perf_counter() - start)
    return samples


# The database and the server ------------------------------------------------------------


@contextmanager
def fresh_database(
    kind: str, workdir: Path, admin_url: str = POSTGRES_ADMIN, name: str = BENCH_DATABASE
) -> Iterator[str]:
    """The URL of an empty database of `kind`, dropped afterwards (PostgreSQL: `name` on the
    server that `admin_url` connects to)."""
    if kind == "sqlite":
        yield f"sqlite:///{workdir / 'bench.db'}"
        return
    admin = make_engine(admin_url).execution_options(isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        connection.execute(text(f"CREATE DATABASE {name}"))
    url = make_url(admin_url).set(database=name)
    try:
        yield url.render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        admin.dispose()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def server(url: str, source: Path | None = None) -> Iterator[str]:
    """A uvicorn server (one worker) on the database, of the service in `source` (a folder
    holding `app/`; by default this one); its base URL."""
    port = free_port()
    env = os.environ | {"DATABASE_URL": url, "AUTH_FAILURE_LIMIT": "0"}
    process = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "app.main:app", "--port", str(port), *QUIET],
        env=env,
        cwd=source,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_healthy(base, process, 30)
        yield base
    finally:
        process.terminate()
        process.wait(timeout=30)


def wait_healthy(base: str, process: subprocess.Popen[bytes], seconds: float = 60) -> None:
    """Wait until the server started as `process` answers `/healthz` on `base`."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            httpx.get(f"{base}/healthz", timeout=1).raise_for_status()
            return
        except httpx.HTTPError:
            if time.monotonic() > deadline or process.poll() is not None:
                raise RuntimeError(f"the server on {base} did not start") from None
            time.sleep(0.1)


def analyze(engine: Engine, sqlite: bool = False) -> None:
    """On PostgreSQL, bring the planner's statistics up to date, as autovacuum would soon
    after a bulk load: the figures are those of a city in use, not of the minute after its
    load (with the statistics of an empty table, PostgreSQL scans every value of the year for
    each page of a pull). SQLite keeps no statistics unless asked: with `sqlite` it is
    asked too (`--analyze`), and the server's connections keep the statistics they loaded
    first (see RESULTS.md)."""
    if engine.dialect.name == "postgresql" or sqlite:
        with engine.begin() as connection:
            connection.exec_driver_sql("ANALYZE")


def admin_key(engine: Engine) -> str:
    with Session(engine) as session:
        audit.act_as(session, "bench", "admin", None)
        _, secret = keys.create_key(session, f"bench-{uuid.uuid4().hex[:8]}", Role.admin)
        session.commit()
    return secret


# Building the city ------------------------------------------------------------------------


def seed(engine: Engine, folder: Path) -> float:
    """Load the seed folder's new agencies, as `iki seed` does; seconds."""
    start = time.perf_counter()
    with Session(engine) as session:
        audit.act_as(session, "seed", "admin", None)
        load_seed(session, folder)
        session.commit()
    return time.perf_counter() - start


def import_values(client: httpx.Client, indexes: range) -> float:
    """Import the agencies' four quarters of values, one import per agency; seconds."""
    start = time.perf_counter()
    for index in indexes:
        body = {"agency": agency_code(index), "rows": value_rows(index)}
        client.post("/api/v1/data-values/import", json=body).raise_for_status()
    return time.perf_counter() - start


def agency_indicators(client: httpx.Client, code: str) -> list[dict[str, Any]]:
    page = client.get(
        "/api/v1/indicators", params={"agency": code, "year": YEAR, "limit": 1000}
    ).json()
    return list(page["items"])


def set_targets(client: httpx.Client, indexes: range) -> float:
    """Set the agencies' targets in one bulk request; seconds (the request alone)."""
    items = [
        item
        for index in indexes
        for item in target_items(index, agency_indicators(client, agency_code(index)))
    ]
    start = time.perf_counter()
    response = client.put(f"/api/v1/targets/{YEAR}", json=items)
    if response.status_code == 404:  # a server without the bulk endpoint: one PUT each
        for item in items:
            path = f"/api/v1/indicators/{item.pop('indicator_id')}/targets/{YEAR}"
            client.put(path, json=item).raise_for_status()
    else:
        response.raise_for_status()
    return time.perf_counter() - start


# The floor ---------------------------------------------------------------------------------

_BUILTINS = {"min": min, "max": max, "abs": abs, "round": round}


def floor_pull(engine: Engine, quarter: int = 4) -> str:
    """The pull's figures by the shortest path: plain SQL, Python, compiled eval, json."""
    connection = engine.raw_connection()
    mark = "?" if engine.dialect.name == "sqlite" else "%s"
    try:
        cursor = connection.cursor()
        cursor.execute(
            "SELECT i.id, i.code, i.name, i.unit_of_measure, i.polarity, i.decimals, "
            "i.formula, a.id, a.code, p.code, p.title "
            "FROM indicator i JOIN decree d ON d.id = i.decree_id "
            "JOIN agency a ON a.id = d.agency_id "
            "JOIN objective o ON o.id = i.objective_id "
            "JOIN position p ON p.id = o.position_id "
            f"WHERE d.year = {mark} "
            "ORDER BY a.code, o.position_id, o.number, i.number, i.id",
            (YEAR,),
        )
        indicators = cursor.fetchall()
        cursor.execute("SELECT id, agency_id, code, aggregation FROM variable")
        variables = {(agency, code): (ident, agg) for ident, agency, code, agg in cursor.fetchall()}
        cursor.execute(
            f"SELECT variable_id, quarter, value FROM data_value WHERE year = {mark} "
            f"AND quarter <= {mark}",
            (YEAR, quarter),
        )
        values: dict[int, dict[int, float]] = defaultdict(dict)
        for variable_id, q, value in cursor.fetchall():
            values[variable_id][q] = value
        cursor.execute(
            f"SELECT indicator_id, quarter, value FROM target WHERE year = {mark}", (YEAR,)
        )
        targets = {(ident, q): value for ident, q, value in cursor.fetchall()}
        cursor.execute("SELECT bands FROM rating_scale WHERE is_default")
        (stored,) = cursor.fetchall()[0]
        bands = json.loads(stored) if isinstance(stored, str) else stored
        bands.sort(key=lambda b: -math.inf if b["min"] is None else b["min"], reverse=True)
    finally:
        connection.close()

    compiled: dict[str, Any] = {}
    items = []
    for (
        ident,
        code,
        name,
        uom,
        polarity,
        decimals,
        formula,
        agency_id,
        agency,
        pos,
        title,
    ) in indicators:
        program = compiled.get(formula)
        if program is None:
            program = compiled[formula] = compile(formula, "<formula>", "eval")
        names = [n for n in program.co_names if n not in _BUILTINS]
        ytd: dict[str, float | None] = {}
        this_quarter: dict[str, float | None] = {}
        has_any = False
        for variable in names:
            variable_id, aggregation = variables[(agency_id, variable)]
            by_quarter = values.get(variable_id, {})
            has_any = has_any or bool(by_quarter)
            this_quarter[variable] = by_quarter.get(quarter)
            if aggregation == "last":
                ytd[variable] = by_quarter.get(quarter)
            elif all(q in by_quarter for q in range(1, quarter + 1)):
                ytd[variable] = math.fsum(by_quarter[q] for q in range(1, quarter + 1))
            else:
                ytd[variable] = None
        missing = [v for v, x in ytd.items() if x is None]
        target = targets.get((ident, quarter), targets.get((ident, 0)))
        realization = percent = rating = None
        status = "no_data" if not has_any else "partial_data" if missing else "ok"
        if status == "ok":
            try:
                realization = eval(program, {"__builtins__": _BUILTINS}, ytd)
            except ZeroDivisionError:
                status = "undefined"
        if status == "ok" and target is None:
            status = "no_target"
        elif status == "ok" and realization is not None and target:
            if polarity == "lower_is_better":
                percent = max(0.0, (2 * target - realization) / target * 100)
            else:
                percent = realization / target * 100
            rating = next(b for b in bands if b["min"] is None or percent >= b["min"])
        elif status == "ok":
            status = "undefined"
        items.append(
            {
                "indicator": {
                    "id": ident,
                    "code": code,
                    "name": name,
                    "unit_of_measure": uom,
                    "polarity": polarity,
                    "decimals": decimals,
                },
                "position": {"code": pos, "title": title},
                "agency": agency,
                "year": YEAR,
                "quarter": quarter,
                "values": ytd,
                "quarter_values": this_quarter,
                "realization": realization,
                "target": target,
                "achievement": percent,
                "rating": rating,
                "status": status,
                "missing_variables": missing,
            }
        )
    return json.dumps({"items": items, "total": len(items)})


# Measuring -----------------------------------------------------------------------------------


def full_pull(client: httpx.Client) -> int:
    """Every achievement of the year at quarter 4, page by page; how many."""
    count, offset = 0, 0
    while True:
        response = client.get(
            "/api/v1/achievements",
            params={"year": YEAR, "quarter": 4, "limit": PAGE, "offset": offset},
        )
        response.raise_for_status()
        # The body is read whole; only its total is parsed (a client's parsing is not the
        # service's cost, and the floor does not parse either).
        total = int(TOTAL.findall(response.content[-200:])[-1])
        count += min(PAGE, total - offset)
        offset += PAGE
        if offset >= total:
            return count


def realization_writes(client: httpx.Client, count: int) -> list[float]:
    """Times of `count` realization PUTs of the first agency's first indicator, in ms."""
    first = client.get(
        "/api/v1/achievements", params={"year": YEAR, "agency": agency_code(1), "limit": 1}
    ).json()["items"][0]
    path = f"/api/v1/indicators/{first['indicator']['id']}/realizations/{YEAR}/1"
    samples = []
    for n in range(count):
        body = {"values": {code: 10 + n % 7 for code in first["values"]}}
        start = time.perf_counter()
        client.put(path, json=body).raise_for_status()
        samples.append((time.perf_counter() - start) * 1000)
    return samples


def sheet_writes(client: httpx.Client, count: int) -> list[float]:
    """Times of `count` data-values PUTs of the first agency's whole quarter 2, in ms."""
    codes = sorted({row["variable"] for row in value_rows(1)})
    samples = []
    for n in range(count):
        body = {"values": {code: 20 + (n + i) % 9 for i, code in enumerate(codes)}}
        start = time.perf_counter()
        client.put(
            f"/api/v1/data-values/{YEAR}/2", params={"agency": agency_code(1)}, json=body
        ).raise_for_status()
        samples.append((time.perf_counter() - start) * 1000)
    return samples


def request_ms(client: httpx.Client, path: str, count: int, **params: Any) -> float:
    samples = []
    for _ in range(count):
        start = time.perf_counter()
        client.get(path, params=params).raise_for_status()
        samples.append((time.perf_counter() - start) * 1000)
    return median(samples)


def forget(engine: Engine) -> None:
    """Revise every agency, as a write to each would (`iki forget`)."""
    with Session(engine) as session:
        revisions.forget(session)
        session.commit()


def city_checks(engine: Engine, quarter: int = 4) -> int:
    """The data-quality checks of every unit's quarter of the city, read at once as the pull
    reads them; how many unit-quarters."""
    with Session(engine) as session:
        units = [ident for ident in session.exec(select(Unit.id)) if ident is not None]
        found = quality.unit_quarters(session, units, YEAR, [quarter])
        for unit_quarter in found.values():
            check(unit_quarter)
    return len(found)


def measure(
    engine: Engine, client: httpx.Client, figures: Figures, repeats: int, writes: int
) -> None:
    figures.indicators = full_pull(client)  # also warms the server up
    floor_pull(engine)
    pulls, cold, floors = [], [], []
    for _ in range(repeats):  # in turn, so that the machine's noise hits them alike
        forget(engine)  # every agency revised: the server computes every figure again
        cold += timed(lambda: full_pull(client), 1)
        pulls += timed(lambda: full_pull(client), 1)  # the data unchanged since: remembered
        floors += timed(lambda: floor_pull(engine), 1)
    figures.pull_s, figures.cold_pull_s, figures.floor_s = min(pulls), min(cold), min(floors)
    figures.healthz_ms = request_ms(client, "/healthz", 200)
    figures.page_ms = request_ms(
        client, "/api/v1/achievements", 50, year=YEAR, agency=agency_code(1)
    )
    figures.realization_ms = realization_writes(client, writes)
    figures.sheet_ms = sheet_writes(client, writes)
    figures.checks_ms = request_ms(
        client, f"/api/v1/periods/{YEAR}/4/units/BID_RPJS/checks", 50, agency=agency_code(1)
    )
    figures.unit_quarters = city_checks(engine)
    figures.city_checks_s = min(timed(lambda: city_checks(engine), repeats))


def report(kind: str, f: Figures) -> None:
    n = f.indicators
    print(
        f"{kind:10} {f.agencies:>3} agencies {n:>5} indicators | "
        f"seed {f.seed_s:6.2f} s  import {f.import_s:6.2f} s  targets {f.targets_s:6.2f} s"
    )
    print(
        f"{'':10} pull {f.pull_s:7.3f} s ({n / f.pull_s:7.0f} achievements/s) | "
        f"floor {f.floor_s:7.3f} s | pull/floor {f.pull_s / f.floor_s:5.2f}x | "
        f"first pull after every agency changed {f.cold_pull_s:7.3f} s "
        f"({f.cold_pull_s / f.floor_s:5.2f}x the floor)"
    )
    print(
        f"{'':10} realization PUT median {median(f.realization_ms):6.2f} ms "
        f"p95 {p95(f.realization_ms):6.2f} | data-values PUT median {median(f.sheet_ms):6.2f} ms "
        f"p95 {p95(f.sheet_ms):6.2f} | 39-indicator page {f.page_ms:6.2f} ms | "
        f"healthz {f.healthz_ms:5.2f} ms | PUT/healthz "
        f"{median(f.realization_ms) / f.healthz_ms:5.2f}x page/healthz "
        f"{f.page_ms / f.healthz_ms:5.2f}x",
    )
    print(
        f"{'':10} checks of a unit's quarter median {f.checks_ms:6.2f} ms "
        f"({f.checks_ms / median(f.realization_ms):5.2f}x a realization PUT) | checks of "
        f"{f.unit_quarters} unit-quarters at once {f.city_checks_s:6.3f} s "
        f"({f.city_checks_s / max(f.unit_quarters, 1) * 1000:5.2f} ms each)",
        flush=True,
    )


def run(
    kind: str, sizes: tuple[int, ...], repeats: int, writes: int, analyze_sqlite: bool = False
) -> dict[str, float]:
    """Grow a city on one server and measure it at each size; the goals' ratios."""
    measured: dict[int, Figures] = {}
    with tempfile.TemporaryDirectory() as tmp, fresh_database(kind, Path(tmp)) as url:
        engine = make_engine(url)
        upgrade(engine)
        secret = admin_key(engine)
        folder = Path(tmp) / "seed"
        with (
            server(url) as base,
            httpx.Client(
                base_url=base, headers={"Authorization": f"Bearer {secret}"}, timeout=300
            ) as client,
        ):
            done = 0
            for size in sizes:
                figures = Figures(size)
                city_seed_dir(folder, size)
                figures.seed_s = seed(engine, folder)
                figures.import_s = import_values(client, range(done + 1, size + 1))
                figures.targets_s = set_targets(client, range(done + 1, size + 1))
                done = size
                analyze(engine, analyze_sqlite)
                measure(engine, client, figures, repeats, writes)
                report(kind, figures)
                measured[size] = figures
        engine.dispose()
    small, middle, large = (measured[s] for s in sizes)
    seeding = sum(f.seed_s for f in measured.values())
    targets = sum(f.targets_s for f in measured.values())
    return {
        "pull/floor at 100 agencies": large.pull_s / large.floor_s,
        "pull 100 / pull 25 (4x the data)": large.pull_s / middle.pull_s,
        "first pull after every agency changed / floor, at 100": large.cold_pull_s / large.floor_s,
        "first pull 100 / first pull 25": large.cold_pull_s / middle.cold_pull_s,
        "realization PUT 100 / PUT 1": median(large.realization_ms) / median(small.realization_ms),
        "realization PUT / healthz": median(large.realization_ms) / large.healthz_ms,
        "39-indicator page / healthz": large.page_ms / large.healthz_ms,
        "seeding 100 agencies (s)": seeding,
        "targets of 3,900 indicators (s)": targets,
        "data-values PUT 100 / PUT 1": median(large.sheet_ms) / median(small.sheet_ms),
        "checks of a unit's quarter / realization PUT": large.checks_ms
        / median(large.realization_ms),
        f"checks of {large.unit_quarters} unit-quarters (s)": large.city_checks_s,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--databases", default="sqlite,postgresql")
    parser.add_argument("--sizes", default=",".join(map(str, SIZES)), help="three sizes")
    parser.add_argument("--repeats", type=int, default=5, help="full pulls per size")
    parser.add_argument("--writes", type=int, default=30, help="PUTs of each kind per size")
    parser.add_argument(
        "--analyze", action="store_true", help="ANALYZE after each size on SQLite too"
    )
    args = parser.parse_args()
    missed = []
    for kind in args.databases.split(","):
        sizes = tuple(int(s) for s in args.sizes.split(","))
        missed += verdicts(kind, run(kind, sizes, args.repeats, args.writes, args.analyze), GOALS)
    return finish(missed)


def verdicts(kind: str, ratios: dict[str, float], goals: dict[str, float]) -> list[str]:
    """Print each figure measured on `kind` against its goal, if it has one; the missed."""
    missed = []
    for name, value in ratios.items():
        limit = goals.get(name)
        verdict = "" if limit is None else ("met" if value <= limit else "MISSED")
        print(f"{kind:10} {name:44} {value:7.2f}  goal <= {limit or '-':<5} {verdict}")
        if verdict == "MISSED":
            missed.append(f"{kind}: {name}")
    return missed


def finish(missed: list[str]) -> int:
    """Print the machine and the goals missed; the exit status (1 if one was)."""
    print(f"machine: {os.cpu_count()} cores, {time.strftime('%Y-%m-%d')}")
    if missed:
        print("missed: " + "; ".join(missed))
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
