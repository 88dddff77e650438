"""Concurrent writers on a real database (committed transactions, several threads)."""

import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, select

from app.main import app
from app.models import Indicator, Role
from app.services.keys import create_key

WRITERS = 4
INCREMENTS = 5
# A write refused with 412 means another writer's write got in first, so a writer can lose at
# most (WRITERS - 1) * INCREMENTS times in a row; the rest is margin for 409s (lock waits).
MAX_ATTEMPTS = 4 * WRITERS * INCREMENTS
DEADLINE_SECONDS = 120.0  # for all the writers of a test; they take a few seconds


def write_until_accepted(
    read_and_write: Callable[[], httpx.Response], what: str, deadline: float
) -> None:
    """Read the current values and write them back changed, again while another writer got in
    between (409 or 412) or held the lock too long (503); fail, rather than hang, when the
    writes are never accepted."""
    refused: list[int] = []
    for attempt in range(1, MAX_ATTEMPTS + 1):
        written = read_and_write()
        if written.status_code == 200:
            return
        assert written.status_code in (409, 412, 503), written.text
        refused.append(written.status_code)
        if time.monotonic() > deadline:
            pytest.fail(
                f"{what}: still refused after {DEADLINE_SECONDS:.0f}s "
                f"({attempt} attempts, statuses {sorted(set(refused))}): {written.text}"
            )
    pytest.fail(
        f"{what}: refused {MAX_ATTEMPTS} times in a row (statuses {sorted(set(refused))}); "
        f"last answer: {written.text}"
    )


def test_read_modify_write_with_if_match_loses_no_update(committed_engine):
    with Session(committed_engine) as session:
        _, secret = create_key(session, "counter", Role.admin)
        indicator_id = session.exec(select(Indicator.id).where(Indicator.code == "KADIS.1.1")).one()
        session.commit()
    headers = {"Authorization": f"Bearer {secret}"}
    url = f"/api/v1/indicators/{indicator_id}/realizations/2025/1"

    deadline = time.monotonic() + DEADLINE_SECONDS

    def writer(number: int) -> None:
        with TestClient(app) as client:

            def increment() -> httpx.Response:
                current = client.get(url, headers=headers)
                assert current.status_code == 200, current.text
                values = current.json()["quarter_values"]
                return client.put(
                    url,
                    headers={**headers, "If-Match": current.headers["etag"]},
                    json={"values": {code: (v or 0) + 1 for code, v in values.items()}},
                )

            for _ in range(INCREMENTS):
                write_until_accepted(increment, f"writer {number}", deadline)

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
        _, secret = create_key(session, "sheet", Role.admin)
        session.commit()
    headers = {"Authorization": f"Bearer {secret}"}
    sheet = {"year": 2025, "quarter": 2}
    codes = ("psks_terdata", "ppks_terdata")  # owned by two different units

    deadline = time.monotonic() + DEADLINE_SECONDS

    def writer(number: int) -> None:
        with TestClient(app) as client:

            def increment() -> httpx.Response:
                current = client.get("/api/v1/data-values", headers=headers, params=sheet)
                assert current.status_code == 200, current.text
                stored = {i["variable"]: i["value"] for i in current.json()["items"]}
                return client.put(
                    "/api/v1/data-values/2025/2",
                    headers={**headers, "If-Match": current.headers["etag"]},
                    json={"values": {c: stored.get(c, 0) + 1 for c in codes}},
                )

            for _ in range(INCREMENTS):
                write_until_accepted(increment, f"sheet writer {number}", deadline)

    with ThreadPoolExecutor(WRITERS) as pool:
        list(pool.map(writer, range(WRITERS)))

    with TestClient(app) as client:
        items = client.get("/api/v1/data-values", headers=headers, params=sheet).json()["items"]
    assert {i["variable"]: i["value"] for i in items} == dict.fromkeys(codes, WRITERS * INCREMENTS)
