"""Writing any variables of an agency, listing them, and bulk imports (JSON and CSV)."""

import pytest
from sqlmodel import select

from app.models import DataValue
from tests.api.helpers import assert_problem

YEAR = 2025


def stored(session):
    return {(r.variable_id, r.quarter): r.value for r in session.exec(select(DataValue))}


def test_put_any_variables_of_the_agency(client, session, agency_verifier):
    response = client.put(
        f"/api/v1/data-values/{YEAR}/2",
        headers=agency_verifier,
        json={"values": {"psks_terdata": 120, "ppks_terdata": 80}, "note": "rekap"},
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["created"], body["updated"], body["unchanged"]) == (2, 0, 0)
    assert [(i["variable"], i["owner_unit"], i["value"]) for i in body["items"]] == [
        ("ppks_terdata", "BID_RPJS", 80.0),
        ("psks_terdata", "BID_PSM", 120.0),
    ]
    assert response.headers["etag"]
    first_etag = response.headers["etag"]
    listed = client.get(
        "/api/v1/data-values", headers=agency_verifier, params={"year": YEAR, "quarter": 2}
    )
    assert listed.headers["etag"] == first_etag
    # Nothing changed since first_etag: a write of some variables goes through.
    again = client.put(
        f"/api/v1/data-values/{YEAR}/2",
        headers={**agency_verifier, "If-Match": first_etag},
        json={"values": {"psks_terdata": 120, "ppks_terdata": 81}},
    )
    assert again.status_code == 200, again.text
    body = again.json()
    assert (body["created"], body["updated"], body["unchanged"]) == (0, 1, 1)
    # The note was not sent, so the stored one stays.
    assert {i["variable"]: i["note"] for i in body["items"]} == {
        "ppks_terdata": "rekap",
        "psks_terdata": "rekap",
    }
    # first_etag is stale now, whichever variables the next writer sends.
    stale = client.put(
        f"/api/v1/data-values/{YEAR}/2",
        headers={**agency_verifier, "If-Match": first_etag},
        json={"values": {"psks_terdata": 1}},
    )
    assert_problem(stale, 412, "precondition_failed")
    assert stored(session)[(body["items"][1]["variable_id"], 2)] == 120.0
    current = client.get(
        "/api/v1/data-values", headers=agency_verifier, params={"year": YEAR, "quarter": 2}
    ).headers["etag"]
    assert current == again.headers["etag"] != first_etag


def test_put_is_all_or_nothing(client, session, agency_verifier):
    response = client.put(
        f"/api/v1/data-values/{YEAR}/1",
        headers=agency_verifier,
        json={"values": {"psks_terdata": 10, "ppks_terdata": -5, "nope": 1}},
    )
    body = assert_problem(response, 422, "invalid_input")
    assert {e["field"] for e in body["errors"]} == {"values.ppks_terdata", "values.nope"}
    assert stored(session) == {}


def test_operator_writes_only_its_units_variables(client, session, psm):
    response = client.put(
        f"/api/v1/data-values/{YEAR}/1",
        headers=psm,
        json={"values": {"psks_terdata": 10, "ppks_terdata": 5}},
    )
    body = assert_problem(response, 403, "forbidden")
    assert body["variables"] == ["ppks_terdata"]
    assert stored(session) == {}


def test_list_filters(client, session, agency_verifier, reader):
    client.put(
        f"/api/v1/data-values/{YEAR}/1",
        headers=agency_verifier,
        json={"values": {"psks_terdata": 1}},
    )
    client.put(
        f"/api/v1/data-values/{YEAR}/2",
        headers=agency_verifier,
        json={"values": {"psks_terdata": 2, "ppks_terdata": 3}},
    )
    everything = client.get("/api/v1/data-values", headers=reader).json()
    assert everything["total"] == 3
    assert [(i["variable"], i["quarter"]) for i in everything["items"]] == [
        ("ppks_terdata", 2),
        ("psks_terdata", 1),
        ("psks_terdata", 2),
    ]
    by_unit = client.get("/api/v1/data-values", headers=reader, params={"unit": "BID_PSM"}).json()
    assert by_unit["total"] == 2
    by_quarter = client.get(
        "/api/v1/data-values", headers=reader, params={"year": YEAR, "quarter": 2}
    ).json()
    assert by_quarter["total"] == 2
    by_variable = client.get(
        "/api/v1/data-values", headers=reader, params={"variable": "ppks_terdata"}
    ).json()
    assert by_variable["items"][0]["value"] == 3.0
    future = client.get(
        "/api/v1/data-values", headers=reader, params={"updated_since": "2999-01-01T00:00:00Z"}
    ).json()
    assert future["total"] == 0


