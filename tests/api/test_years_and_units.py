"""One status per kind of missing thing, on every route: a year that no decree (SK) defines
answers 404 `year_not_in_decree`, a unit the agency does not have 404 `not_found`,
wherever the route takes them (path or query), and each route documents it."""

from __future__ import annotations

from typing import Any

import pytest

from app.models import Role
from tests.api.helpers import assert_problem, indicator_id

API = "/api/v1"
NO_SK = 2031  # a valid year of no decree
ONE = {"values": {"psks_terdata": 1}}
STEPS = ("submit", "verify", "return", "reopen")

# (method, path template, query, body): every operation of a year. `{ind}` is KADIS.1.1 (of
# the SK of 2025), `{pos}` KADIS's position, `{year}` and `{unit}` the year and unit sent.
OF_A_YEAR: list[tuple[str, str, dict[str, Any], Any]] = [
    ("GET", "/achievements", {"year": "{year}"}, None),
    ("GET", "/indicators/{ind}/achievements", {"year": "{year}"}, None),
    ("GET", "/indicators/{ind}/targets/{year}", {}, None),
    ("PUT", "/indicators/{ind}/targets/{year}", {}, {"annual": 1}),
    ("PUT", "/targets/{year}", {}, [{"indicator": "KADIS.1.1", "annual": 1, "quarters": {}}]),
    ("GET", "/indicators/{ind}/realizations/{year}/1", {}, None),
    ("PUT", "/indicators/{ind}/realizations/{year}/1", {}, ONE),
    ("GET", "/indicators/{ind}/realizations/{year}/1/history", {}, None),
    ("PUT", "/data-values/{year}/1", {}, ONE),
    ("GET", "/periods", {"year": "{year}"}, None),
    *[("POST", f"/periods/{{year}}/1/units/{{unit}}/{s}", {}, {"note": "x"}) for s in STEPS],
    ("GET", "/periods/{year}/1/units/{unit}/checks", {}, None),
    ("GET", "/reports/achievements.xlsx", {"year": "{year}"}, None),
    ("GET", "/units/{unit}/realization-template.xlsx", {"year": "{year}", "quarter": 1}, None),
    ("GET", "/positions/{pos}/iki", {"year": "{year}"}, None),
    ("GET", "/positions/{pos}/report", {"year": "{year}", "quarter": 1}, None),
]
OF_A_UNIT = [case for case in OF_A_YEAR if "{unit}" in case[1]]


def _call(client, headers, session, case, year, unit="BID_PSM"):
    method, template, query, body = case
    names = {
        "ind": indicator_id(session, "KADIS.1.1"),
        "pos": 1,
        "year": year,
        "unit": unit,
    }
    path = template.format(**names)
    params = {k: str(v).format(**names) for k, v in query.items()}
    return client.request(method, f"{API}{path}", headers=headers, params=params, json=body)


def _operation(case):
    method, template, _, _ = case
    named = {
        "{ind}": "{indicator_id}",
        "{pos}": "{position_id}",
        "{unit}/realization": "{code}/realization",
    }
    for ours, theirs in named.items():
        template = template.replace(ours, theirs)
    return method.lower(), f"{API}{template}".replace("/1/", "/{quarter}/").replace(
        "/1", "/{quarter}"
    )


@pytest.mark.parametrize("case", OF_A_YEAR, ids=lambda c: f"{c[0]} {c[1]}")
def test_a_year_of_no_decree_is_404_on_every_route_of_a_year(client, session, make_key, case):
    headers = make_key(Role.admin)
    body = assert_problem(_call(client, headers, session, case, NO_SK), 404, "year_not_in_decree")
    assert body["field"] == "year" and body["years"] == [2025], body
    assert str(NO_SK) in body["detail"]


@pytest.mark.parametrize("case", OF_A_YEAR, ids=lambda c: f"{c[0]} {c[1]}")
def test_the_year_of_the_decree_passes_that_check(client, session, make_key, case):
    """The same calls with the SK's year are not refused for their year (each may still be
    refused for another reason: a step the state does not allow)."""
    answer = _call(client, session=session, headers=make_key(Role.admin), case=case, year=2025)
    assert answer.status_code in (200, 409), answer.text
    if answer.status_code == 409:
        assert answer.json()["code"] == "invalid_transition"


