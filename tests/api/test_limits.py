"""Throttled authentication failures, busy databases answered 503, and logs without secrets."""

from __future__ import annotations

import io
import logging
import logging.config

import psycopg
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine
from sqlalchemy.exc import OperationalError
from sqlmodel import Session, select

from app.core.config import get_settings
from app.core.db import get_session
from app.core.errors import database_busy
from app.core.logging import logging_config
from app.main import app
from app.models import Decree
from tests.api.helpers import assert_problem

API = "/api/v1"


@pytest.fixture
def throttled(monkeypatch):
    monkeypatch.setattr(get_settings(), "auth_failure_limit", "5/minute")
    from app.core import security

    security.failures.reset()
    yield
    security.failures.reset()


def test_failed_authentications_are_throttled_per_address(client, reader, throttled):
    for attempt in range(5):
        wrong = {"Authorization": f"Bearer iki_wrong{attempt}"}  # a new prefix each time
        assert_problem(client.get(f"{API}/agencies", headers=wrong), 401, "unauthenticated")
    refused = client.get(f"{API}/agencies", headers={"Authorization": "Bearer iki_wrong9"})
    body = assert_problem(refused, 429, "too_many_requests")
    assert int(refused.headers["Retry-After"]) >= 1 and "retry" in body["detail"]
    # A valid key from the same address is never refused: only failures are held off.
    assert client.get(f"{API}/agencies", headers=reader).status_code == 200


def test_successful_authentications_are_not_counted(client, reader, throttled):
    for _ in range(10):
        assert client.get(f"{API}/agencies", headers=reader).status_code == 200


def test_a_lock_timeout_is_503_with_retry_after(client, session, psm, monkeypatch):
    from app.services import data_values

    def locked(*args, **kwargs):
        raise OperationalError("BEGIN IMMEDIATE", {}, Exception("database is locked"))

    monkeypatch.setattr(data_values, "lock_agency_data", locked)
    monkeypatch.setattr("app.services.common.lock_agency_data", locked)
    answer = client.put(
        f"{API}/data-values/2025/1", headers=psm, json={"values": {"psks_terdata": 1}}
    )
    assert_problem(answer, 503, "busy")
    assert answer.headers["Retry-After"] == "2"


# What psycopg raises when PostgreSQL refuses to open a connection: a message, no SQLSTATE.
TOO_MANY_CLIENTS = (
    'connection failed: connection to server at "127.0.0.1", port 5432 failed: '
    "FATAL:  sorry, too many clients already"
)


def _refused(error: Exception) -> OperationalError:
    return OperationalError("connect", {}, error)


@pytest.mark.parametrize(
    "error",
    [
        psycopg.OperationalError(TOO_MANY_CLIENTS),
        psycopg.OperationalError('FATAL:  too many connections for role "iki"'),
        psycopg.OperationalError("FATAL:  the database system is starting up"),
        psycopg.errors.TooManyConnections("53300 whatever the server's language"),
        psycopg.errors.CannotConnectNow("57P03 whatever the server's language"),
    ],
)
def test_a_server_refusing_connections_is_busy(error):
    busy = database_busy(_refused(error))
    assert busy is not None and busy.status_code == 503 and busy.code == "busy"
    assert busy.headers == {"Retry-After": "2"} and "connections" in busy.detail


@pytest.mark.parametrize(
    "error",
    [
        psycopg.OperationalError("connection failed: port 5432 failed: Connection refused"),
        psycopg.OperationalError('FATAL:  password authentication failed for user "iki"'),
        psycopg.errors.AdminShutdown("terminating connection due to administrator command"),
        Exception("disk I/O error"),
    ],
)
def test_other_database_errors_are_not_busy(error):
    assert database_busy(_refused(error)) is None


