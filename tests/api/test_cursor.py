"""Incremental pulls with a cursor, on a database that commits for real."""

from __future__ import annotations

import os

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, text
from sqlmodel import Session, select

from app.core.db import utcnow
from app.main import app
from app.models import Agency, DataValue, Indicator, Role, Unit, Variable
from app.services.keys import create_key
from tests.api.helpers import assert_problem

API = "/api/v1"
ON_POSTGRES = os.environ.get("TEST_DATABASE_URL", "").startswith("postgresql")


@pytest.fixture
def world(committed_engine):
    """A client on the committed database, an admin and an operator of BID_PSM."""
    with Session(committed_engine) as session:
        _, admin = create_key(session, "admin-cursor", Role.admin)
        _, operator = create_key(session, "op-cursor", Role.operator, ["BID_PSM"])
        session.commit()
    with TestClient(app) as client:
        yield (
            client,
            {"Authorization": f"Bearer {admin}"},
            {"Authorization": f"Bearer {operator}"},
        )


def pull(client, headers, cursor=None, **params):
    params = {"year": 2025, "quarter": 1, "limit": 1000, **params}
    if cursor:
        params["cursor"] = cursor
    answer = client.get(f"{API}/achievements", headers=headers, params=params)
    assert answer.status_code == 200, answer.text
    body = answer.json()
    return {item["indicator"]["code"] for item in body["items"]}, body["cursor"]


def quiet(engine: Engine) -> bool:
    """Whether a pull made now answers exactly the changes since its cursor. On PostgreSQL a
    cursor is the server's transaction horizon, which a transaction open anywhere on the
    server (a test of another database beside this one) holds back: a pull then answers
    earlier changes again, as documented (a change may come twice, none is missed). The
    horizon only moves forward, so once it is past every change of this database, pulls made
    after are exact."""
    if not ON_POSTGRES:
        return True
    passed = text(
        "SELECT coalesce(max(txid), 0) < pg_snapshot_xmin(pg_current_snapshot())::text::bigint "
        "FROM audit_event"
    )
    with engine.connect() as connection:
        return bool(connection.execute(passed).scalar_one())


def assert_pulled(answered: set[str] | list[str], changed: set[str], exact: bool) -> None:
    """What a pull answered holds every change since its cursor (none is missed); exactly
    those when nothing held the horizon back, else a superset, as the design allows."""
    missed = changed - set(answered)
    assert not missed, f"the pull missed {sorted(missed)}"
    if exact:
        assert set(answered) == changed


def over(client, headers, variable=None, unit=None):
    """Codes of the indicators whose formula uses the variable, or a variable of the unit."""
    items = client.get(f"{API}/indicators", headers=headers, params={"limit": 1000}).json()
    return {
        i["code"]
        for i in items["items"]
        if any(v["code"] == variable or v["owner_unit"]["code"] == unit for v in i["variables"])
    }