ROWS = [
    {"variable": "psks_terdata", "year": YEAR, "quarter": 1, "value": 100},
    {"variable": "psks_diberdayakan", "year": YEAR, "quarter": 1, "value": 20, "note": "TW I"},
]


def test_json_import(client, session, agency_verifier):
    response = client.post(
        "/api/v1/data-values/import", headers=agency_verifier, json={"rows": ROWS}
    )
    assert response.status_code == 200, response.text
    assert response.json() == {
        "dry_run": False,
        "atomic": True,
        "created": 2,
        "updated": 0,
        "unchanged": 0,
        "skipped": 0,
        "rejected": 0,
        "errors": [],
    }
    assert len(stored(session)) == 2
    again = client.post(
        "/api/v1/data-values/import", headers=agency_verifier, json={"rows": ROWS}
    ).json()
    assert (again["created"], again["unchanged"]) == (0, 2)


def test_dry_run_stores_nothing(client, session, agency_verifier):
    response = client.post(
        "/api/v1/data-values/import?dry_run=true", headers=agency_verifier, json={"rows": ROWS}
    )
    body = response.json()
    assert (body["dry_run"], body["created"], body["rejected"]) == (True, 2, 0)
    assert stored(session) == {}


BAD_ROWS = [
    *ROWS,
    {"variable": "ppks_terdata", "year": YEAR, "quarter": 1, "value": 1.5},
    {"variable": "nope", "year": YEAR, "quarter": 1, "value": 1},
    {"variable": "ppks_terdata", "year": YEAR, "quarter": 7, "value": 1},
    {"variable": "ppks_terdata", "year": 2030, "quarter": 1, "value": 1},
    {"variable": "ppks_terdata", "year": YEAR, "quarter": 2, "value": "lima"},
    {"variable": "ppks_terdata", "year": YEAR, "quarter": 3},
    {"variable": "psks_terdata", "year": YEAR, "quarter": 1, "value": 5},
]


def test_atomic_import_rolls_back_everything(client, session, agency_verifier):
    response = client.post(
        "/api/v1/data-values/import", headers=agency_verifier, json={"rows": BAD_ROWS}
    )
    body = assert_problem(response, 422, "import_rejected")
    assert body["rejected"] == 7 and body["created"] == 0
    assert [(e["row"], e["code"], e["field"]) for e in body["errors"]] == [
        (3, "not_an_integer", "value"),
        (4, "unknown_variable", "variable"),
        (5, "invalid_quarter", "quarter"),
        (6, "year_not_in_decree", "year"),
        (7, "not_a_number", "value"),
        (8, "missing_field", "value"),
        (9, "duplicate_row", "variable"),
    ]
    assert stored(session) == {}


def test_non_atomic_import_keeps_the_valid_rows(client, session, agency_verifier):
    response = client.post(
        "/api/v1/data-values/import?atomic=false", headers=agency_verifier, json={"rows": BAD_ROWS}
    )
    assert response.status_code == 200
    body = response.json()
    assert (body["created"], body["rejected"]) == (2, 7)
    assert len(stored(session)) == 2


CSV = (
    "variable;year;quarter;value;note\npsks_terdata;2025;1;100;\npsks_diberdayakan;2025;1;20;TW I\n"
)


def test_csv_import_as_body_and_as_file(client, session, agency_verifier):
    response = client.post(
        "/api/v1/data-values/import",
        headers={**agency_verifier, "Content-Type": "text/csv"},
        content=CSV.encode(),
    )
    assert response.status_code == 200, response.text
    assert response.json()["created"] == 2
    upload = client.post(
        "/api/v1/data-values/import",
        headers=agency_verifier,
        files={
            "file": (
                "realisasi.csv",
                CSV.replace(";20;", ";25;").replace(";", ",").encode(),
                "text/csv",
            )
        },
    )
    assert upload.status_code == 200, upload.text
    assert (upload.json()["updated"], upload.json()["unchanged"]) == (1, 1)
    assert sorted(stored(session).values()) == [25.0, 100.0]


