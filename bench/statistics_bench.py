"""SQLite's statistics and the server's reads: a pull and a page after ANALYZE.

Run from the repository root: python bench/statistics_bench.py [--agencies 25] [--baseline REV]

One SQLite database, one uvicorn server (one worker) that stays up, as in the city bench run
that found a pull seven times slower: a city of one agency is loaded and analysed, then grows
to `--agencies` agencies and is analysed again. It times the full pull (every achievement of
the year at quarter 4, pages of 1000) and the 39-indicator page (`GET
/achievements?agency=K001`), medians of the repeats, in three states of the same database:

- `no statistics`: `sqlite_stat1` dropped;
- `statistics of 1 agency, held`: after both ANALYZEs, on the server that was up between them
  (its connections keep the statistics they loaded after the first one);
- `statistics of N agencies`: the statistics dropped, then taken again (dropping and creating
  `sqlite_stat1` change the schema: every connection reloads it, and the statistics).

All three on the same servers, measured in turn.

With `--baseline REV` a second server runs the service as it was at that revision (extracted
with `git archive`) beside this one, on the same database, measured in turn with it.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from functools import partial
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import httpx
from sqlalchemy import Engine

from app.core.db import make_engine
from app.core.migrations import upgrade
from bench.city import YEAR, agency_code, city_seed_dir
from bench.city_bench import (
    admin_key,
    full_pull,
    import_values,
    median,
    request_ms,
    seed,
    server,
    set_targets,
    timed,
)

ROOT = Path(__file__).resolve().parents[1]
STATES = ("no statistics", "statistics of 1 agency, held", "statistics of N agencies")


@contextmanager
def clients(url: str, secret: str, sources: dict[str, Path | None]) -> Iterator[dict]:
    """A client of a server of each source, started now."""
    with ExitStack() as stack:
        yield {
            name: stack.enter_context(
                httpx.Client(
                    base_url=stack.enter_context(server(url, source)),
                    headers={"Authorization": f"Bearer {secret}"},
                    timeout=600,
                )
            )
            for name, source in sources.items()
        }


def grow(engine: Engine, client: httpx.Client, folder: Path, done: int, size: int) -> None:
    """Add agencies `done`+1 .. `size`, their values and targets, as the city bench does."""
    city_seed_dir(folder, size)
    seed(engine, folder)
    import_values(client, range(done + 1, size + 1))
    set_targets(client, range(done + 1, size + 1))


def analyze(engine: Engine) -> None:
    with engine.begin() as connection:
        connection.exec_driver_sql("ANALYZE")


def measure(servers: dict[str, httpx.Client], repeats: int) -> dict[str, tuple[float, float]]:
    """Each server's median full pull (s) and page (ms), taken in turn. Medians: a server's
    connections may hold different statistics (one opened later loads those of then), and
    the best of the pulls would be that of the luckiest connection."""
    for client in servers.values():
        full_pull(client)  # warms it up, and has its connections load the statistics
    pulls: dict[str, list[float]] = {name: [] for name in servers}
    pages: dict[str, list[float]] = {name: [] for name in servers}
    for _ in range(repeats):
        for name, client in servers.items():
            pulls[name] += timed(partial(full_pull, client), 1)
            pages[name].append(
                request_ms(client, "/api/v1/achievements", 10, year=YEAR, agency=agency_code(1))
            )
    return {name: (median(pulls[name]), median(pages[name])) for name in servers}


def extract(revision: str, target: Path) -> Path:
    """The service's files at `revision`, in `target`."""
    target.mkdir()
    archive = subprocess.run(
        ["git", "archive", revision, "app"], cwd=ROOT, check=True, capture_output=True
    ).stdout
    subprocess.run(["tar", "-x", "-C", str(target)], input=archive, check=True)
    return target


def report(results: dict[str, dict[str, tuple[float, float]]], agencies: int) -> None:
    names = list(next(iter(results.values())))
    print(f"{agencies} agencies, one SQLite database; medians of the pull and the page")
    print(f"{'state':34}" + "".join(f"| {name:>28} " for name in names))
    floor = results[STATES[0]]
    for state, figures in results.items():
        cells = []
        for name in names:
            pull, page = figures[name]
            ratio = f"{pull / floor[name][0]:.1f}x/{page / floor[name][1]:.1f}x"
            cells.append(f"| {pull:6.3f} s {page:6.1f} ms {ratio:>9} ")
        print(f"{state.replace('N', str(agencies)):34}" + "".join(cells))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--agencies", type=int, default=25)
    parser.add_argument("--baseline", help="a revision to serve beside this tree")
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    results: dict[str, dict[str, tuple[float, float]]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{Path(tmp) / 'bench.db'}"
        sources: dict[str, Path | None] = {"this tree": None}
        if args.baseline:
            sources = {args.baseline: extract(args.baseline, Path(tmp) / "baseline"), **sources}
        engine = make_engine(url)
        upgrade(engine)
        secret = admin_key(engine)
        folder = Path(tmp) / "seed"
        # The city is written through a server of its own, so that the servers measured
        # differ only by their code.
        with (
            clients(url, secret, {"writer": None}) as writer,
            clients(url, secret, sources) as servers,
        ):
            grow(engine, writer["writer"], folder, 0, 1)
            analyze(engine)  # creates sqlite_stat1, a schema change: connections reload
            measure(servers, 1)  # the servers' connections load the statistics of 1 agency
            grow(engine, writer["writer"], folder, 1, args.agencies)
            analyze(engine)  # rewrites sqlite_stat1, no schema change: they keep theirs
            with engine.begin() as connection:  # as the other states will find the file
                connection.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
            results[STATES[1]] = measure(servers, args.repeats)
            with engine.begin() as connection:  # a schema change: they reload, without
                connection.exec_driver_sql("DROP TABLE sqlite_stat1")
            results[STATES[0]] = measure(servers, args.repeats)
            analyze(engine)  # creates it again: they reload, with the statistics of now
            results[STATES[2]] = measure(servers, args.repeats)
        engine.dispose()
    report({state: results[state] for state in STATES}, args.agencies)
    return 0


if __name__ == "__main__":
    sys.exit(main())
