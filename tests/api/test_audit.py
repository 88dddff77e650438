"""The audit trail: every write leaves an event in its transaction; events are append-only;
every answer and log line names its request."""

from __future__ import annotations

import io
import logging
import logging.config
import os

from sqlmodel import select

from app.core.logging import logging_config
from app.models import AuditEvent, Role, Variable
from app.services import audit
from app.services.keys import create_key, revoke_key
from tests.api.helpers import assert_problem, indicator_id, request_id

API = "/api/v1"
ON_POSTGRES = os.environ.get("TEST_DATABASE_URL", "").startswith("postgresql")


def events(session, **where):
    query = select(AuditEvent)
    for name, value in where.items():
        query = query.where(getattr(AuditEvent, name) == value)
    return session.exec(query.order_by(AuditEvent.id)).all()  # type: ignore[arg-type]


def test_every_kind_of_write_is_audited_with_its_actor_and_request(client, session, admin, psm):
    variable = session.exec(select(Variable).where(Variable.code == "psks_terdata")).one()
    ind = indicator_id(session, "KADIS.1.1")
    writes = [
        (
            request_id("var"),
            admin,
            "PATCH",
            f"{API}/variables/{variable.id}",
            {"max_value": 100000},
        ),
        (
            request_id("target"),
            admin,
            "PUT",
            f"{API}/indicators/{ind}/targets/2025",
            {"annual": 40},
        ),
        (
            request_id("scale"),
            admin,
            "PUT",
            f"{API}/rating-scales/TIGA",
            {"name": "Tiga", "bands": [{"min": None, "code": "semua", "label": "Semua"}]},
        ),
        (
            request_id("value"),
            psm,
            "PUT",
            f"{API}/indicators/{ind}/realizations/2025/1",
            {"values": {"psks_terdata": 120}},
        ),
        (
            request_id("import"),
            psm,
            "POST",
            f"{API}/data-values/import",
            {"rows": [{"variable": "psks_terdata", "year": 2025, "quarter": 1, "value": 125}]},
        ),
        (
            request_id("unit"),
            admin,
            "POST",
            f"{API}/units",
            {"agency": "DINSOSP3A", "code": "X", "name": "X"},
        ),
    ]
    for rid, headers, method, url, body in writes:
        answer = client.request(method, url, headers={**headers, "X-Request-ID": rid}, json=body)
        assert answer.status_code in (200, 201), answer.text
        assert answer.headers["X-Request-ID"] == rid

    (changed,) = events(session, request_id=request_id("var"))
    assert (changed.action, changed.entity, changed.entity_id) == (
        "update",
        "variable",
        str(variable.id),
    )
    assert changed.before["max_value"] is None and changed.after["max_value"] == 100000
    assert changed.actor_role == "admin"
    (target,) = events(session, request_id=request_id("target"))
    assert (target.action, target.entity, target.after["value"]) == ("create", "target", 40)
    assert [e.entity for e in events(session, request_id=request_id("scale"))] == ["rating_scale"]
    (value,) = events(session, request_id=request_id("value"))
    assert (value.entity, value.actor, value.actor_role) == (
        "data_value",
        "psm-operator",
        "operator",
    )
    assert value.after["value"] == 120
    (imported,) = events(session, request_id=request_id("import"))
    assert imported.action == "import"
    assert (imported.before["value"], imported.after["value"]) == (120, 125)
    assert events(session, request_id=request_id("unit"))[0].entity == "unit"


def test_a_refused_write_leaves_no_event(client, session, admin):
    before = len(events(session))
    assert_problem(
        client.post(
            f"{API}/units",
            headers={**admin, "X-Request-ID": request_id("refused")},
            json={"agency": "DINSOSP3A", "code": "BID_PSM", "name": "Ganda"},
        ),
        409,
        "conflict",
    )
    assert len(events(session)) == before


