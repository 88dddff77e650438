"""Throttled authentication failures, busy databases answered 503, and logs without secrets."""

from __future__ import annotations

import io
import logging
import logging.config

import pytest
from sqlalchemy.exc import OperationalError

from app.core.config import get_settings
from app.core.logging import logging_config
from tests.api.helpers import assert_problem

API = "/api/v1"


@pytest.fixture
def throttled(monkeypatch):
    monkeypatch.setattr(get_settings(), "auth_failure_limit", "5/minute")
    from app.core import security

    security._failures.storage.reset()
    yield
    security._failures.storage.reset()


def test_failed_authentications_are_throttled_per_address(client, reader, throttled):
    wrong = {"Authorization": "Bearer iki_wrong"}
    for _ in range(5):
        assert_problem(client.get(f"{API}/agencies", headers=wrong), 401, "unauthenticated")
    refused = client.get(f"{API}/agencies", headers=wrong)
    body = assert_problem(refused, 429, "too_many_requests")
    assert int(refused.headers["Retry-After"]) >= 1 and "retry" in body["detail"]
    # The address is held off whatever key it sends, until the window passes.
    assert_problem(client.get(f"{API}/agencies", headers=reader), 429, "too_many_requests")


def test_successful_authentications_are_not_counted(client, reader, throttled):
    for _ in range(10):
        assert client.get(f"{API}/agencies", headers=reader).status_code == 200


def test_a_lock_timeout_is_503_with_retry_after(client, session, make_key, monkeypatch):
    from app.models import Role
    from app.services import data_values

    def locked(*args, **kwargs):
        raise OperationalError("BEGIN IMMEDIATE", {}, Exception("database is locked"))

    monkeypatch.setattr(data_values, "lock_agency_data", locked)
    monkeypatch.setattr("app.services.common.lock_agency_data", locked)
    operator = make_key(Role.operator, units=("BID_PSM",))
    answer = client.put(
        f"{API}/data-values/2025/1", headers=operator, json={"values": {"psks_terdata": 1}}
    )
    assert_problem(answer, 503, "busy")
    assert answer.headers["Retry-After"] == "2"


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
