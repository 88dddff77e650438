"""The speed of the pages for people, against the 39-indicator achievements JSON page.

Run from the repository root: python bench/pages_bench.py [--databases sqlite,postgresql]

For each database (SQLite, a file in a temporary folder; PostgreSQL too when BENCH_DATABASE_URL
or TEST_DATABASE_URL names a server, on which a scratch database is created and dropped), one
server (uvicorn, one worker) serves the seeded agency as `city_bench.py` builds it (bench/
city.py at one agency: K001 with four quarters of values, with holes, and its targets, put in
through the API). A person signs in through `/masuk`, as in a browser. In one run, taken in
turn so that the machine's noise hits them alike, it times:

- the reference: `GET /api/v1/achievements?year=2025&agency=K001&limit=39` (JSON, a key);
- each page of `PAGES` (signed in, by its cookie), whose goal is a ratio to the reference.

It prints the median of each, each page's ratio with `met` or `MISSED`, and the first view of
each page (what it took before anything of the server was warm: its charts drawn, its
template compiled); the exit status is 1 if a goal is missed.
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import sys
import tempfile
import time
import uuid
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import httpx
from sqlmodel import Session

from app.core.db import make_engine
from app.core.migrations import upgrade
from app.models import Role
from app.services import audit, people
from bench.city import YEAR, agency_code, city_seed_dir
from bench.city_bench import (
    admin_key,
    analyze,
    finish,
    fresh_database,
    import_values,
    seed,
    server,
    set_targets,
    verdicts,
)

AGENCY = agency_code(1)
REFERENCE = ("/api/v1/achievements", {"year": YEAR, "agency": AGENCY, "limit": 39})
PASSWORD = "bench-sandi-123456"
PAGES_DATABASE = "iki_pages_bench"


@dataclass(frozen=True)
class PageGoal:
    """A page measured against the reference, and the most it may take (times the
    reference's median)."""

    name: str
    path: str
    params: dict[str, Any]
    limit: float


PAGES = [
    PageGoal("dashboard", "/dasbor", {"tahun": YEAR, "triwulan": 4, "agency": AGENCY}, 3.0),
    PageGoal("verification desk", f"/verifikasi/{YEAR}/4/BID_RPJS", {"agency": AGENCY}, 3.0),
]


def postgres_server() -> str | None:
    """The PostgreSQL server to measure on, if one is named."""
    return os.environ.get("BENCH_DATABASE_URL") or os.environ.get("TEST_DATABASE_URL")


def make_person(engine: Any) -> str:
    """A viewer (a Kepala Dinas), password already changed; their name."""
    name = f"bench-{uuid.uuid4().hex[:8]}"
    with Session(engine) as session:
        audit.act_as(session, "bench", "admin", None)
        person = people.create_person(session, name, Role.verifier, PASSWORD)  # reads both pages
        person.must_change_password = False
        session.add(person)
        session.commit()
    return name


def signed_in(base: str, name: str) -> httpx.Client:
    """A browser signed in as `name` (its cookies kept)."""
    browser = httpx.Client(base_url=base, timeout=300)
    form = browser.get("/masuk")
    form.raise_for_status()
    token = re.search(r'name="csrf_token" value="([^"]+)"', form.text)
    assert token is not None, "the sign-in page has no CSRF token"
    answer = browser.post(
        "/masuk", data={"name": name, "password": PASSWORD, "csrf_token": token.group(1)}
    )
    assert answer.status_code == 303 and answer.headers["location"] == "/", answer.text
    assert "iki_session" in browser.cookies, "not signed in"
    return browser


def once_ms(client: httpx.Client, path: str, params: dict[str, Any]) -> float:
    start = time.perf_counter()
    response = client.get(path, params=params)
    elapsed = (time.perf_counter() - start) * 1000
    response.raise_for_status()
    assert response.headers["content-type"].startswith(("text/html", "application/json"))
    return elapsed


def run(kind: str, rounds: int) -> dict[str, float]:
    """Measure on one database; each page's ratio to the reference."""
    with (
        tempfile.TemporaryDirectory() as tmp,
        fresh_database(kind, Path(tmp), postgres_server() or "", PAGES_DATABASE) as url,
    ):
        engine = make_engine(url)
        upgrade(engine)
        secret = admin_key(engine)
        folder = Path(tmp) / "seed"
        city_seed_dir(folder, 1)
        seed(engine, folder)
        name = make_person(engine)
        with (
            server(url) as base,
            httpx.Client(
                base_url=base, headers={"Authorization": f"Bearer {secret}"}, timeout=300
            ) as api,
        ):
            import_values(api, range(1, 2))
            set_targets(api, range(1, 2))
            analyze(engine)
            with closing(signed_in(base, name)) as browser:
                first = {page.name: once_ms(browser, page.path, page.params) for page in PAGES}
                once_ms(api, *REFERENCE)
                reference: list[float] = []
                samples: dict[str, list[float]] = {page.name: [] for page in PAGES}
                for _ in range(rounds):
                    reference.append(once_ms(api, *REFERENCE))
                    for page in PAGES:
                        samples[page.name].append(once_ms(browser, page.path, page.params))
        engine.dispose()
    floor = statistics.median(reference)
    print(f"{kind:10} 39-indicator achievements JSON page {floor:7.2f} ms (median of {rounds})")
    ratios = {}
    for page in PAGES:
        ms = statistics.median(samples[page.name])
        print(
            f"{kind:10} {page.name:34} {ms:7.2f} ms (median of {rounds}; first view "
            f"{first[page.name]:7.2f} ms)"
        )
        ratios[f"{page.name} / JSON page"] = ms / floor
    return ratios


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    default = "sqlite,postgresql" if postgres_server() else "sqlite"
    parser.add_argument("--databases", default=default)
    parser.add_argument("--rounds", type=int, default=50, help="requests of each, in turn")
    args = parser.parse_args()
    missed = []
    for kind in args.databases.split(","):
        if kind == "postgresql" and not postgres_server():
            parser.error("postgresql needs BENCH_DATABASE_URL or TEST_DATABASE_URL")
        ratios = run(kind, args.rounds)
        goals = {f"{page.name} / JSON page": page.limit for page in PAGES}
        missed += verdicts(kind, ratios, goals)
    return finish(missed)


if __name__ == "__main__":
    sys.exit(main())
