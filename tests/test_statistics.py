"""After a bulk load the planner has statistics: `iki seed` and large imports run ANALYZE on
the tables they filled (PostgreSQL; SQLite keeps none unless asked)."""

from __future__ import annotations

import os

import pytest
from sqlalchemy import text
from sqlmodel import Session, select

from app.models import Unit, Variable
from app.services import common
from tests.test_cli import iki  # noqa: F401  (the fixture running the CLI)

pytestmark = pytest.mark.skipif(
    not os.environ.get("TEST_DATABASE_URL", "").startswith("postgresql"),
    reason="ANALYZE is run on PostgreSQL only",
)

ESTIMATE = text("SELECT reltuples FROM pg_class WHERE relname = :table")


@pytest.fixture
def database_url(databases) -> str:
    return databases.new_url("statistics")


def test_the_seed_leaves_statistics_of_what_it_filled(iki, database_url):  # noqa: F811
    from app.core.db import make_engine

    iki("migrate")
    engine = make_engine(database_url)
    try:
        with engine.connect() as connection:  # never analysed: -1 (PostgreSQL 14 and later)
            assert connection.execute(ESTIMATE, {"table": "indicator"}).scalar_one() < 0
        iki("seed")
        with engine.connect() as connection:
            indicators = connection.execute(text("SELECT count(*) FROM indicator")).scalar_one()
            estimate = connection.execute(ESTIMATE, {"table": "indicator"}).scalar_one()
        assert indicators > 0 and estimate == indicators
    finally:
        engine.dispose()


def test_a_large_import_analyses_the_values(client, session: Session, psm, monkeypatch):
    codes = list(
        session.exec(
            select(Variable.code)
            .join(Unit, Unit.id == Variable.owner_unit_id)  # type: ignore[arg-type]
            .where(Unit.code == "BID_PSM")
        )
    )

    def rows_of(value: int) -> list[dict]:
        return [
            {"variable": code, "year": 2025, "quarter": quarter, "value": value}
            for code in codes
            for quarter in (1, 2, 3, 4)
        ]

    rows = rows_of(1)
    assert len(rows) >= 20
    before = session.exec(ESTIMATE, params={"table": "data_value"}).scalar_one()  # type: ignore[call-overload]
    monkeypatch.setattr(common, "BULK_ROWS", len(rows) + 1)  # one row short: no ANALYZE
    small = client.post("/api/v1/data-values/import", headers=psm, json={"rows": rows[:-1]})
    assert small.status_code == 200, small.text
    assert session.exec(ESTIMATE, params={"table": "data_value"}).scalar_one() == before  # type: ignore[call-overload]

    monkeypatch.setattr(common, "BULK_ROWS", len(rows) - 1)
    large = client.post("/api/v1/data-values/import", headers=psm, json={"rows": rows_of(2)})
    assert large.status_code == 200, large.text
    assert session.exec(ESTIMATE, params={"table": "data_value"}).scalar_one() >= len(rows)  # type: ignore[call-overload]