def test_a_pull_resumes_from_its_cursor(world, committed_engine):
    client, admin, operator = world
    # Whether each cursor is exact is known just before the pull that gives it.
    exact = quiet(committed_engine)
    everything, cursor = pull(client, admin)
    assert len(everything) == 39
    assert_pulled(pull(client, admin, cursor)[0], set(), exact)  # nothing changed since

    put = client.put(
        f"{API}/data-values/2025/1", headers=operator, json={"values": {"psks_terdata": 200}}
    )
    assert put.status_code == 200, put.text
    over_psks = over(client, admin, variable="psks_terdata")
    assert over_psks == {"KADIS.1.1", "KADIS.2.1"}
    exact_after_write = quiet(committed_engine)
    changed, after_write = pull(client, admin, cursor)
    assert_pulled(changed, over_psks, exact)
    assert_pulled(pull(client, admin, after_write)[0], set(), exact_after_write)

    exact_values = quiet(committed_engine)
    values = client.get(
        f"{API}/data-values", headers=admin, params={"cursor": cursor, "year": 2025}
    ).json()
    assert_pulled([v["variable"] for v in values["items"]], {"psks_terdata"}, exact)
    again = client.get(f"{API}/data-values", headers=admin, params={"cursor": values["cursor"]})
    assert_pulled([v["variable"] for v in again.json()["items"]], set(), exact_values)

    # A workflow step changes the verification of every indicator over the unit's data.
    step = client.post(f"{API}/periods/2025/1/units/BID_PSM/submit", headers=operator)
    assert step.status_code == 200, step.text
    over_unit = over(client, admin, unit="BID_PSM")
    assert 2 < len(over_unit) < 39
    exact_after_step = quiet(committed_engine)
    changed, after_step = pull(client, admin, after_write)
    assert_pulled(changed, over_unit, exact_after_write)

    # A target changes one indicator; a rating scale may rate them all.
    with Session(committed_engine) as session:
        kadis = session.exec(select(Indicator).where(Indicator.code == "KADIS.1.3")).one()
    target = client.put(
        f"{API}/indicators/{kadis.id}/targets/2025", headers=admin, json={"annual": 10}
    )
    assert target.status_code == 200
    changed, after_target = pull(client, admin, after_step)
    assert_pulled(changed, {"KADIS.1.3"}, exact_after_step)
    scale = {"name": "Satu", "bands": [{"min": None, "code": "semua", "label": "Semua"}]}
    assert client.put(f"{API}/rating-scales/SATU", headers=admin, json=scale).status_code == 200
    assert len(pull(client, admin, after_target)[0]) == 39

    csv = client.get(f"{API}/achievements", headers=admin, params={"year": 2025, "format": "csv"})
    assert csv.headers["X-Cursor"].startswith("c1-")
    for bad in ("c2-1", "c1-", "1", "c1-9999999999999999999", " c1-1", "c1-1\n"):
        body = assert_problem(
            client.get(f"{API}/achievements", headers=admin, params={"year": 2025, "cursor": bad}),
            422,
            "validation_error",
        )
        assert body["errors"][0]["field"] == "query.cursor"


@pytest.mark.skipif(not ON_POSTGRES, reason="SQLite serialises writers: no commit out of order")
def test_changes_committed_out_of_order_are_not_missed(world, committed_engine):
    """Two writers of two agencies (the writers of one agency follow one another: each
    holds the agency's row from its first write to its commit)."""
    client, admin, _ = world
    with Session(committed_engine) as session:
        seeded = session.exec(select(Variable).where(Variable.code == "psks_terdata")).one()
        other = Agency(code="DINAS_LAIN", name="Dinas Lain")
        session.add(other)
        session.flush()
        unit = Unit(agency_id=other.id, code="BID_LAIN", name="Bidang Lain")
        session.add(unit)
        session.flush()
        elsewhere = Variable(
            agency_id=other.id,
            owner_unit_id=unit.id,
            code="warga_terdata",
            label="Jumlah warga yang terdata",
            unit_of_measure="orang",
            aggregation="last",
        )
        session.add(elsewhere)
        session.commit()
        variables = {"psks_terdata": seeded.id, "warga_terdata": elsewhere.id}
    first = client.get(f"{API}/data-values", headers=admin, params={"year": 2025}).json()
    assert first["items"] == []

    def value(code: str) -> DataValue:
        now = utcnow()
        return DataValue(
            variable_id=variables[code],
            year=2025,
            quarter=1,
            value=1,
            created_at=now,
            updated_at=now,
            updated_by="writer",
        )

    # T1 starts and writes first; T2 starts after it, writes and commits first.
    with Session(committed_engine) as t1, Session(committed_engine) as t2:
        t1.add(value("psks_terdata"))
        t1.flush()
        t2.add(value("warga_terdata"))
        t2.commit()

        between = client.get(
            f"{API}/data-values", headers=admin, params={"cursor": first["cursor"]}
        ).json()
        assert [v["variable"] for v in between["items"]] == ["warga_terdata"]
        newest_seen = max(v["updated_at"] for v in between["items"])
        _, achievements_cursor = pull(client, admin)
        t1.commit()

    # Resuming from the newest time seen misses T1, which committed last with an older time.
    naive = client.get(
        f"{API}/data-values", headers=admin, params={"updated_since": newest_seen}
    ).json()
    assert [v["variable"] for v in naive["items"]] == []
    # Resuming from the cursor does not.
    resumed = client.get(
        f"{API}/data-values", headers=admin, params={"cursor": between["cursor"]}
    ).json()
    assert "psks_terdata" in [v["variable"] for v in resumed["items"]]
    changed, _ = pull(client, admin, achievements_cursor)
    assert over(client, admin, variable="psks_terdata") <= changed