@pytest.mark.parametrize("case", OF_A_UNIT, ids=lambda c: f"{c[0]} {c[1]}")
def test_a_unit_the_agency_lacks_is_404_on_every_route_of_a_unit(client, session, make_key, case):
    headers = make_key(Role.admin)
    body = assert_problem(_call(client, headers, session, case, 2025, "NOPE"), 404, "not_found")
    assert "NOPE" in body["detail"]
    # A year of no decree as well: the unit is what the path names first.
    assert_problem(_call(client, headers, session, case, NO_SK, "NOPE"), 404, "not_found")


def test_every_route_of_a_year_or_a_unit_is_in_the_table_and_documents_its_404(client):
    spec = client.get("/openapi.json").json()
    of_a_year, of_a_unit = set(), set()
    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            for parameter in operation.get("parameters", []):
                required = parameter["in"] == "path" or parameter.get("required")
                if parameter["name"] == "year" and required:
                    of_a_year.add((method, path))
                if parameter["in"] == "path" and "Unit code" in parameter.get("description", ""):
                    of_a_unit.add((method, path))
    assert of_a_year == {_operation(case) for case in OF_A_YEAR}
    assert of_a_unit == {_operation(case) for case in OF_A_UNIT}
    for method, path in of_a_year | of_a_unit:
        answers = spec["paths"][path][method]["responses"]
        described = answers["404"]["description"]
        if (method, path) in of_a_year:
            assert "`year_not_in_decree`" in described, (method, path)
        if (method, path) in of_a_unit:
            assert "`not_found`: the agency has no unit" in described, (method, path)
        assert "application/problem+json" in answers["404"]["content"]


@pytest.mark.parametrize(
    ("path", "params"),
    [
        ("decrees", {"year": NO_SK}),
        ("indicators", {"year": NO_SK}),
        ("objectives", {"year": NO_SK}),
        ("data-values", {"year": NO_SK}),
        ("seals/check", {"year": NO_SK}),
        ("indicators", {"unit": "NOPE"}),
        ("positions", {"unit": "NOPE"}),
        ("variables", {"unit": "NOPE"}),
        ("data-values", {"unit": "NOPE"}),
        ("periods", {"year": 2025, "unit": "NOPE"}),
        ("achievements", {"year": 2025, "unit": "NOPE"}),
    ],
)
def test_a_filter_only_narrows_a_list(client, make_key, path, params):
    """An optional filter that names nothing gives an empty list, never a 404."""
    answer = client.get(f"{API}/{path}", headers=make_key(Role.admin), params=params)
    assert answer.status_code == 200, answer.text
    assert answer.json()["total"] == 0 and answer.json()["items"] == []


def test_a_list_over_every_agency_needs_one_with_a_decree_of_the_year(client, make_key):
    """With two agencies, the pull of a year that one of them has a decree of is a list
    (empty for the other one); the year of neither is a 404."""
    admin = make_key(Role.admin)
    created = client.post(
        f"{API}/agencies", headers=admin, json={"code": "DINKES", "name": "Dinas Kesehatan"}
    )
    assert created.status_code == 201, created.text
    sk = {"agency": "DINKES", "number": "SK/2031", "date": "2031-01-02", "year": NO_SK}
    assert client.post(f"{API}/decrees", headers=admin, json=sk).status_code == 201
    pulled = client.get(
        f"{API}/achievements", headers=admin, params={"year": NO_SK, "agency": "DINSOSP3A"}
    )
    assert pulled.status_code == 200 and pulled.json()["total"] == 0, pulled.text
    body = assert_problem(
        client.get(f"{API}/achievements", headers=admin, params={"year": 2032}),
        404,
        "year_not_in_decree",
    )
    assert body["years"] == [2025, NO_SK]
    # A route of one agency asks that agency's decrees.
    body = assert_problem(
        client.put(
            f"{API}/data-values/{NO_SK}/1", headers=admin, params={"agency": "DINSOSP3A"}, json=ONE
        ),
        404,
        "year_not_in_decree",
    )
    assert body["years"] == [2025]
