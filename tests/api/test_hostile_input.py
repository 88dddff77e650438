"""Input that once made the service answer 500 (found by fuzzing): now a 4xx problem."""

import pytest
from sqlmodel import select

from app.models import Agency, DataValue
from tests.api.helpers import assert_problem

IMPORT = "/api/v1/data-values/import"
HEADER = b"variable,year,quarter,value\n"


def post_csv(client, headers, body: bytes):
    return client.post(
        f"{IMPORT}?dry_run=true", headers={**headers, "Content-Type": "text/csv"}, content=body
    )


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (HEADER + b"psks_terdata,2025,1,\x81\n", "file"),  # neither UTF-8 nor Windows-1252
        (b"variable,year,quarter,value\rpsks_terdata,2025,1,1\n", "body"),  # a bare CR
        (HEADER + b'psks_terdata,2025,1,"' + b"9" * 131073 + b'"\n', "body"),  # huge field
    ],
    ids=["undecodable", "bare-cr", "huge-field"],
)
def test_unreadable_csv(client, psm, body, field):
    problem = assert_problem(post_csv(client, psm, body), 422, "invalid_input")
    assert problem["field"] == field


@pytest.mark.parametrize(
    ("line", "code"),
    [
        ("psks_terdata,2025,\u00b2,1", "invalid_quarter"),  # superscript two is a "digit"
        ("psks_terdata,\u0662\u0660\u0662\u0665,1,1", "invalid_year"),  # Arabic-Indic digits
        ("psks_terdata,2025,1," + "9" * 5000, "not_a_number"),
        ("psks_terdata," + "2" * 5000 + ",1,1", "invalid_year"),
    ],
    ids=["superscript", "arabic-indic", "long-value", "long-year"],
)
def test_csv_cells_that_are_not_plain_numbers(client, psm, line, code):
    response = post_csv(client, psm, HEADER + line.encode() + b"\n")
    body = assert_problem(response, 422, "import_rejected")
    assert [e["code"] for e in body["errors"]] == [code]


def test_deeply_nested_json(client, psm):
    body = b"[" * 100_000 + b"]" * 100_000
    response = client.post(
        IMPORT, headers={**psm, "Content-Type": "application/json"}, content=body
    )
    assert_problem(response, 422, "invalid_input")


@pytest.mark.parametrize("column", ["variable", "note"])
def test_lone_surrogates(client, session, psm, column):
    row = {"variable": "psks_terdata", "year": 2025, "quarter": 1, "value": 7, "note": "ok"}
    raw = __import__("json").dumps({"rows": [row]}).replace(f'"{row[column]}"', '"\\ud800"')
    # An atomic import refuses the whole body (422); a non-atomic one answers 200 and reports
    # the row it skipped.
    for query, status in (("", 422), ("?atomic=false", 200)):
        response = client.post(
            IMPORT + query, headers={**psm, "Content-Type": "application/json"}, content=raw
        )
        assert response.status_code == status, response.text
        errors = response.json()["errors"]
        assert [(e["code"], e["field"]) for e in errors] == [("invalid_text", column)]
    assert session.exec(select(DataValue)).all() == []


def test_unbounded_id_filters(client, reader):
    response = client.get("/api/v1/objectives?decree_id=" + "1" * 31, headers=reader)
    assert_problem(response, 422, "validation_error")


def test_nul_characters_are_refused(client, session, admin):
    response = client.post(
        "/api/v1/agencies", headers=admin, json={"code": "NULX", "name": "a\u0000b"}
    )
    assert 400 <= response.status_code < 500, response.text
    assert session.exec(select(Agency).where(Agency.code == "NULX")).first() is None


def test_import_body_schema_is_in_the_openapi_document(client):
    spec = client.get("/openapi.json").json()
    body = spec["paths"]["/api/v1/data-values/import"]["post"]["requestBody"]["content"]
    schema = body["application/json"]["schema"]
    assert "$ref" not in str(schema)
    assert set(schema["properties"]) == {"agency", "rows"}


def test_nul_in_queries_is_refused_but_an_escaped_backslash_is_text(client, session, admin):
    assert_problem(client.get("/api/v1/units?agency=A%00B", headers=admin), 422, "invalid_input")
    response = client.post(
        "/api/v1/agencies", headers=admin, json={"code": "BSLASH", "name": "a\\u0000b"}
    )
    assert response.status_code == 201, response.text
    assert response.json()["name"] == "a\\u0000b"


def test_authentication_comes_before_reading_the_body(client):
    response = client.post("/api/v1/agencies", json={"code": "X", "name": "a\u0000b"})
    assert_problem(response, 401, "unauthenticated")


def test_lone_surrogate_agency_in_an_import(client, psm):
    raw = '{"agency": "\\ud800", "rows": []}'
    response = client.post(IMPORT, headers={**psm, "Content-Type": "application/json"}, content=raw)
    assert_problem(response, 422, "invalid_input")


@pytest.mark.parametrize(
    ("extra", "code", "field"),
    [
        ({"evidence": "java\tscript:alert(1)"}, "unsafe_link", "evidence"),
        ({"evidence": " DATA:text/html,x"}, "unsafe_link", "evidence"),
        ({"note": {"a": 1}}, "invalid_field", "note"),
        ({"evidence": 5}, "invalid_field", "evidence"),
        ({"note": "x" * 2001}, "too_long", "note"),
    ],
)
def test_import_notes_and_evidence_are_checked_like_single_writes(
    client, session, psm, extra, code, field
):
    row = {"variable": "psks_terdata", "year": 2025, "quarter": 1, "value": 1, **extra}
    body = assert_problem(
        client.post(IMPORT, headers=psm, json={"rows": [row]}), 422, "import_rejected"
    )
    assert [(e["code"], e["field"]) for e in body["errors"]] == [(code, field)]
    assert session.exec(select(DataValue)).all() == []


def test_utf16_csv_gets_a_hint(client, psm):
    body = "variable,year,quarter,value\n".encode("utf-16")
    problem = assert_problem(post_csv(client, psm, body), 422, "invalid_input")
    assert "UTF-8" in problem["detail"]


def test_unambiguous_decimals_with_three_places(client, psm):
    csv_text = HEADER + b"psks_terdata,2025,1,0.500\n"
    body = post_csv(client, psm, csv_text).json()
    assert [e["code"] for e in body["errors"]] == ["not_an_integer"]  # a decimal, not 500
