"""The deadline day: a city's operators, its e-SAKIP and its leaders on the service at once.

Run from the repository root: python bench/load.py [--seconds 60] [--clients 100]

One city of 25 agencies (bench/city.py: the seeded agency copied, four quarters of values
with holes, targets) is built on PostgreSQL (a scratch database `iki_load_bench` on
127.0.0.1, or on the server that BENCH_DATABASE_URL or TEST_DATABASE_URL names; dropped
after) through the service's own paths. Then `iki serve`, started as a
subprocess on 127.0.0.1 (uvicorn, as deployed), serves it in three configurations in turn:

- `1 worker`: one server, `--workers 1`;
- `2 workers`: one server, `--workers 2`;
- `2 servers + Redis`: two servers of one worker each, their throttles shared in Redis
  (RATE_LIMIT_STORAGE_URL=redis://127.0.0.1:6379/0), the clients split between them.

Against each, the load generator (`load_clients.py`, a process of its own: httpx on asyncio)
runs a closed loop of `--clients` clients for `--seconds`: every twentieth client opens the
dashboard signed in as a person, every other tenth is e-SAKIP pulling with its cursor, and
the rest are operators, each with a key of its own agency's unit, putting the quarter's
realisasi of its unit's indicators and reading each back. It prints, per configuration and
kind of request, the requests, the throughput, p50/p95/p99 and the errors by status.

While the clients run, the CPU time (utime + stime from /proc) of the server processes and
their workers, of PostgreSQL's backends of the bench's database, of the generator and of the
whole machine is read at the edges of the window, and divided by the requests answered.
Then short runs of one kind of client alone, on one worker, give the CPU per request of each
kind (the e-SAKIP one pulls the whole quarter every time: CPU per achievement served).

With the table come the ceiling that the CPU per request puts on this machine's throughput
(and the best ratio of 2 workers to 1 it allows), the servers that waited with cores idle,
and the 503 `busy` by cause (see bench/RESULTS.md for what the first run found).

The goals, each printed `met` or `MISSED` (exit status 1 if one is missed): 2 workers give
at least 1.5x the throughput of 1 worker; in every configuration no error (5xx other than
503 `busy` with Retry-After, or any other unexpected answer) and at most 1% of 503 `busy`.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import httpx
import psycopg
import yaml
from sqlalchemy import make_url
from sqlmodel import Session

from app.core.db import make_engine
from app.core.migrations import upgrade
from app.models import Role
from app.services import audit, keys
from bench.city import SOURCE, YEAR, agency_code, city_seed_dir
from bench.city_bench import (
    POSTGRES_ADMIN,
    admin_key,
    agency_indicators,
    analyze,
    free_port,
    fresh_database,
    import_values,
    seed,
    server,
    set_targets,
    wait_healthy,
)
from bench.load_clients import KINDS, PUT
from bench.pages_bench import make_person, postgres_server, signed_in

ROOT = Path(__file__).resolve().parents[1]
LOAD_DATABASE = "iki_load_bench"
REDIS = "redis://127.0.0.1:6379/0"
QUARTER = 4
TICKS = os.sysconf("SC_CLK_TCK")
CORES = os.cpu_count() or 1
THROUGHPUT_GOAL = 1.5  # 2 workers over 1 worker
BUSY_GOAL = 0.01  # 503 busy, of all requests


@dataclass(frozen=True)
class Configuration:
    """How the service is run: server processes, each with its workers."""

    name: str
    servers: int
    workers: int
    redis: bool = False


CONFIGURATIONS = (
    Configuration("1 worker", 1, 1),
    Configuration("2 workers", 1, 2),
    Configuration("2 servers + Redis", 2, 1, redis=True),
)


# Who the clients are ------------------------------------------------------------------------


def kinds_of_clients(clients: int) -> list[str]:
    """The kind of each client, in order: every twentieth `dashboard`, every other tenth
    `esakip`, the rest `operator`."""
    return [
        "dashboard" if i % 20 == 0 else "esakip" if i % 10 == 0 else "operator"
        for i in range(1, clients + 1)
    ]


def operator_places(operators: int, agencies: int, units: list[str]) -> list[tuple[int, str, bool]]:
    """Where each operator works: (agency index, unit code, whether no other operator shares
    that unit), the operators spread over agencies and units alike."""
    places = [(j % agencies + 1, units[j % len(units)]) for j in range(operators)]
    shared = Counter(places)
    return [(agency, unit, shared[(agency, unit)] == 1) for agency, unit in places]


def unit_codes() -> list[str]:
    organization = yaml.safe_load((SOURCE / "organization.yaml").read_text(encoding="utf-8"))
    return [unit["code"] for unit in organization["units"]]


def unit_writes(indicators: list[dict[str, Any]], unit: str) -> list[list[Any]]:
    """The unit's share of the agency's indicators: [indicator id, [variables it owns]] for
    each indicator that has one."""
    writes = []
    for indicator in indicators:
        codes = [v["code"] for v in indicator["variables"] if v["owner_unit"]["code"] == unit]
        if codes:
            writes.append([indicator["id"], codes])
    return writes


def database_bytes(url: str) -> int:
    """The size of the database of `url` on disk."""
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            size = connection.exec_driver_sql("SELECT pg_database_size(current_database())")
            return int(size.scalar_one())
    finally:
        engine.dispose()


@dataclass
class City:
    """The built city and the credentials of its clients."""

    url: str
    clients: list[dict[str, Any]]
    backends: Callable[[], set[int]]  # the PIDs of PostgreSQL's backends of its database
    empty_bytes: int  # the database's size, migrated and empty
    built_bytes: int  # the database's size once built


def credentials(
    engine: Any, base: str, admin: httpx.Client, kinds: list[str], agencies: int
) -> list[dict[str, Any]]:
    """One plan entry per client: operators with a key of their agency's unit and the unit's
    indicators, e-SAKIPs with a reader key, dashboards signed in as a person."""
    indicators = {i: agency_indicators(admin, agency_code(i)) for i in range(1, agencies + 1)}
    places = iter(operator_places(kinds.count("operator"), agencies, unit_codes()))
    entries: list[dict[str, Any]] = []
    with Session(engine) as session:
        audit.act_as(session, "bench", "admin", None)
        for n, kind in enumerate(kinds):
            name = f"load-{n}-{uuid.uuid4().hex[:6]}"
            if kind == "operator":
                agency, unit, exact = next(places)
                _, secret = keys.create_key(
                    session, name, Role.operator, [unit], agency_code(agency)
                )
                writes = unit_writes(indicators[agency], unit)
                entries.append({"kind": kind, "key": secret, "writes": writes, "exact": exact})
            elif kind == "esakip":
                _, secret = keys.create_key(session, name, Role.reader)
                entries.append({"kind": kind, "key": secret})
            else:
                entries.append({"kind": kind, "agency": agency_code(n % agencies + 1)})
        session.commit()
    for entry in entries:
        if entry["kind"] == "dashboard":
            with closing(signed_in(base, make_person(engine))) as browser:
                entry["cookies"] = dict(browser.cookies.items())
    return entries


@contextmanager
def city(agencies: int, kinds: list[str], workdir: Path) -> Iterator[City]:
    """A city of `agencies` on a scratch PostgreSQL database, its values and targets in, and
    the credentials of `kinds` of clients; dropped afterwards."""
    admin_url = postgres_server() or POSTGRES_ADMIN
    with fresh_database("postgresql", workdir, admin_url, LOAD_DATABASE) as url:
        engine = make_engine(url)
        upgrade(engine)
        empty = database_bytes(url)
        secret = admin_key(engine)
        folder = workdir / "seed"
        city_seed_dir(folder, agencies)
        start = time.perf_counter()
        seed(engine, folder)
        with (
            server(url) as base,
            httpx.Client(
                base_url=base, headers={"Authorization": f"Bearer {secret}"}, timeout=300
            ) as admin,
        ):
            import_values(admin, range(1, agencies + 1))
            set_targets(admin, range(1, agencies + 1))
            analyze(engine)
            clients = credentials(engine, base, admin, kinds, agencies)
        built = time.perf_counter() - start
        print(
            f"city: {agencies} agencies on PostgreSQL, built in {built:.1f} s;"
            f" {kinds.count('operator')} operators, {kinds.count('esakip')} e-SAKIP, "
            f"{kinds.count('dashboard')} dashboards",
            flush=True,
        )
        engine.dispose()
        with backends(url) as find:
            yield City(url, clients, find, empty, database_bytes(url))


# The servers ---------------------------------------------------------------------------------


def iki_command() -> list[str]:
    script = Path(sys.executable).parent / "iki"
    return [str(script)] if script.exists() else [sys.executable, "-m", "app.cli"]


@contextmanager
def servers(url: str, configuration: Configuration, logs: Path) -> Iterator[list[Any]]:
    """The configuration's `iki serve` processes on 127.0.0.1, each logging to a file of its
    own in `logs`; [(base URL, process)]."""
    env = os.environ | {"DATABASE_URL": url, "HOST": "127.0.0.1"}
    if configuration.redis:
        env["RATE_LIMIT_STORAGE_URL"] = REDIS
    started: list[Any] = []
    try:
        for _ in range(configuration.servers):
            port = free_port()
            runs = len(list(logs.glob("*.log")))
            name = f"{runs + 1:02d}-{configuration.name.replace(' ', '-').replace('+', 'and')}"
            log = (logs / f"{name}.log").open("wb")
            workers = str(configuration.workers)
            process = subprocess.Popen(
                [*iki_command(), "serve", "--port", str(port), "--workers", workers],
                env=env,
                cwd=ROOT,
                stdout=log,
                stderr=log,
                start_new_session=True,  # its own group: its workers are stopped with it
            )
            log.close()
            started.append((f"http://127.0.0.1:{port}", process))
        for base, process in started:
            wait_healthy(base, process)
        time.sleep(1.0 * configuration.workers)  # every worker up, not only the first
        yield started
    finally:
        for _, process in started:
            stop(process)


def stop(process: subprocess.Popen[bytes]) -> None:
    """Stop a server started here, and its workers (its process group)."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)