def test_a_refused_connection_in_a_route_is_503_with_retry_after(client, psm, monkeypatch):
    from app.services import data_values

    def refused(*args, **kwargs):
        raise _refused(psycopg.OperationalError(TOO_MANY_CLIENTS))

    monkeypatch.setattr(data_values, "lock_agency_data", refused)
    monkeypatch.setattr("app.services.common.lock_agency_data", refused)
    answer = client.put(
        f"{API}/data-values/2025/1", headers=psm, json={"values": {"psks_terdata": 1}}
    )
    body = assert_problem(answer, 503, "busy")
    assert answer.headers["Retry-After"] == "2" and "connections" in body["detail"]


def test_a_refused_connection_while_authenticating_is_503_busy():
    def refuse() -> psycopg.Connection:
        raise psycopg.OperationalError(TOO_MANY_CLIENTS)

    refusing = create_engine("postgresql+psycopg://", creator=refuse)

    def refused_session():
        with Session(refusing) as session:
            yield session

    app.dependency_overrides[get_session] = refused_session
    try:
        answer = TestClient(app).get(f"{API}/agencies", headers={"Authorization": "Bearer x"})
        body = assert_problem(answer, 503, "busy")
        assert answer.headers["Retry-After"] == "2" and "connections" in body["detail"]
    finally:
        app.dependency_overrides.clear()
        refusing.dispose()


def test_access_lines_never_carry_a_secret():
    stream = io.StringIO()
    config = logging_config()
    config["handlers"]["access"]["stream"] = stream
    logging.config.dictConfig(config)
    try:
        logging.getLogger("uvicorn.access").info(
            '%s - "%s %s HTTP/%s" %d',
            "127.0.0.1:50000",
            "GET",
            "/api/v1/achievements?year=2025&api_key=iki_s3cr3t&token=abc",
            "1.1",
            401,
        )
    finally:
        logging.config.dictConfig({"version": 1, "disable_existing_loggers": False})
    line = stream.getvalue()
    assert "s3cr3t" not in line and "abc" not in line
    assert "year=2025&api_key=***&token=***" in line and " 401" in line


@pytest.mark.parametrize(
    ("method", "path", "allowed"),
    [
        ("DELETE", "/api/v1/agencies", "GET, HEAD, POST"),
        ("OPTIONS", "/api/v1/agencies/1", "DELETE, GET, HEAD, PATCH"),
        ("POST", "/api/v1/indicators/1/targets/2025", "GET, HEAD, PUT"),
        ("POST", "/healthz", "GET, HEAD"),
    ],
)
def test_405_names_every_method_of_the_path(client, reader, method, path, allowed):
    answer = client.request(method, path, headers=reader)
    assert_problem(answer, 405, "method_not_allowed")
    assert answer.headers["Allow"] == allowed


def test_operation_ids_are_short_and_unique(client):
    spec = client.get("/openapi.json").json()
    ids = [op["operationId"] for ops in spec["paths"].values() for op in ops.values()]
    assert len(ids) == len(set(ids))
    assert "list_achievements" in ids and "put_realization" in ids
    assert all("_api_v1_" not in i and not i.endswith(("_get", "_put", "_post")) for i in ids)


@pytest.mark.parametrize("moment", ["0.5", "1700000000", "yesterday", "2025-13"])
def test_times_are_iso_8601_only(client, reader, moment):
    for path in ("achievements", "data-values"):
        params = {"year": 2025, "updated_since": moment}
        answer = client.get(f"{API}/{path}", headers=reader, params=params)
        assert_problem(answer, 422, "validation_error")
    fine = client.get(
        f"{API}/achievements", headers=reader, params={"year": 2025, "updated_since": "2025-04-01"}
    )
    assert fine.status_code == 200


@pytest.mark.parametrize("date", [0, "0", 1735862400, "03-01-2025"])
def test_dates_are_iso_8601_only(client, session, admin, date):
    decree = session.exec(select(Decree)).one()
    copy = {"number": "BARU/2026", "date": date, "year": 2026}
    answer = client.post(f"{API}/decrees/{decree.id}/copy", headers=admin, json=copy)
    assert_problem(answer, 422, "validation_error")
    copy["date"] = "2026-01-05"
    assert (
        client.post(f"{API}/decrees/{decree.id}/copy", headers=admin, json=copy).status_code == 201
    )
