"""Strict input on every route: JSON members named once, numbers that are numbers, ids that
are digits, text without control characters and no longer than its field allows."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
from fastapi.routing import APIRoute
from sqlalchemy import Enum
from sqlmodel import Session, SQLModel, func, select

from app.core.jsonbody import MAX_NAMED, DuplicateMembers, JSONRoute, unique_members
from app.core.security import MAX_NAME as MAX_KEY_NAME
from app.core.types import MAX_FREE_TEXT, MAX_LINE, MAX_PARAGRAPH, MAX_STATEMENT, MAX_TEXT
from app.main import app
from app.models import (
    Agency,
    ApiKey,
    AuditEvent,
    DataValue,
    Decree,
    Indicator,
    Objective,
    Period,
    Position,
    Role,
    SeedLoad,
    Unit,
    Variable,
)
from app.pages.web import PageRoute
from app.schemas.decrees import DecreeCreate
from app.schemas.indicators import IndicatorCreate
from app.schemas.organization import AgencyCreate, PositionCreate, UnitCreate
from app.schemas.variables import VariableCreate
from app.services.keys import create_key
from app.services.seed import MAX_SOURCE
from tests.api.helpers import assert_problem, indicator_id

API = "/api/v1"


def count(session: Session, model: type[SQLModel]) -> int:
    return session.exec(select(func.count()).select_from(model)).one()


def field_errors(response: Any) -> dict[str, str]:
    body = assert_problem(response, 422, "validation_error")
    return {e["field"]: e["message"] for e in body["errors"]}


# JSON members named twice ----------------------------------------------------------------------


def test_a_member_named_twice_is_refused_and_nothing_is_stored(client, session, psm):
    raw = '{"values": {"psks_terdata": 1, "psks_terdata": 2}}'
    response = client.put(
        f"{API}/data-values/2025/3",
        headers={**psm, "Content-Type": "application/json"},
        content=raw,
    )
    body = assert_problem(response, 422, "invalid_input")
    assert body["members"] == ["psks_terdata"] and "psks_terdata more than once" in body["detail"]
    assert count(session, DataValue) == 0
    # Without a content type the body is read as JSON too, and refused alike.
    response = client.put(f"{API}/data-values/2025/3", headers=psm, content=raw)
    assert assert_problem(response, 422, "invalid_input")["members"] == ["psks_terdata"]
    assert count(session, DataValue) == 0


@pytest.mark.parametrize(
    ("method", "path", "raw"),
    [
        (
            "POST",
            "/agencies",
            '{"code": "DINKES", "name": "Dinas Kesehatan", "name": "Dinas Lain"}',
        ),
        ("PUT", "/indicators/{id}/targets/2025", '{"annual": 10, "quarters": {"1": 2, "1": 3}}'),
        ("PUT", "/targets/2025", '[{"indicator": "KADIS.1.1", "annual": 1, "annual": 2}]'),
        (
            "PUT",
            "/rating-scales/TIGA",
            '{"name": "x", "bands": [{"min": null, "code": "a", "label": "A", "code": "b"}]}',
        ),
    ],
    ids=["create", "nested", "list-item", "deep"],
)
def test_every_json_body_refuses_a_member_named_twice(client, session, admin, method, path, raw):
    before = count(session, AuditEvent)
    url = API + path.format(id=indicator_id(session, "KADIS.1.1"))
    response = client.request(
        method, url, headers={**admin, "Content-Type": "application/json"}, content=raw
    )
    assert assert_problem(response, 422, "invalid_input")["field"] == "body"
    assert count(session, AuditEvent) == before  # nothing written


def test_the_members_named_are_few_and_short(client, psm):
    names = [f"v{i:03d}" + "x" * 300 for i in range(50)]
    pairs = ", ".join(f'"{n}": 1, "{n}": 2' for n in names)
    response = client.put(
        f"{API}/data-values/2025/3",
        headers={**psm, "Content-Type": "application/json"},
        content='{"values": {' + pairs + "}}",
    )
    body = assert_problem(response, 422, "invalid_input")
    assert len(body["members"]) == MAX_NAMED
    assert all(len(m) <= 103 for m in body["members"])
    assert "and 47 more" in body["detail"] and len(response.content) < 3000


def _api_routes(routes: list[Any]) -> list[APIRoute]:
    """The operations of a router, through the routers it includes."""
    found: list[APIRoute] = []
    for route in routes:
        if isinstance(route, APIRoute):
            found.append(route)
        elif hasattr(route, "original_router"):  # an included router
            found += _api_routes(route.original_router.routes)
    return found


def test_every_route_reads_its_body_through_the_strict_route():
    routes = [r for r in _api_routes(app.routes) if not r.path.startswith(("/docs", "/redoc"))]
    assert len(routes) > 50
    strict = (JSONRoute, PageRoute)  # the pages read forms, each checked for its CSRF token
    assert [r.path for r in routes if not isinstance(r, strict)] == []
    assert any(isinstance(r, PageRoute) for r in routes)


def test_finding_members_named_twice_is_linear():
    many = [(f"m{i}", i) for i in range(200_000)]
    started = time.perf_counter()
    assert len(unique_members(many)) == 200_000
    with pytest.raises(DuplicateMembers) as refused:
        unique_members([*many, ("m7", 0), ("m9", 0)])
    assert refused.value.extra["members"] == ["m7", "m9"]
    # `names.count` per member took minutes here; a linear pass takes a fraction of a second.
    assert time.perf_counter() - started < 5


# Booleans are not numbers ----------------------------------------------------------------------

NEW_VARIABLE = {
    "agency": "DINSOSP3A",
    "code": "ppks_baru",
    "label": "Jumlah PPKS baru",
    "unit_of_measure": "orang",
    "aggregation": "sum",
    "owner_unit": "BID_PSM",
}


@pytest.mark.parametrize(
    ("member", "value"),
    [("max_value", False), ("min_value", True), ("max_value", "100"), ("decimals", True)],
)
def test_a_boolean_or_text_is_no_bound(client, session, admin, member, value):
    if member == "decimals":  # an indicator's
        url = f"{API}/indicators/{indicator_id(session, 'KADIS.1.1')}"
        errors = field_errors(client.patch(url, headers=admin, json={member: value}))
        assert "not true or false" in errors[f"body.{member}"]
        return
    before = count(session, Variable)
    errors = field_errors(
        client.post(f"{API}/variables", headers=admin, json={**NEW_VARIABLE, member: value})
    )
    assert errors[f"body.{member}"].endswith("must be a number")
    assert count(session, Variable) == before
    variable = session.exec(select(Variable).where(Variable.code == "psks_terdata")).one()
    errors = field_errors(
        client.patch(f"{API}/variables/{variable.id}", headers=admin, json={member: value})
    )
    assert errors[f"body.{member}"].endswith("must be a number")


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"annual": False}, "body.annual"),
        ({"annual": 10, "quarters": {"1": True}}, "body.quarters.1"),
        ({"annual": 10, "quarters": {"1_0": 5}}, "body.quarters.1_0.[key]"),
    ],
)
def test_targets_refuse_booleans(client, session, admin, body, field):
    url = f"{API}/indicators/{indicator_id(session, 'KADIS.1.1')}/targets/2025"
    assert field in field_errors(client.put(url, headers=admin, json=body))


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("/data-values/2025/1", {"values": {"psks_terdata": True}}, "body.values.psks_terdata"),
        ("/targets/2025", [{"indicator_id": True, "annual": 1}], "body.0.indicator_id"),
        (
            "/rating-scales/TIGA",
            {"name": "Tiga", "bands": [{"min": False, "code": "a", "label": "A"}]},
            "body.bands.0.min",
        ),
    ],
    ids=["value", "id", "band"],
)
def test_values_ids_and_bands_refuse_booleans(client, session, admin, path, body, field):
    assert field in field_errors(client.put(API + path, headers=admin, json=body))
    assert count(session, DataValue) == 0


@pytest.mark.parametrize("value", [0, 1, "true", "yes"])
def test_a_yes_or_no_is_true_or_false_only(client, session, admin, value):
    before = count(session, Variable)
    body = {**NEW_VARIABLE, "needs_evidence": value}
    errors = field_errors(client.post(f"{API}/variables", headers=admin, json=body))
    assert "body.needs_evidence" in errors
    assert count(session, Variable) == before
    scale = {"name": "Satu", "bands": [{"min": None, "code": "a", "label": "A"}]}
    errors = field_errors(
        client.put(f"{API}/rating-scales/SATU", headers=admin, json={**scale, "is_default": value})
    )
    assert "body.is_default" in errors
    accepted = client.post(
        f"{API}/variables", headers=admin, json={**NEW_VARIABLE, "needs_evidence": True}
    )
    assert accepted.status_code == 201, accepted.text


def test_an_objective_refuses_a_boolean_decree(client, admin):
    body = {"decree_id": True, "position": "KADIS", "number": 9, "statement": "Meningkatnya X"}
    errors = field_errors(client.post(f"{API}/objectives", headers=admin, json=body))
    assert "not true or false" in errors["body.decree_id"]


# Ids, years, quarters, paging: ASCII digits only ---------------------------------------------

NOT_DIGITS = ["1_0", "%201", "+1", "%EF%BC%91", "1.0", "0x1", "1e0"]  # %EF%BC%91: full-width 1


@pytest.mark.parametrize("text", NOT_DIGITS)
def test_an_id_in_a_path_is_ascii_digits(client, reader, text):
    errors = field_errors(client.get(f"{API}/indicators/{text}", headers=reader))
    assert list(errors) == ["path.indicator_id"]


def test_leading_zeros_are_still_digits(client, session, reader):
    found = client.get(f"{API}/indicators/0{indicator_id(session, 'KADIS.1.1')}", headers=reader)
    assert found.status_code == 200 and found.json()["code"] == "KADIS.1.1"


def _integer_parameters() -> list[tuple[str, str, str, str]]:
    """(method, path, where, name) of every integer parameter the API documents."""
    found = []
    for path, operations in app.openapi()["paths"].items():
        for method, operation in operations.items():
            for parameter in operation.get("parameters", []):
                schema = parameter.get("schema", {})
                types = {schema.get("type")} | {s.get("type") for s in schema.get("anyOf", [])}
                if "integer" in types:
                    found.append((method, path, parameter["in"], parameter["name"]))
    return found


INTEGER_PARAMETERS = _integer_parameters()


def test_the_walk_finds_the_integer_parameters():
    where = {(w, n) for _, _, w, n in INTEGER_PARAMETERS}
    assert {("path", "indicator_id"), ("path", "year"), ("query", "limit")} <= where
    assert {("query", "offset"), ("query", "decree_id"), ("query", "quarter")} <= where
    assert len(INTEGER_PARAMETERS) > 60


@pytest.mark.parametrize("text", ["1_0", " 1", "+1", "１", "true"])
def test_every_integer_parameter_is_ascii_digits(client, session, admin, text):
    # One request per operation: every integer parameter of it sent as `text`, the others
    # as something valid; each integer parameter must be named as refused.
    operations: dict[tuple[str, str], list[tuple[str, str]]] = {}
    for method, path, where, name in INTEGER_PARAMETERS:
        operations.setdefault((method, path), []).append((where, name))
    for (method, path), parameters in operations.items():
        url = path
        query = {}
        for where, name in parameters:
            if where == "path":
                url = url.replace(f"{{{name}}}", text.replace(" ", "%20").replace("+", "%2B"))
            else:
                query[name] = text
        url = url.replace("{code}", "X")  # a code in the path: any text
        response = client.request(method.upper(), url, headers=admin, params=query)
        errors = field_errors(response)
        refused = {f"{where}.{name}" for where, name in parameters}
        assert refused <= set(errors), (method, url, errors)


# Control characters ----------------------------------------------------------------------------


def test_a_unit_name_holding_a_control_character_is_refused(client, session, admin):
    before = count(session, Unit)
    body = {"agency": "DINSOSP3A", "code": "UPTD_X", "name": "UPTD\u001fLiponsos"}
    errors = field_errors(client.post(f"{API}/units", headers=admin, json=body))
    assert "U+001F" in errors["body.name"]
    assert count(session, Unit) == before
    unit = session.exec(select(Unit).where(Unit.code == "BID_PSM")).one()
    for name in ("Bidang\u0007PSM", "Bidang\nPSM", "Bidang\u0085PSM"):  # BEL, LF, NEL (C1)
        errors = field_errors(
            client.patch(f"{API}/units/{unit.id}", headers=admin, json={"name": name})
        )
        assert "control characters" in errors["body.name"]
    session.refresh(unit)
    assert unit.name == "Bidang Pemberdayaan Sosial dan Masyarakat"


def test_a_note_holding_a_control_character_is_refused(client, session, psm):
    url = f"{API}/indicators/{indicator_id(session, 'KADIS.1.1')}/realizations/2025/1"
    values = {"psks_diberdayakan": 10, "psks_terdata": 20}
    for body, field in (
        ({"values": values, "note": "TW I\u0007"}, "body.note"),
        ({"values": values, "note": "ok", "evidence": "Arsip\nBidang PSM"}, "body.evidence"),
    ):
        assert "control characters" in field_errors(client.put(url, headers=psm, json=body))[field]
    assert count(session, DataValue) == 0

    note = "Baris satu\n\tbaris dua\r\nbaris tiga"  # several lines: tab and line breaks
    written = client.put(url, headers=psm, json={"values": values, "note": note})
    assert written.status_code == 200, written.text
    assert {v.note for v in session.exec(select(DataValue))} == {note}


def test_a_workflow_note_is_several_lines_without_other_controls(client, session, psm):
    url = f"{API}/periods/2025/1/units/BID_PSM/submit"
    errors = field_errors(client.post(url, headers=psm, json={"note": "siap\u001b[31m"}))
    assert "U+001B" in errors["body.note"]
    assert count(session, Period) == 0
    done = client.post(url, headers=psm, json={"note": "Siap diverifikasi.\nLengkap."})
    assert done.status_code == 200, done.text


@pytest.mark.parametrize(
    ("path", "member", "value"),
    [
        ("indicators", "name", "Persentase\nPSKS"),
        ("indicators", "explanation", "ok\u000bnot"),  # vertical tab: not a line break here
        ("indicators", "formula", "psks_diberdayakan\u000c/ psks_terdata"),
        ("positions", "duties", ["Menyusun\u0007rencana"]),
        ("positions", "duties", ["Menyusun\nrencana"]),  # one line per item
        ("decrees", "considerations", ["Bahwa\u0001"]),
        ("decrees", "clauses", [{"label": "KESATU", "text": "Ada \u009b di sini"}]),
        ("agencies", "phone", "0335\t421431"),
    ],
)
def test_definitions_refuse_control_characters(client, session, admin, path, member, value):
    target = {
        "indicators": (Indicator, "KADIS.1.1"),
        "positions": (Position, "KADIS"),
        "decrees": (Decree, None),
        "agencies": (Agency, "DINSOSP3A"),
    }[path]
    model, code = target
    row = session.exec(select(model) if code is None else select(model).where(model.code == code))
    row_id = row.first().id
    response = client.patch(f"{API}/{path}/{row_id}", headers=admin, json={member: value})
    assert response.status_code == 422, response.text


def test_text_of_several_lines_keeps_its_tabs_and_line_breaks(client, session, admin):
    url = f"{API}/indicators/{indicator_id(session, 'KADIS.1.1')}"
    text = "Pembilang:\tjumlah PSKS\nPenyebut:\ttotal PSKS\r\n"
    changed = client.patch(url, headers=admin, json={"explanation": text, "notes": text})
    assert changed.status_code == 200, changed.text
    assert changed.json()["explanation"] == text.strip() and changed.json()["notes"] == text.strip()


# Lengths that fit the field --------------------------------------------------------------------


def test_a_name_of_twenty_thousand_characters_is_refused(client, session, admin):
    url = f"{API}/indicators/{indicator_id(session, 'KADIS.1.1')}"
    errors = field_errors(client.patch(url, headers=admin, json={"name": "A" * 20_000}))
    assert f"at most {MAX_STATEMENT} characters" in errors["body.name"]
    longest = client.patch(url, headers=admin, json={"name": "A" * MAX_STATEMENT})
    assert longest.status_code == 200, longest.text
    assert field_errors(client.patch(url, headers=admin, json={"name": "A" * 601}))


@pytest.mark.parametrize(
    ("path", "member", "value"),
    [
        ("objectives", "statement", "A" * 10_000),
        ("indicators", "data_source", "A" * (MAX_FREE_TEXT + 1)),
        ("indicators", "notes", "A" * (MAX_TEXT + 1)),
        ("positions", "duties", ["A" * (MAX_LINE + 1)]),
        ("positions", "functions", ["Fungsi"] * 51),
        ("decrees", "legal_bases", ["A" * (MAX_PARAGRAPH + 1)]),
    ],
)
def test_texts_longer_than_their_field_are_refused(client, session, admin, path, member, value):
    model = {"objectives": Objective, "indicators": Indicator, "positions": Position}.get(
        path, Decree
    )
    row_id = session.exec(select(model.id).order_by(model.id)).first()
    response = client.patch(f"{API}/{path}/{row_id}", headers=admin, json={member: value})
    assert response.status_code == 422, response.text


# Names limited alike on both databases ---------------------------------------------------------


def test_a_key_name_of_150_characters_is_refused_before_the_database(session):
    from app.core.errors import InvalidInput

    before = count(session, ApiKey)
    with pytest.raises(InvalidInput, match=f"at most {MAX_KEY_NAME} characters"):
        create_key(session, "k" * 150, Role.reader)
    assert count(session, ApiKey) == before
    key, _ = create_key(session, "k" * MAX_KEY_NAME, Role.reader)
    assert key.name == "k" * MAX_KEY_NAME


# The tables with bounded (VARCHAR) text columns written from a body (an objective has none).
BODIES = {
    Agency: AgencyCreate,
    Unit: UnitCreate,
    Position: PositionCreate,
    Decree: DecreeCreate,
    Indicator: IndicatorCreate,
    Variable: VariableCreate,
}


def _max_length(model: type[SQLModel], name: str) -> int | None:
    found = [getattr(m, "max_length", None) for m in model.model_fields[name].metadata]
    return next((m for m in found if m is not None), None)


@pytest.mark.parametrize("table", list(BODIES), ids=lambda t: t.__tablename__)
def test_every_bounded_column_is_bounded_first_by_the_body(table):
    # PostgreSQL refuses a text longer than its VARCHAR (with an error the client cannot
    # read), SQLite stores it: the body must refuse it first, so both answer alike.
    body = BODIES[table]
    checked = 0
    for column in table.__table__.columns:
        length = getattr(column.type, "length", None)
        if isinstance(column.type, Enum) or not length or column.name not in body.model_fields:
            continue  # an enum's values are checked by the body; TEXT has no length
        limit = _max_length(body, column.name)
        assert limit is not None and limit <= length, column.name
        checked += 1
    assert checked


def test_names_of_keys_and_seed_files_fit_their_columns():
    assert ApiKey.__table__.c.name.type.length == MAX_KEY_NAME
    for who in (AuditEvent.__table__.c.actor, DataValue.__table__.c.updated_by):
        assert who.type.length >= MAX_KEY_NAME
    assert Period.__table__.c.changed_by.type.length >= MAX_KEY_NAME
    assert SeedLoad.__table__.c.source.type.length == MAX_SOURCE


def test_json_bodies_are_still_json(client, psm):
    # A body that is not JSON is answered as before (not as a duplicate).
    response = client.put(
        f"{API}/data-values/2025/3",
        headers={**psm, "Content-Type": "application/json"},
        content=json.dumps({"values": {"psks_terdata": 1}})[:-1],
    )
    assert assert_problem(response, 422, "validation_error")["errors"][0]["type"] == "json_invalid"
