"""POST /api/v1/formulas/check through HTTP: valid formulas, test values, refused formulas."""

import pytest

from app.models import Role
from tests.api.helpers import assert_problem

URL = "/api/v1/formulas/check"
KADIS_1_1 = "psks_diberdayakan / psks_terdata * 100"


def check(client, headers, expression, **extra):
    return client.post(URL, headers=headers, json={"expression": expression, **extra})


def test_valid_formula_with_description_latex_and_result(client, reader):
    response = check(
        client,
        reader,
        KADIS_1_1,
        agency="DINSOSP3A",
        values={"psks_diberdayakan": 45, "psks_terdata": 60},
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["valid"] is True
    assert body["variables"] == ["psks_diberdayakan", "psks_terdata"]
    assert "Jumlah PSKS yang mendapatkan Pemberdayaan Sosial" in body["description"]
    assert "Total Jumlah PSKS yang terdata" in body["description"]
    assert "\\frac" in body["latex"]
    assert body["result"]["status"] == "ok"
    assert body["result"]["value"] == pytest.approx(75.0)
    assert body["result"]["reason"] is None


def test_the_agency_may_be_left_out_while_there_is_only_one(client, reader):
    body = check(client, reader, KADIS_1_1).json()
    assert body["valid"] is True
    assert body["result"] is None


def test_the_agency_must_be_named_when_there_are_several(client, reader, admin):
    created = client.post(
        "/api/v1/agencies", headers=admin, json={"code": "DINKES", "name": "Dinas Kesehatan"}
    )
    assert created.status_code == 201, created.text
    body = assert_problem(check(client, reader, KADIS_1_1), 422, "invalid_input")
    assert body["field"] == "agency"
    assert check(client, reader, KADIS_1_1, agency="DINSOSP3A").status_code == 200
    # The new agency has no variables yet, so the same formula is unknown there.
    body = assert_problem(check(client, reader, KADIS_1_1, agency="DINKES"), 422, "invalid_formula")
    assert body["formula_error"] == "unknown_variable"


def test_zero_denominator_is_undefined_with_its_reason(client, reader):
    body = check(
        client, reader, KADIS_1_1, values={"psks_diberdayakan": 5, "psks_terdata": 0}
    ).json()
    assert body["result"]["status"] == "undefined"
    assert body["result"]["value"] is None
    assert body["result"]["reason"] == "division_by_zero"


def test_missing_values_are_named(client, reader):
    body = check(client, reader, KADIS_1_1, values={"psks_diberdayakan": 5}).json()
    assert body["valid"] is True
    assert body["result"]["status"] == "missing_values"
    assert body["result"]["value"] is None
    assert body["result"]["missing"] == ["psks_terdata"]
    assert "psks_terdata" in body["result"]["detail"]


def test_values_for_unknown_variables_are_refused(client, reader):
    body = assert_problem(
        check(client, reader, KADIS_1_1, values={"psks_diberdayakan": 5, "psks_terdat": 3}),
        422,
        "invalid_input",
    )
    assert body["field"] == "values"
    assert "psks_terdat" in body["detail"]


@pytest.mark.parametrize(
    ("expression", "formula_error", "offset", "name"),
    [
        ("psks_diberdayakan / psks_terdat * 100", "unknown_variable", 20, "psks_terdat"),
        ("psks_diberdayakan / (psks_terdata * 100", "syntax_error", None, None),
        ("psks_terdata.real", "not_allowed", 0, None),
        ("sqrt(psks_terdata)", "unknown_function", 0, "sqrt"),
        ("x" * 501, "too_long", None, None),
        ("psks_terdata * 1e16", "literal_too_large", 15, None),
        ("psks_terdata ** psks_diberdayakan", "exponent_not_allowed", 16, None),
        ("   ", "empty", None, None),
        ("1+" * 150 + "1", "too_complex", None, None),
        ("-" * 40 + "psks_terdata", "too_complex", None, None),
    ],
)
def test_each_refusal_is_a_422_with_its_position(
    client, reader, expression, formula_error, offset, name
):
    body = assert_problem(check(client, reader, expression), 422, "invalid_formula")
    assert body["formula_error"] == formula_error
    assert body["field"] == "expression"
    if offset is not None:
        assert body["offset"] == offset
        assert f"at character {offset + 1}" in body["detail"]
    if name is not None:
        assert body["name"] == name
        assert name in body["detail"]


def test_an_unknown_variable_suggests_the_close_one(client, reader):
    body = assert_problem(
        check(client, reader, "psks_diberdayakan / psks_terdat * 100"), 422, "invalid_formula"
    )
    assert "did you mean 'psks_terdata'" in body["detail"]


@pytest.mark.parametrize(
    "expression",
    [
        "__import__('os')",
        "__import__('os').system('id')",
        "().__class__.__bases__[0].__subclasses__()",
        "open('/etc/passwd')",
        "[x for x in (1, 2)]",
        "lambda: 1",
        "psks_terdata; import os",
        "f'{psks_terdata}'",
        "psks_terdata if (y := 1) else 0",
    ],
)
def test_hostile_expressions_are_refused(client, reader, expression):
    body = assert_problem(check(client, reader, expression), 422, "invalid_formula")
    assert body["formula_error"] in {
        "not_allowed",
        "unknown_function",
        "unknown_variable",
        "syntax_error",
    }


def test_unknown_agency_is_refused(client, reader):
    body = assert_problem(check(client, reader, KADIS_1_1, agency="NOPE"), 422, "invalid_input")
    assert body["field"] == "agency"
    assert "NOPE" in body["detail"]


def test_malformed_requests_are_validation_errors(client, reader):
    assert_problem(client.post(URL, headers=reader, json={}), 422, "validation_error")
    body = assert_problem(
        check(client, reader, KADIS_1_1, values={"psks_terdata": "banyak"}),
        422,
        "validation_error",
    )
    assert body["errors"][0]["field"] == "body.values.psks_terdata"
    assert_problem(check(client, reader, KADIS_1_1, extra=1), 422, "validation_error")


@pytest.mark.parametrize("role", list(Role))
def test_any_role_may_check(client, make_key, role):
    units = ("BID_PSM",) if role == Role.operator else ()
    response = check(client, make_key(role, units), KADIS_1_1)
    assert response.status_code == 200, response.text


def test_a_key_is_needed(client):
    assert_problem(check(client, {}, KADIS_1_1), 401, "unauthenticated")
