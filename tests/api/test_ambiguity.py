"""Ambiguous input is refused, not silently resolved; answers quote input only briefly."""

from __future__ import annotations

import json

from app.models import Role
from tests.api.helpers import assert_problem

IMPORT = "/api/v1/data-values/import"


def stored_count(client, headers):
    return client.get("/api/v1/data-values", headers=headers, params={"year": 2025}).json()["total"]


def test_a_csv_header_naming_a_column_twice_is_refused(client, psm):
    csv = "variable,year,quarter,value,value\npsks_terdata,2025,1,10,20\n"
    body = assert_problem(
        client.post(IMPORT, headers={**psm, "Content-Type": "text/csv"}, content=csv),
        422,
        "invalid_input",
    )
    assert "value more than once" in body["detail"] and body["field"] == "header"
    assert stored_count(client, psm) == 0


def test_a_json_member_named_twice_is_refused(client, psm):
    raw = (
        '{"rows": [{"variable": "psks_terdata", "year": 2025, "quarter": 1,'
        ' "value": 10, "value": 20}]}'
    )
    body = assert_problem(
        client.post(IMPORT, headers={**psm, "Content-Type": "application/json"}, content=raw),
        422,
        "invalid_input",
    )
    assert "value more than once" in body["detail"]
    twice_agency = '{"agency": "DINSOSP3A", "agency": "X", "rows": []}'
    assert_problem(
        client.post(
            IMPORT, headers={**psm, "Content-Type": "application/json"}, content=twice_agency
        ),
        422,
        "invalid_input",
    )
    assert stored_count(client, psm) == 0


def test_an_agency_in_body_and_query_must_agree(client, psm):
    rows = [{"variable": "psks_terdata", "year": 2025, "quarter": 1, "value": 10}]
    refused = client.post(
        IMPORT,
        headers=psm,
        params={"agency": "OTHER"},
        json={"agency": "DINSOSP3A", "rows": rows},
    )
    assert assert_problem(refused, 422, "invalid_input")["field"] == "agency"
    same = client.post(
        IMPORT,
        headers=psm,
        params={"agency": "DINSOSP3A"},
        json={"agency": "DINSOSP3A", "rows": rows},
    )
    assert same.status_code == 200, same.text


def test_a_large_bad_import_gets_a_small_answer(client, psm):
    rows = [
        {"variable": "x" * 5_000 + str(i), "year": 2025, "quarter": 1, "value": "y" * 5_000}
        for i in range(1_500)
    ]
    body = assert_problem(
        client.post(IMPORT, headers=psm, json={"rows": rows}), 422, "import_rejected"
    )
    assert body["rejected"] == body["errors_total"] == 1_500 and len(body["errors"]) == 50
    assert max(len(json.dumps(e)) for e in body["errors"]) < 600
    assert len(json.dumps(body)) < 50_000


def test_a_long_query_value_is_not_echoed_whole(client, make_key):
    reader = make_key(Role.reader)
    answer = client.get("/api/v1/achievements", headers=reader, params={"year": "9" * 60_000})
    assert_problem(answer, 422, "validation_error")
    assert len(answer.content) < 2_000
