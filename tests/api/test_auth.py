"""Authentication and roles through the HTTP interface; errors as problem+json."""

import re
import tomllib
from pathlib import Path

import pytest
from sqlmodel import select

from app.models import ApiKey, Role
from app.services.keys import create_key, revoke_key
from tests.api.helpers import assert_problem


@pytest.mark.parametrize(
    "path", ["/api/v1/agencies", "/api/v1/indicators", "/api/v1/indicators/1", "/api/v1/variables"]
)
def test_api_needs_a_key(client, path):
    assert_problem(client.get(path), 401, "unauthenticated")


def test_unknown_and_malformed_keys_are_refused(client):
    assert_problem(
        client.get("/api/v1/agencies", headers={"Authorization": "Bearer nope"}),
        401,
        "unauthenticated",
    )
    assert_problem(
        client.get("/api/v1/agencies", headers={"Authorization": "Basic abc"}),
        401,
        "unauthenticated",
    )


def test_revoked_key_is_refused(client, session):
    _, secret = create_key(session, "soon-revoked", Role.reader)
    headers = {"Authorization": f"Bearer {secret}"}
    assert client.get("/api/v1/agencies", headers=headers).status_code == 200
    revoke_key(session, "soon-revoked")
    assert_problem(client.get("/api/v1/agencies", headers=headers), 401, "unauthenticated")


def test_open_routes_need_no_key(client):
    for path in ("/docs", "/redoc", "/openapi.json", "/healthz", "/readyz"):
        assert client.get(path).status_code == 200, path


def test_readyz_reports_schema_at_head(client):
    body = client.get("/readyz").json()
    assert body["status"] == "ok"
    assert body["schema_revision"] == body["head_revision"] is not None


def test_key_secret_is_not_stored(session):
    key, secret = create_key(session, "hash-check", Role.reader)
    stored = session.exec(select(ApiKey).where(ApiKey.id == key.id)).one()
    row_text = " ".join(str(v) for v in stored.model_dump().values())
    assert secret not in row_text
    assert secret[len("iki_") :] not in row_text
    assert stored.secret_hash != secret and len(stored.secret_hash) == 64


def test_keys_are_random_and_unique(session):
    secrets = {create_key(session, f"k{i}", Role.reader)[1] for i in range(20)}
    assert len(secrets) == 20
    assert all(len(s) >= 40 for s in secrets)


def test_operator_key_needs_units(session):
    from app.core.errors import InvalidInput

    with pytest.raises(InvalidInput):
        create_key(session, "op-without-units", Role.operator)
    key, _ = create_key(session, "op-psm", Role.operator, ["BID_PSM"])
    assert key.role == Role.operator


def test_key_use_is_recorded(client, session):
    key, secret = create_key(session, "used-key", Role.reader)
    assert key.last_used_at is None
    client.get("/api/v1/agencies", headers={"Authorization": f"Bearer {secret}"})
    session.refresh(key)
    assert key.last_used_at is not None


def test_not_found_is_problem_json(client, reader):
    body = assert_problem(client.get("/api/v1/indicators/999999", headers=reader), 404, "not_found")
    assert "999999" in body["detail"]
    assert_problem(client.get("/api/v1/no-such-route", headers=reader), 404, "not_found")


def test_validation_errors_are_problem_json_naming_the_field(client, reader):
    body = assert_problem(
        client.get("/api/v1/indicators?limit=5000", headers=reader), 422, "validation_error"
    )
    assert body["errors"][0]["field"] == "query.limit"
    body = assert_problem(
        client.get("/api/v1/indicators/abc", headers=reader), 422, "validation_error"
    )
    assert body["errors"][0]["field"] == "path.indicator_id"


def test_method_not_allowed_is_problem_json(client, reader):
    assert_problem(client.delete("/api/v1/agencies", headers=reader), 405, "method_not_allowed")


def test_openapi_declares_bearer_auth_and_documents_routes(client):
    spec = client.get("/openapi.json").json()
    schemes = spec["components"]["securitySchemes"]
    assert any(s.get("scheme") == "bearer" for s in schemes.values())
    tags = {t["name"] for t in spec["tags"]}
    assert {"indicators", "positions", "health"} <= tags
    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            assert operation.get("summary"), f"{method} {path} lacks a summary"
            assert operation.get("description"), f"{method} {path} lacks a description"
            if path.startswith("/api/v1"):
                assert "401" in operation["responses"], f"{method} {path} lacks its 401"


def test_openapi_states_the_packages_version_and_the_body_limits(client):
    spec = client.get("/openapi.json").json()
    project = tomllib.loads((Path(__file__).resolve().parents[2] / "pyproject.toml").read_text())
    assert spec["info"]["version"] == project["project"]["version"]
    too_large = {
        operation["responses"]["413"]["description"]
        for operations in spec["paths"].values()
        for operation in operations.values()
        if "413" in operation["responses"]
    }
    assert too_large == {"The body is larger than the limit (2 MB; 20 MB for imports)"}


def test_every_public_schema_and_field_is_documented(client):
    schemas = client.get("/openapi.json").json()["components"]["schemas"]
    for name, schema in schemas.items():
        if name in {"HTTPValidationError", "ValidationError"}:
            continue
        assert schema.get("description"), f"schema {name} has no description"
        for field, prop in schema.get("properties", {}).items():
            documented = prop.get("description") or prop.get("examples") or "$ref" in str(prop)
            assert documented, f"{name}.{field} has neither description nor example"


def test_docs_need_no_cdn(client):
    for page in ("/docs", "/redoc"):
        html = client.get(page).text
        assert "cdn.jsdelivr.net" not in html and "unpkg.com" not in html
        assets = re.findall(r'(?:src|href)="(/[^"]+\.(?:js|css))"', html)
        assert assets, page
        for asset in assets:
            assert client.get(asset).status_code == 200, asset