def test_keys_made_on_the_command_line_are_audited_without_their_secret(session):
    audit.act_as(session, "cli", "admin", "cli-test")
    _, secret = create_key(session, "esakip", Role.reader)
    revoke_key(session, "esakip")
    session.flush()
    created, revoked = events(session, request_id="cli-test")[-2:]
    assert (created.action, created.entity, created.actor) == ("create", "api_key", "cli")
    assert "secret_hash" not in created.after and secret not in str(created.after)
    assert (revoked.action, revoked.before["revoked_at"]) == ("update", None)
    assert revoked.after["revoked_at"] is not None


def test_the_audit_list(client, session, admin, reader, verifier):
    for code in ("A1", "A2"):
        client.post(
            f"{API}/units",
            headers={**admin, "X-Request-ID": request_id(code)},
            json={"agency": "DINSOSP3A", "code": code, "name": code},
        )
    page = client.get(f"{API}/audit", headers=verifier, params={"entity": "unit", "limit": 2})
    assert page.status_code == 200
    body = page.json()
    assert [e["request_id"] for e in body["items"]] == [
        request_id("A2"),
        request_id("A1"),
    ]  # newest first
    assert (body["limit"], body["offset"]) == (2, 0) and body["total"] >= 2
    moment = body["items"][0]["at"]
    later = client.get(f"{API}/audit", headers=verifier, params={"since": moment, "entity": "unit"})
    assert [e["request_id"] for e in later.json()["items"]] == [request_id("A2")]
    assert_problem(client.get(f"{API}/audit", headers=reader), 403, "forbidden")


def test_no_endpoint_changes_the_audit_trail(client):
    paths = client.get("/openapi.json").json()["paths"]
    audit_paths = {path: set(ops) for path, ops in paths.items() if "audit" in path}
    assert audit_paths == {f"{API}/audit": {"get"}}


def test_request_ids(client, reader):
    generated = client.get(f"{API}/agencies", headers=reader).headers["X-Request-ID"]
    assert len(generated) == 32 and int(generated, 16) >= 0
    plain = "0f8fad5b-d9cb-469f-a165-70867728950e"
    kept = client.get(f"{API}/agencies", headers={**reader, "X-Request-ID": plain})
    assert kept.headers["X-Request-ID"] == plain
    for insane in ("a b", "x" * 200, "<script>", "esakip-0001"):
        replaced = client.get(f"{API}/agencies", headers={**reader, "X-Request-ID": insane})
        assert replaced.headers["X-Request-ID"] != insane
    assert client.get("/healthz").headers["X-Request-ID"]
    assert client.get(f"{API}/agencies").headers["X-Request-ID"]  # a 401 too


def test_every_log_line_of_a_request_carries_its_id(client, reader):
    stream = io.StringIO()
    config = logging_config()
    config["handlers"]["default"]["stream"] = stream
    logging.config.dictConfig(config)
    try:
        logging.getLogger("app.errors").setLevel(logging.INFO)
        client.get(f"{API}/agencies", headers={**reader, "X-Request-ID": request_id("trace-me")})
        logging.getLogger("app.test").info("outside any request")
        from app.services import organization

        def boom(*args, **kwargs):
            logging.getLogger("app.services").warning("about to fail")
            raise RuntimeError("boom")

        original = organization.list_agencies
        organization.list_agencies = boom  # type: ignore[assignment]
        try:
            from fastapi.testclient import TestClient

            with TestClient(client.app, raise_server_exceptions=False) as quiet:
                quiet.get(
                    f"{API}/agencies", headers={**reader, "X-Request-ID": request_id("trace-500")}
                )
        finally:
            organization.list_agencies = original  # type: ignore[assignment]
    finally:
        logging.config.dictConfig({"version": 1, "disable_existing_loggers": False})
    lines = stream.getvalue().splitlines()
    assert any("[-] app.test: outside any request" in line for line in lines)
    failing = [line for line in lines if request_id("trace-500") in line]
    assert any("about to fail" in line for line in failing)
    assert any("Unhandled error" in line for line in failing)
