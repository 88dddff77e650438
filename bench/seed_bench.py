"""Time loading a city's seed (100 agencies by default) into a fresh, migrated database.

Run from the repository root:
    python bench/seed_bench.py [--agencies 100] [--database-url URL] [--profile]

SQLite (a file in a temporary folder) by default. With a PostgreSQL URL, a scratch database
is created on that server for the run and dropped after it.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import create_engine, func, select, text
from sqlalchemy.engine import make_url
from sqlmodel import Session

from app.core.db import make_engine
from app.core.migrations import upgrade
from app.models import AuditEvent
from app.services import audit
from app.services.seed import SeedReport, load_seed
from bench.city import city_seed_dir


@contextmanager
def scratch_database(url: str | None, folder: Path) -> Iterator[str]:
    """The URL of an empty database: a SQLite file in `folder`, or one created for the run
    on the PostgreSQL server of `url` and dropped after it."""
    if url is None:
        yield f"sqlite:///{folder / 'city.db'}"
        return
    server = make_url(url)
    if server.get_backend_name() != "postgresql":
        raise SystemExit("--database-url must name a PostgreSQL server")
    name = f"seed_bench_{uuid.uuid4().hex[:8]}"
    admin = create_engine(server, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
        try:
            yield server.set(database=name).render_as_string(hide_password=False)
        finally:
            with admin.connect() as connection:
                connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        admin.dispose()


def load(url: str, seed_dir: Path, profile: bool) -> tuple[float, float, SeedReport, int]:
    """Seconds (wall and this process's CPU) to load and commit the seed as `iki seed` does,
    its report and the audit events it wrote."""
    engine = make_engine(url)
    try:
        upgrade(engine)
        with Session(engine) as session:
            audit.act_as(session, "seed", "admin", "bench")
            profiler = None
            if profile:
                from pyinstrument import Profiler

                profiler = Profiler()
                profiler.start()
            start, cpu_start = time.perf_counter(), time.process_time()
            report = load_seed(session, seed_dir)
            session.commit()
            seconds, cpu = time.perf_counter() - start, time.process_time() - cpu_start
            if profiler is not None:
                profiler.stop()
                print(profiler.output_text(unicode=True, color=False, show_all=False))
            events = session.execute(select(func.count()).select_from(AuditEvent)).scalar_one()
    finally:
        engine.dispose()
    return seconds, cpu, report, events


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--agencies", type=int, default=100, help="agencies in the city")
    parser.add_argument(
        "--database-url", help="a PostgreSQL server to create a scratch database on"
    )
    parser.add_argument("--profile", action="store_true", help="print a pyinstrument profile")
    parser.add_argument(
        "--max-seconds", type=float, help="exit with status 1 when the load takes longer"
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="iki-city-") as tmp:
        folder = Path(tmp)
        codes = city_seed_dir(folder / "seed", args.agencies)
        with scratch_database(args.database_url, folder) as url:
            seconds, cpu, report, events = load(url, folder / "seed", args.profile)
    rows = sum(report.created.values())
    backend = make_url(url).get_backend_name()
    print(
        f"{backend}: {len(codes)} agencies, {rows} rows and {events} audit events "
        f"in {seconds:.2f} s ({rows / seconds:,.0f} rows/s; {cpu:.2f} s of CPU in this process)"
    )
    if args.max_seconds is not None and seconds > args.max_seconds:
        print(f"slower than {args.max_seconds:g} s", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
