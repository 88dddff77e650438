"""Concurrent writers on a real database (committed transactions, several threads)."""

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlmodel import Session, select

from app.core.db import for_writes, get_session, get_write_session, make_engine
from app.core.migrations import upgrade
from app.main import app
from app.models import Indicator, Role
from app.services.keys import create_key
from app.services.seed import load_seed
from tests.conftest import SEED_DIR

WRITERS = 4
INCREMENTS = 5


@pytest.fixture
def committed_engine(databases) -> Iterator[Engine]:
    """A database of its own, since this test commits for real."""
    engine = make_engine(databases.new_url("concurrency"))
    upgrade(engine)
    with Session(engine) as session:
        load_seed(session, SEED_DIR)
        session.commit()
    writes = for_writes(engine)

    def session_for(bind: Engine) -> Iterator[Session]:
        with Session(bind, expire_on_commit=False) as session:
            yield session

    app.dependency_overrides[get_session] = lambda: (yield from session_for(engine))
    app.dependency_overrides[get_write_session] = lambda: (yield from session_for(writes))
    yield engine
    app.dependency_overrides.clear()
    engine.dispose()


def test_read_modify_write_with_if_match_loses_no_update(committed_engine):
    with Session(committed_engine) as session:
        _, secret = create_key(session, "counter", Role.verifier)
        indicator_id = session.exec(select(Indicator.id).where(Indicator.code == "KADIS.1.1")).one()
        session.commit()
    headers = {"Authorization": f"Bearer {secret}"}
    url = f"/api/v1/indicators/{indicator_id}/realizations/2025/1"

    def writer(_: int) -> None:
        with TestClient(app) as client:
            for _ in range(INCREMENTS):
                while True:
                    current = client.get(url, headers=headers)
                    assert current.status_code == 200, current.text
                    values = current.json()["quarter_values"]
                    written = client.put(
                        url,
                        headers={**headers, "If-Match": current.headers["etag"]},
                        json={"values": {code: (v or 0) + 1 for code, v in values.items()}},
                    )
                    if written.status_code == 200:
                        break
                    # Another writer got in between: read again and retry.
                    assert written.status_code in (409, 412), written.text

    # One of the indicator's two variables exists before the race and the other does not:
    # a writer must not slip a new value in between another's If-Match check and write.
    with TestClient(app) as client:
        seeded = client.put(url, headers=headers, json={"values": {"psks_diberdayakan": 0}})
        assert seeded.status_code == 200, seeded.text

    with ThreadPoolExecutor(WRITERS) as pool:
        list(pool.map(writer, range(WRITERS)))

    with TestClient(app) as client:
        final = client.get(url, headers=headers).json()
    assert final["quarter_values"] == {
        "psks_diberdayakan": WRITERS * INCREMENTS,
        "psks_terdata": WRITERS * INCREMENTS,
    }


def test_data_sheet_writers_with_if_match_lose_no_update(committed_engine):
    with Session(committed_engine) as session:
        _, secret = create_key(session, "sheet", Role.verifier)
        session.commit()
    headers = {"Authorization": f"Bearer {secret}"}
    sheet = {"year": 2025, "quarter": 2}
    codes = ("psks_terdata", "ppks_terdata")  # owned by two different units

    def writer(_: int) -> None:
        with TestClient(app) as client:
            for _ in range(INCREMENTS):
                while True:
                    current = client.get("/api/v1/data-values", headers=headers, params=sheet)
                    assert current.status_code == 200, current.text
                    stored = {i["variable"]: i["value"] for i in current.json()["items"]}
                    written = client.put(
                        "/api/v1/data-values/2025/2",
                        headers={**headers, "If-Match": current.headers["etag"]},
                        json={"values": {c: stored.get(c, 0) + 1 for c in codes}},
                    )
                    if written.status_code == 200:
                        break
                    assert written.status_code in (409, 412), written.text

    with ThreadPoolExecutor(WRITERS) as pool:
        list(pool.map(writer, range(WRITERS)))

    with TestClient(app) as client:
        items = client.get("/api/v1/data-values", headers=headers, params=sheet).json()["items"]
    assert {i["variable"]: i["value"] for i in items} == dict.fromkeys(codes, WRITERS * INCREMENTS)