# CPU time from /proc ---------------------------------------------------------------------------


def proc_stat(pid: int) -> tuple[int, int] | None:
    """(parent pid, utime + stime in ticks) of a live process, None if it is gone."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = text[text.rindex(")") + 2 :].split()
    return int(fields[1]), int(fields[11]) + int(fields[12])


def descendants(roots: list[int]) -> set[int]:
    """The processes `roots` and all their descendants (uvicorn's workers)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            found = proc_stat(int(entry.name))
            if found is not None:
                children.setdefault(found[0], []).append(int(entry.name))
    seen, stack = set(), list(roots)
    while stack:
        pid = stack.pop()
        if pid not in seen:
            seen.add(pid)
            stack.extend(children.get(pid, []))
    return seen


def machine_ticks() -> tuple[int, int]:
    """(busy, all) CPU ticks of the whole machine since boot (/proc/stat)."""
    parts = [int(x) for x in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = parts[3] + parts[4]  # idle + iowait
    return sum(parts[:8]) - idle, sum(parts[:8])


class CpuMeter:
    """CPU seconds of groups of processes over a window, sampled every `interval` seconds so
    that processes which come and go within it (PostgreSQL backends of connections beyond the
    pool's size) are counted up to their last sample; a process that appears after the start
    counts from zero."""

    def __init__(self, groups: dict[str, Callable[[], set[int]]], interval: float = 0.5):
        self.groups = groups
        self.interval = interval
        self.baseline: dict[str, dict[int, int]] = {g: {} for g in groups}
        self.last: dict[str, dict[int, int]] = {g: {} for g in groups}
        self.measuring = False
        self.lock = threading.Lock()
        self.stopped = threading.Event()
        self.machine_start = self.machine_end = (0, 0)
        self.thread = threading.Thread(target=self._loop, daemon=True)

    def sample(self) -> None:
        for group, find in self.groups.items():
            for pid in find():
                found = proc_stat(pid)
                if found is None:
                    continue
                with self.lock:
                    self.last[group][pid] = found[1]
                    if not self.measuring:
                        self.baseline[group][pid] = found[1]

    def _loop(self) -> None:
        while not self.stopped.wait(self.interval):
            self.sample()

    def __enter__(self) -> CpuMeter:
        self.sample()
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stopped.set()
        self.thread.join(timeout=10)

    def start(self) -> None:
        self.sample()
        with self.lock:
            self.measuring = True
        self.machine_start = machine_ticks()

    def end(self) -> dict[str, float]:
        """CPU seconds of each group since `start`, of the whole machine (`machine`), and
        how many processes of each group began within the window (`<group> started`)."""
        self.machine_end = machine_ticks()
        self.sample()
        with self.lock:
            self.measuring = False
            used = {
                group: sum(t - self.baseline[group].get(p, 0) for p, t in last.items()) / TICKS
                for group, last in self.last.items()
            }
            for group, last in self.last.items():  # processes that began within the window
                used[f"{group} started"] = len(set(last) - set(self.baseline[group]))
        used["machine"] = (self.machine_end[0] - self.machine_start[0]) / TICKS
        return used


@contextmanager
def backends(url: str) -> Iterator[Callable[[], set[int]]]:
    """A function answering the PIDs of PostgreSQL's backends connected to the database of
    `url` (PostgreSQL runs on this machine: 127.0.0.1), through a connection of its own to
    the `postgres` database (not counted)."""
    target = make_url(url)
    admin = target.set(database="postgres", drivername="postgresql")
    lock = threading.Lock()
    with psycopg.connect(admin.render_as_string(hide_password=False), autocommit=True) as db:

        def find() -> set[int]:
            with lock:
                rows = db.execute(
                    "SELECT pid FROM pg_stat_activity WHERE datname = %s", (target.database,)
                ).fetchall()
            return {int(pid) for (pid,) in rows}

        yield find


# One run of the generator ----------------------------------------------------------------------


@dataclass
class Measured:
    """One run: the generator's summary and the CPU seconds of each group in its window."""

    name: str
    summary: dict[str, Any]
    cpu: dict[str, float]
    workers: int = 1  # worker processes in all

    @property
    def seconds(self) -> float:
        return float(self.summary["seconds"])

    def total(self, figure: str) -> float:
        """The sum of a figure of the summary over the kinds of request."""
        return sum(k[figure] for k in self.summary["kinds"].values())

    @property
    def requests(self) -> int:
        return int(self.total("requests"))

    @property
    def answered(self) -> int:
        """Requests answered within the window, whose work its CPU time paid for."""
        return int(self.total("answered"))

    @property
    def throughput(self) -> float:
        return self.total("throughput")

    @property
    def busy(self) -> int:
        return int(self.total("busy"))

    @property
    def errors(self) -> int:
        kinds = self.summary["kinds"].values()
        failed = len(self.summary["clients_failed"]) + self.summary["clients_unfinished"]
        return sum(sum(k["errors"].values()) for k in kinds) + failed

    @property
    def stalled(self) -> bool:
        """Whether the servers waited rather than computed: under 80% of a core per worker
        while a third of a core or more of the machine was idle."""
        idle = CORES - self.cpu["machine"] / self.seconds
        return self.cpu["server"] / self.seconds < 0.8 * self.workers and idle > 0.3

    def per_request_ms(self, group: str) -> float:
        """CPU milliseconds of `group` per request answered within the window."""
        return self.cpu[group] / max(self.answered, 1) * 1000


def generate(
    name: str, plan: dict[str, Any], roots: list[int], database: Callable[[], set[int]]
) -> Measured:
    """Run the generator on `plan`, reading the CPU of the servers (`roots` and their
    workers), of the database's backends and of the generator at the edges of its window."""
    generator = subprocess.Popen(
        [sys.executable, str(ROOT / "bench" / "load_clients.py")],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    )
    groups = {
        "server": lambda: descendants(roots),
        "postgres": database,
        "generator": lambda: {generator.pid},
    }
    assert generator.stdin is not None and generator.stdout is not None
    generator.stdin.write(json.dumps(plan))
    generator.stdin.close()
    cpu: dict[str, float] = {}
    summary: dict[str, Any] = {}
    with CpuMeter(groups) as meter:
        for line in generator.stdout:
            if line.strip() == "start":
                meter.start()
            elif line.strip() == "end":
                cpu = meter.end()
            elif line.startswith("{"):
                summary = json.loads(line)
    if generator.wait(timeout=plan["timeout"] * 3) != 0 or not summary or not cpu:
        raise RuntimeError(f"the load generator failed ({name})")
    return Measured(name, summary, cpu)


def run_configuration(
    configuration: Configuration, built: City, seconds: float, timeout: float, logs: Path
) -> Measured:
    """The configuration under the whole load for `seconds`."""
    with servers(built.url, configuration, logs) as started:
        plan = plan_of(built.clients, [base for base, _ in started], seconds, timeout)
        measured = generate(configuration.name, plan, [p.pid for _, p in started], built.backends)
        measured.workers = configuration.servers * configuration.workers
        return measured


def plan_of(
    clients: list[dict[str, Any]], bases: list[str], seconds: float, timeout: float
) -> dict[str, Any]:
    return {
        "bases": bases,
        "seconds": seconds,
        "timeout": timeout,
        "year": YEAR,
        "quarter": QUARTER,
        "clients": clients,
    }


def run_kinds(built: City, seconds: float, clients: int, timeout: float, logs: Path) -> list[Any]:
    """Each kind of client alone on one worker (`clients` of it, at most as many as the plan
    has): the CPU per request of the kind. The e-SAKIP one pulls the whole quarter every time
    (no cursor), so that its cost is per achievement served."""
    runs = []
    for kind, label in (("operator", "operators"), ("dashboard", "dashboards"), ("esakip", "")):
        chosen = [dict(c) for c in built.clients if c["kind"] == kind][:clients]
        if not chosen:
            continue
        if kind == "esakip":
            label = "e-SAKIP full pulls"
            for entry in chosen:
                entry["full"] = True
        with servers(built.url, CONFIGURATIONS[0], logs) as started:
            plan = plan_of(chosen, [base for base, _ in started], seconds, timeout)
            measured = generate(label, plan, [p.pid for _, p in started], built.backends)
        runs.append((label, len(chosen), measured))
    return runs


# The report ----------------------------------------------------------------------------------


def table(runs: list[Measured]) -> list[str]:
    """The deadline-day table: per configuration and kind of request."""
    head = (
        f"{'configuration':18} {'kind':13} {'requests':>8} {'req/s':>7} {'p50 ms':>8} "
        f"{'p95 ms':>8} {'p99 ms':>8} {'503 busy':>8}  errors by status"
    )
    lines = [head, "-" * len(head)]
    for run in runs:
        for kind in KINDS:
            k = run.summary["kinds"].get(kind)
            if k is None:
                continue
            errors = ", ".join(f"{s}: {n}" for s, n in k["errors"].items()) or "-"
            if k["items"]:
                errors += f" ({k['items'] / max(k['requests'], 1):.0f} achievements a pull)"
            lines.append(
                f"{run.name:18} {kind:13} {k['requests']:8d} {k['throughput']:7.1f} "
                f"{k['p50']:8.1f} {k['p95']:8.1f} {k['p99']:8.1f} {k['busy']:8d}  {errors}"
            )
        lines.append(
            f"{run.name:18} {'all':13} {run.requests:8d} {run.throughput:7.1f} "
            f"{'':8} {'':8} {'':8} {run.busy:8d}  {run.errors} errors"
        )
    return lines


GROUPS = (("server", "server"), ("postgres", "PostgreSQL"), ("generator", "generator"))


def cpu_lines(runs: list[Measured]) -> list[str]:
    """Where the CPU went in each run's window: cores busy on average, and CPU milliseconds
    per request answered in the window."""
    head = (
        f"{'run':20} {'req/s':>6} "
        + " ".join(f"{label + ' cores':>16} {'ms/req':>6}" for _, label in GROUPS)
        + f" {'machine cores':>13} {'others':>6}"
    )
    lines = [head, "-" * len(head)]
    for run in runs:
        w = run.seconds
        ours = sum(run.cpu[group] for group, _ in GROUPS)
        parts = " ".join(
            f"{run.cpu[group] / w:16.2f} {run.per_request_ms(group):6.1f}" for group, _ in GROUPS
        )
        lines.append(
            f"{run.name:20} {run.throughput:6.1f} {parts} {run.cpu['machine'] / w:13.2f} "
            f"{(run.cpu['machine'] - ours) / w:6.2f}"
        )
    return lines


def kind_lines(kinds: list[tuple[str, int, Measured]]) -> list[str]:
    """CPU per request of each kind alone, on one worker (and per achievement of a pull)."""
    head = (
        f"{'kind alone':20} {'clients':>7} {'req/s':>6} {'server ms/req':>13} "
        f"{'PostgreSQL ms/req':>17} {'generator ms/req':>16}  per achievement pulled"
    )
    lines = [head, "-" * len(head)]
    for label, clients, run in kinds:
        items = sum(k["items"] for k in run.summary["kinds"].values())
        line = (
            f"{label:20} {clients:7d} {run.throughput:6.1f} {run.per_request_ms('server'):13.2f} "
            f"{run.per_request_ms('postgres'):17.2f} {run.per_request_ms('generator'):16.2f}"
        )
        if items:
            per_pull = items / max(run.requests, 1)
            line += (
                f"  {per_pull:.0f} a pull: server "
                f"{run.per_request_ms('server') / per_pull:.3f} ms, PostgreSQL "
                f"{run.per_request_ms('postgres') / per_pull:.3f} ms"
            )
        if run.errors or run.busy:
            line += f"  ({run.errors} errors, {run.busy} busy)"
        lines.append(line)
    return lines


def troubles(runs: list[Measured]) -> list[str]:
    """What went wrong outside the table: warm-up answers not had, clients that failed or did
    not finish, and the PostgreSQL connections opened within the window."""
    lines = []
    for run in runs:
        warm = run.summary.get("warm_up", {})
        failed = Counter(run.summary["clients_failed"])
        notes = [
            f"{run.cpu.get('postgres started', 0):.0f} PostgreSQL connections opened in the window"
        ]
        why: Counter[str] = Counter()
        for kind in run.summary["kinds"].values():
            why.update(kind.get("busy_why", {}))
        if why:
            notes.append("503 busy for " + ", ".join(f"{c}: {n}" for c, n in sorted(why.items())))
        if warm.get("busy") or warm.get("errors"):
            notes.append(f"warm-up: {warm['busy']} busy, errors {warm['errors']}")
        if failed:
            notes.append("clients failed: " + "; ".join(f"{n} x {e}" for e, n in failed.items()))
        if run.summary["clients_unfinished"]:
            notes.append(f"{run.summary['clients_unfinished']} clients unfinished")
        lines.append(f"{run.name}: " + "; ".join(notes))
    return lines


def goals(runs: list[Measured]) -> list[tuple[str, str, bool]]:
    """(name, value, met) of each goal of the deadline day."""
    found = []
    by_name = {run.name: run for run in runs}
    one, two = by_name.get("1 worker"), by_name.get("2 workers")
    if one and two:
        ratio = two.throughput / one.throughput
        caveat = " (1 worker stalled: not scaling)" if one.stalled else ""
        found.append(
            (
                "2 workers / 1 worker throughput",
                f"{ratio:.2f}x (goal >= 1.5){caveat}",
                ratio >= THROUGHPUT_GOAL,
            )
        )
    for run in runs:
        share = run.busy / max(run.requests, 1)
        found.append((f"{run.name}: 503 busy", f"{share:.2%} (goal <= 1%)", share <= BUSY_GOAL))
        found.append((f"{run.name}: errors", f"{run.errors} (goal 0)", run.errors == 0))
    return found


def ratio_bound(server: float, postgres: float, generator: float, cores: int) -> float:
    """The most that 2 workers can give over 1 on `cores` cores shared by the servers,
    PostgreSQL and the generator, from the CPU each spends per request: one worker runs on
    one core at most (1 / server requests a second), and all of them together on all the
    cores (cores / (server + postgres + generator))."""
    whole = cores / (server + postgres + generator)
    return min(2 / server, whole) / min(1 / server, whole)


def why(runs: list[Measured]) -> list[str]:
    """The arithmetic of the throughput's ceiling on this machine: with what others used in
    each window, and the ratio of 2 workers to 1 that the CPU per request allows at best."""
    lines = []
    for run in runs:
        ours = run.cpu["server"] + run.cpu["postgres"] + run.cpu["generator"]
        whole = ours / max(run.answered, 1)
        other = max(0.0, run.cpu["machine"] - ours) / run.seconds
        ceiling = (CORES - other) / whole if whole else math.inf
        server, postgres, generator = (
            run.cpu[g] / max(run.answered, 1) for g in ("server", "postgres", "generator")
        )
        bound = ratio_bound(server, postgres, generator, CORES)
        idle = CORES - run.cpu["machine"] / run.seconds
        if run.stalled:
            lines.append(
                f"{run.name}: the servers used {run.cpu['server'] / run.seconds:.2f} cores of "
                f"their {run.workers} workers while {idle:.2f} cores were idle: they waited "
                "(see 503 busy by cause below), they did not compute"
            )
        lines.append(
            f"{run.name}: {whole * 1000:.1f} ms of CPU per request (server + PostgreSQL + "
            f"generator); {CORES} cores less {other:.2f} used by others allow at most "
            f"{ceiling:.0f} req/s; measured {run.throughput:.1f} req/s; with nothing else on "
            f"the machine, 2 workers / 1 at most {bound:.2f}x"
        )
    return lines


def unreachable(configurations: list[Configuration]) -> list[str]:
    """What the configurations need and cannot reach: PostgreSQL, Redis."""
    needed = [(make_url(postgres_server() or POSTGRES_ADMIN), "PostgreSQL")]
    if any(c.redis for c in configurations):
        needed.append((make_url(REDIS), "Redis"))
    missing = []
    for url, name in needed:
        try:
            socket.create_connection((url.host or "127.0.0.1", url.port or 0), timeout=2).close()
        except OSError as error:
            missing.append(f"{name} on {url.host}:{url.port} ({error})")
    return missing


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60, help="the window of each run")
    parser.add_argument("--clients", type=int, default=100, help="concurrent clients")
    parser.add_argument("--agencies", type=int, default=25)
    parser.add_argument("--timeout", type=float, default=30, help="of one request, seconds")
    parser.add_argument(
        "--configurations",
        default=",".join(c.name for c in CONFIGURATIONS),
        help="which of them, comma-separated",
    )
    parser.add_argument(
        "--kind-seconds", type=float, default=15, help="each kind alone (0: not run)"
    )
    parser.add_argument("--kind-clients", type=int, default=10)
    parser.add_argument("--logs", type=Path, help="keep the servers' logs in this folder")
    args = parser.parse_args()
    chosen = [c for c in CONFIGURATIONS if c.name in args.configurations.split(",")]
    missing = unreachable(chosen)
    if missing:
        print("cannot run the deadline day: " + "; ".join(missing) + " not reachable")
        return 1
    kinds = kinds_of_clients(args.clients)
    with tempfile.TemporaryDirectory() as tmp, city(args.agencies, kinds, Path(tmp)) as built:
        runs = []
        for configuration in chosen:
            runs.append(
                run_configuration(configuration, built, args.seconds, args.timeout, Path(tmp))
            )
            print(f"{configuration.name}: {runs[-1].throughput:.1f} req/s", flush=True)
        alone = []
        if args.kind_seconds > 0:
            alone = run_kinds(built, args.kind_seconds, args.kind_clients, args.timeout, Path(tmp))
        writes = sum(
            run.summary["kinds"].get(PUT, {}).get("requests", 0)
            for run in runs + [m for _, _, m in alone]
        )
        grown = database_bytes(built.url) - built.built_bytes
        city_bytes = built.built_bytes - built.empty_bytes
        size = (
            f"database: {built.empty_bytes / 1e6:.1f} MB empty, {built.built_bytes / 1e6:.1f} MB "
            f"built ({city_bytes / args.agencies / 1e3:.0f} kB per agency), "
            f"{grown / 1e6:.1f} MB more after {writes} realisasi PUTs "
            f"({grown / max(writes, 1) / 1e3:.1f} kB each, with their audit events and history)"
        )
        if args.logs:
            args.logs.mkdir(parents=True, exist_ok=True)
            for log in Path(tmp).glob("*.log"):
                shutil.copy(log, args.logs / log.name)
    print(
        f"\nThe deadline day: {args.clients} clients, {args.seconds:.0f} s each, "
        f"{args.agencies} agencies on PostgreSQL, {CORES} cores, {time.strftime('%Y-%m-%d')}"
    )
    print(*table(runs), sep="\n")
    print("\nCPU in the window", *cpu_lines(runs + [m for _, _, m in alone]), sep="\n")
    if alone:
        print("\nEach kind alone, one worker", *kind_lines(alone), sep="\n")
    print("\nThroughput's ceiling", *why(runs), sep="\n")
    print(*troubles(runs), sep="\n")
    print(size)
    print()
    missed = []
    for name, value, met in goals(runs):
        print(f"{name:44} {value:24} {'met' if met else 'MISSED'}")
        if not met:
            missed.append(name)
    if missed:
        print("missed: " + "; ".join(missed))
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