def test_csv_errors(client, session, agency_verifier):
    bad = "variable,year,quarter,value\npsks_terdata,2025,1,1.5\npsks_terdata,2025,x,1\n"
    response = client.post(
        "/api/v1/data-values/import",
        headers={**agency_verifier, "Content-Type": "text/csv"},
        content=bad,
    )
    body = assert_problem(response, 422, "import_rejected")
    assert [(e["row"], e["code"]) for e in body["errors"]] == [
        (1, "not_an_integer"),
        (2, "invalid_quarter"),
    ]
    no_header = client.post(
        "/api/v1/data-values/import",
        headers={**agency_verifier, "Content-Type": "text/csv"},
        content="a,b\n1,2\n",
    )
    assert assert_problem(no_header, 422, "invalid_input")["field"] == "header"
    assert stored(session) == {}


def test_import_refuses_other_media_and_malformed_json(client, agency_verifier, reader):
    assert_problem(
        client.post(
            "/api/v1/data-values/import",
            headers={**agency_verifier, "Content-Type": "application/xml"},
            content="<a/>",
        ),
        415,
        "unsupported_media_type",
    )
    assert_problem(
        client.post(
            "/api/v1/data-values/import",
            headers={**agency_verifier, "Content-Type": "application/json"},
            content="{",
        ),
        422,
        "invalid_input",
    )
    assert_problem(
        client.post("/api/v1/data-values/import", headers=agency_verifier, json={"rows": "x"}),
        422,
        "invalid_input",
    )
    assert_problem(
        client.post("/api/v1/data-values/import", headers=reader, json={"rows": ROWS}),
        403,
        "forbidden",
    )


def test_csv_numbers_that_a_spreadsheet_may_garble_are_refused(client, session, agency_verifier):
    csv_text = (
        "variable;year;quarter;value\n"
        "psks_terdata;2025;1;1.000\n"
        "psks_terdata;2025;2;1,5\n"
        "psks_terdata;2025;3;1_000\n"
        "psks_terdata;2025;4;12.5e1\n"
    )
    response = client.post(
        "/api/v1/data-values/import?atomic=false",
        headers={**agency_verifier, "Content-Type": "text/csv"},
        content=csv_text,
    )
    body = response.json()
    assert [(e["row"], e["code"]) for e in body["errors"]] == [
        (1, "ambiguous_number"),
        (2, "not_a_number"),
        (3, "not_a_number"),
    ]
    assert "1000" in body["errors"][0]["message"]
    assert "point" in body["errors"][1]["message"]
    assert body["created"] == 1  # 12.5e1 = 125
    assert list(stored(session).values()) == [125.0]


@pytest.mark.parametrize(
    ("row", "code"),
    [
        ({"variable": "psks_terdata", "year": "2025", "quarter": 1, "value": 1}, "invalid_year"),
        ({"variable": "psks_terdata", "year": 2025, "quarter": 1.0, "value": 1}, "invalid_quarter"),
        (
            {"variable": "psks_terdata", "year": 2025, "quarter": True, "value": 1},
            "invalid_quarter",
        ),
        ({"variable": "psks_terdata", "year": 2025, "quarter": 1, "value": "1"}, "not_a_number"),
        (
            {"variable": "psks_terdata", "year": 2025, "quarter": 1, "value": 10**400},
            "out_of_range",
        ),
        (
            {"variable": "psks_terdata", "year": 2025, "quarter": 1, "value": 1, "x": 1},
            "unknown_field",
        ),
        (1, "invalid_row"),
        (["psks_terdata", 2025, 1, 1], "invalid_row"),
    ],
)
def test_json_import_rows_of_the_wrong_type(client, session, agency_verifier, row, code):
    response = client.post(
        "/api/v1/data-values/import", headers=agency_verifier, json={"rows": [row]}
    )
    body = assert_problem(response, 422, "import_rejected")
    assert [e["code"] for e in body["errors"]] == [code]
    assert stored(session) == {}


def test_import_respects_operator_scope(client, session, psm):
    response = client.post(
        "/api/v1/data-values/import",
        headers=psm,
        json={
            "rows": [*ROWS, {"variable": "ppks_terdata", "year": YEAR, "quarter": 1, "value": 1}]
        },
    )
    body = assert_problem(response, 403, "forbidden")
    assert body["variables"] == ["ppks_terdata"]
    assert stored(session) == {}
    assert (
        client.post("/api/v1/data-values/import", headers=psm, json={"rows": ROWS}).status_code
        == 200
    )
