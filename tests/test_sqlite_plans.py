"""SQLite plans the joins of a pull alike with and without statistics (app/core/plans.py).

The database is the seeded city of one agency with a year of values and targets: after
`ANALYZE` its statistics say that `agency` and `decree` hold one row and that every
indicator, variable and unit has the same agency and decree, the statistics that made a pull
of 25 agencies seven times slower once the city had grown (bench/RESULTS.md).
"""

from __future__ import annotations

import datetime as dt
import os
import sqlite3
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, event
from sqlmodel import Session, select

from app.main import app
from app.models import Role, Variable
from app.services.keys import create_key

pytestmark = pytest.mark.skipif(
    os.environ.get("TEST_DATABASE_URL", "").startswith("postgresql"),
    reason="SQLite's planner (PostgreSQL keeps its statistics fresh and plans joins freely)",
)

API = "/api/v1"
YEAR = 2025
Statement = tuple[str, Any]


@pytest.fixture
def city(committed_engine: Engine) -> Iterator[tuple[TestClient, dict[str, str]]]:
    """A client on the seeded agency, with a year of values and targets, and an admin."""
    with Session(committed_engine) as session:
        _, secret = create_key(session, "admin-plans", Role.admin)
        codes = list(session.exec(select(Variable.code)))
        session.commit()
    admin = {"Authorization": f"Bearer {secret}"}
    with TestClient(app) as client:
        rows = [
            {"variable": code, "year": YEAR, "quarter": quarter, "value": 10 + n % 7 + quarter}
            for n, code in enumerate(codes)
            for quarter in (1, 2, 3, 4)
        ]
        answer = client.post(f"{API}/data-values/import", headers=admin, json={"rows": rows})
        assert answer.status_code == 200, answer.text
        indicators = client.get(
            f"{API}/indicators", headers=admin, params={"year": YEAR, "limit": 1000}
        ).json()["items"]
        targets = [{"indicator_id": i["id"], "annual": 40 + i["id"] % 50} for i in indicators]
        answer = client.put(f"{API}/targets/{YEAR}", headers=admin, json=targets)
        assert answer.status_code == 200, answer.text
        yield client, admin


def pull(client: TestClient, headers: dict[str, str], **params: Any) -> dict[str, Any]:
    params = {"year": YEAR, "quarter": 4, "limit": 1000, **params}
    answer = client.get(f"{API}/achievements", headers=headers, params=params)
    assert answer.status_code == 200, answer.text
    assert answer.json()["items"]
    return dict(answer.json())


def joins_of_pulls(engine: Engine, client: TestClient, admin: dict[str, str]) -> list[Statement]:
    """The joins that pulls run: the whole year, one agency's page, a pull from a cursor and
    one of the changes since a time, each after a change (captured as the service runs them,
    with their parameters)."""
    cursor = pull(client, admin)["cursor"]
    since = dt.datetime.now(dt.UTC).isoformat()
    indicator = pull(client, admin, limit=1)["items"][0]
    path = f"{API}/indicators/{indicator['indicator']['id']}/realizations/{YEAR}/1"
    changed = {"values": {code: 3 for code in indicator["values"]}}
    assert client.put(path, headers=admin, json=changed).status_code == 200
    seen: list[Statement] = []

    def capture(_conn: Any, _cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        seen.append((statement, parameters))

    event.listen(engine, "before_cursor_execute", capture)
    try:
        pull(client, admin)
        pull(client, admin, agency="DINSOSP3A", quarter=2)
        pull(client, admin, cursor=cursor)
        pull(client, admin, updated_since=since)
    finally:
        event.remove(engine, "before_cursor_execute", capture)
    joins = [(s, p) for s, p in seen if s.lstrip().startswith("SELECT") and " JOIN " in s]
    assert len(joins) >= 10, seen
    return joins


def plans(database: str, statements: list[Statement]) -> list[list[str]]:
    """The plan of each statement on a connection opened now: it loads the statistics there
    are now (a connection keeps what it loaded until the schema changes)."""
    connection = sqlite3.connect(database)
    try:
        return [
            reads(connection.execute(f"EXPLAIN QUERY PLAN {sql}", parameters).fetchall())
            for sql, parameters in statements
        ]
    finally:
        connection.close()


def reads(plan: list[tuple[int, int, int, str]]) -> list[str]:
    """How a plan reads its tables, in order. The first table of each query is named only:
    SQLite may read it through an index or scan it whole, as its statistics suggest, which is
    one pass over one table; what must not change is the order and how every table after the
    first is read, once per row before it. (A temporary sort follows from the first read.)"""
    lines, firsts = [], set()
    for _, parent, _, detail in plan:
        if detail.startswith(("SCAN ", "SEARCH ")) and parent not in firsts:
            firsts.add(parent)
            lines.append(f"READ {detail.split()[1]}")
        elif not detail.startswith("USE TEMP B-TREE"):
            lines.append(detail)
    return lines


def describe(found: list[tuple[Any, ...]]) -> str:
    return "\n\n".join("\n".join(map(str, item)) for item in found)


def test_the_joins_of_a_pull_are_planned_alike_with_and_without_statistics(committed_engine, city):
    client, admin = city
    database = committed_engine.url.database
    assert database
    joins = joins_of_pulls(committed_engine, client, admin)

    without = plans(database, joins)
    connection = sqlite3.connect(database)
    connection.execute("ANALYZE")
    connection.commit()
    (agencies,) = connection.execute(
        "SELECT stat FROM sqlite_stat1 WHERE idx = 'ix_agency_code'"
    ).fetchone()
    connection.close()
    assert agencies == "1 1"  # one agency: what made the grown city's pulls slow
    analysed = plans(database, joins)

    # Every table after the first is looked up, by its key or the index named for it, and
    # alike after ANALYZE.
    scanned = [
        (sql, before)
        for (sql, _), before in zip(joins, without, strict=True)
        if any(line.startswith("SCAN") for line in before)
    ]
    changed = [
        (sql, before, after)
        for (sql, _), before, after in zip(joins, without, analysed, strict=True)
        if before != after
    ]
    assert not scanned, describe(scanned)
    assert not changed, describe(changed)
