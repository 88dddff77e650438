"""The definitions write API through HTTP: create, change and delete, and the rules that keep
the definitions consistent (references, uniqueness, formulas, decree copy)."""

from typing import Any

import pytest
from sqlmodel import col, func, select

from app.models import DataValue, Indicator, IndicatorSourceUnit, Objective, Role, Target
from app.services import common
from tests.api.helpers import assert_problem

API = "/api/v1"


# Helpers -------------------------------------------------------------------------------------


def ok(response: Any, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response.json() if status != 204 else None


def create(client, headers, path: str, body: dict[str, Any]) -> dict[str, Any]:
    """POST a new resource; check the 201, its Location, and that GET answers the same."""
    response = client.post(f"{API}/{path}", headers=headers, json=body)
    created = ok(response, 201)
    assert response.headers["location"] == f"{API}/{path}/{created['id']}"
    assert ok(client.get(response.headers["location"], headers=headers)) == created
    return created


def get(client, headers, path: str, **params: Any) -> Any:
    return ok(client.get(f"{API}/{path}", headers=headers, params=params))


def one(client, headers, path: str, **params: Any) -> dict[str, Any]:
    items = get(client, headers, path, **params)["items"]
    assert len(items) == 1, items
    return items[0]


def indicator(client, headers, code: str, year: int = 2025) -> dict[str, Any]:
    items = get(client, headers, "indicators", q=code, year=year)["items"]
    return next(item for item in items if item["code"] == code)


def by_code(client, headers, path: str, code: str, **params: Any) -> dict[str, Any]:
    items = get(client, headers, path, limit=1000, **params)["items"]
    return next(item for item in items if item["code"] == code)


def seeded_objective(client, headers, position: str = "KADIS", number: int = 1) -> dict:
    items = get(client, headers, "objectives", position=position, year=2025)["items"]
    return next(o for o in items if o["number"] == number)


NEW_INDICATOR = {
    "code": "KADIS.1.6",
    "name": "Persentase PSKS yang berpartisipasi dalam pemberdayaan",
    "formula": "psks_berpartisipasi / psks_terdata * 100",
    "unit_of_measure": "%",
    "source_units": ["BID_PSM", "SEKRETARIAT"],
}


# Agencies ------------------------------------------------------------------------------------


def test_agency_create_change_delete(client, admin, reader):
    dinkes = create(
        client, admin, "agencies", {"code": "DINKES", "name": "Dinas Kesehatan", "phone": "1"}
    )
    assert (dinkes["code"], dinkes["name"], dinkes["phone"]) == ("DINKES", "Dinas Kesehatan", "1")
    url = f"{API}/agencies/{dinkes['id']}"

    changed = ok(client.patch(url, headers=admin, json={"name": "Dinas Kesehatan Kota"}))
    assert changed["name"] == "Dinas Kesehatan Kota" and changed["phone"] == "1"
    cleared = ok(client.patch(url, headers=admin, json={"phone": None}))
    assert cleared["phone"] is None and cleared["name"] == "Dinas Kesehatan Kota"
    assert ok(client.get(url, headers=reader)) == cleared

    ok(client.delete(url, headers=admin), 204)
    assert_problem(client.get(url, headers=reader), 404, "not_found")
    assert_problem(client.delete(url, headers=admin), 404, "not_found")


def test_agency_codes_are_unique_and_well_formed(client, admin):
    create(client, admin, "agencies", {"code": "DINKES", "name": "Dinas Kesehatan"})
    body = assert_problem(
        client.post(f"{API}/agencies", headers=admin, json={"code": "DINKES", "name": "X"}),
        409,
        "conflict",
    )
    assert body["field"] == "code" and "DINKES" in body["detail"]
    dinkes = by_code(client, admin, "agencies", "DINKES")
    assert_problem(
        client.patch(f"{API}/agencies/{dinkes['id']}", headers=admin, json={"code": "DINSOSP3A"}),
        409,
        "conflict",
    )
    for bad in ({"code": "dinkes", "name": "X"}, {"code": "DINKES2"}, {"code": "A", "name": ""}):
        assert_problem(
            client.post(f"{API}/agencies", headers=admin, json=bad), 422, "validation_error"
        )
    body = assert_problem(
        client.patch(f"{API}/agencies/{dinkes['id']}", headers=admin, json={"name": None}),
        422,
        "validation_error",
    )
    assert body["errors"][0]["field"] == "body.name"
    assert get(client, admin, "agencies")["total"] == 2


def test_an_agency_with_definitions_cannot_be_deleted(client, admin, reader):
    agency = by_code(client, reader, "agencies", "DINSOSP3A")
    body = assert_problem(
        client.delete(f"{API}/agencies/{agency['id']}", headers=admin), 409, "in_use"
    )
    assert set(body["references"]) == {"decrees", "units", "positions", "variables"}
    assert body["references"]["units"] == 6
    assert "BID_PSM" in body["detail"] and "2025" in body["detail"]
    assert get(client, reader, f"agencies/{agency['id']}")["code"] == "DINSOSP3A"


# Units ---------------------------------------------------------------------------------------


def test_unit_create_change_delete(client, admin, reader):
    unit = create(
        client, admin, "units", {"agency": "DINSOSP3A", "code": "UPTD_LKS", "name": "UPTD LKS"}
    )
    assert unit["agency"]["code"] == "DINSOSP3A"
    url = f"{API}/units/{unit['id']}"
    changed = ok(client.patch(url, headers=admin, json={"code": "UPTD_LIPONSOS"}))
    assert changed["code"] == "UPTD_LIPONSOS" and changed["name"] == "UPTD LKS"
    assert get(client, reader, "units", agency="DINSOSP3A")["total"] == 7
    ok(client.delete(url, headers=admin), 204)
    assert_problem(client.get(url, headers=reader), 404, "not_found")
    assert get(client, reader, "units", agency="DINSOSP3A")["total"] == 6


def test_unit_codes_are_unique_in_their_agency(client, admin):
    body = assert_problem(
        client.post(
            f"{API}/units",
            headers=admin,
            json={"agency": "DINSOSP3A", "code": "BID_PSM", "name": "X"},
        ),
        409,
        "conflict",
    )
    assert body["field"] == "code"
    create(client, admin, "agencies", {"code": "DINKES", "name": "Dinas Kesehatan"})
    create(client, admin, "units", {"agency": "DINKES", "code": "BID_PSM", "name": "Another"})
    sekretariat = by_code(client, admin, "units", "SEKRETARIAT", agency="DINSOSP3A")
    assert_problem(
        client.patch(f"{API}/units/{sekretariat['id']}", headers=admin, json={"code": "BID_PP"}),
        409,
        "conflict",
    )
    body = assert_problem(
        client.post(
            f"{API}/units", headers=admin, json={"agency": "NOPE", "code": "A", "name": "A"}
        ),
        422,
        "invalid_input",
    )
    assert body["field"] == "agency"


def test_a_unit_in_use_cannot_be_deleted(client, admin, make_key):
    psm = by_code(client, admin, "units", "BID_PSM", agency="DINSOSP3A")
    body = assert_problem(client.delete(f"{API}/units/{psm['id']}", headers=admin), 409, "in_use")
    assert set(body["references"]) == {"variables", "indicators (Sumber Data)"}
    assert "psks_terdata" in body["detail"] and "KADIS.1.1 (2025)" in body["detail"]

    spare = create(client, admin, "units", {"agency": "DINSOSP3A", "code": "SPARE", "name": "S"})
    make_key(Role.operator, ("SPARE",), name="spare-operator")
    body = assert_problem(client.delete(f"{API}/units/{spare['id']}", headers=admin), 409, "in_use")
    assert body["references"] == {"API keys": 1}
    assert "spare-operator" in body["detail"]
    assert get(client, admin, f"units/{spare['id']}")["code"] == "SPARE"


# Positions -----------------------------------------------------------------------------------


def test_position_create_change_delete(client, admin, reader):
    position = create(
        client,
        admin,
        "positions",
        {
            "agency": "DINSOSP3A",
            "code": "KASUBAG_UMUM",
            "title": "Kepala Sub Bagian Umum dan Kepegawaian",
            "echelon": "IV.a",
            "unit": "SEKRETARIAT",
            "superior": "SEKRETARIS",
            "duties": ["Melaksanakan urusan umum"],
        },
    )
    assert position["unit"]["code"] == "SEKRETARIAT"
    assert position["superior"]["code"] == "SEKRETARIS"
    assert position["duties"] == ["Melaksanakan urusan umum"] and position["functions"] == []
    url = f"{API}/positions/{position['id']}"
    changed = ok(
        client.patch(
            url, headers=admin, json={"superior": "KADIS", "unit": None, "functions": ["a", "b"]}
        )
    )
    assert changed["superior"]["code"] == "KADIS" and changed["unit"] is None
    assert changed["functions"] == ["a", "b"] and changed["duties"] == ["Melaksanakan urusan umum"]
    assert ok(client.get(url, headers=reader)) == changed
    ok(client.delete(url, headers=admin), 204)
    assert_problem(client.get(url, headers=reader), 404, "not_found")


def test_position_references_and_cycles_are_checked(client, admin):
    base = {"agency": "DINSOSP3A", "code": "STAF", "title": "Staf"}
    for extra, field in (({"unit": "NOPE"}, "unit"), ({"superior": "NOPE"}, "superior")):
        body = assert_problem(
            client.post(f"{API}/positions", headers=admin, json={**base, **extra}),
            422,
            "invalid_input",
        )
        assert body["field"] == field and "NOPE" in body["detail"]
    assert_problem(
        client.post(f"{API}/positions", headers=admin, json={**base, "code": "KADIS"}),
        409,
        "conflict",
    )
    kadis = by_code(client, admin, "positions", "KADIS")
    for superior in ("KADIS", "SEKRETARIS"):
        body = assert_problem(
            client.patch(
                f"{API}/positions/{kadis['id']}", headers=admin, json={"superior": superior}
            ),
            422,
            "invalid_input",
        )
        assert body["field"] == "superior"
    assert get(client, admin, f"positions/{kadis['id']}")["superior"] is None
    assert get(client, admin, "positions")["total"] == 5


def test_a_position_with_objectives_or_subordinates_cannot_be_deleted(client, admin):
    kadis = by_code(client, admin, "positions", "KADIS")
    body = assert_problem(
        client.delete(f"{API}/positions/{kadis['id']}", headers=admin), 409, "in_use"
    )
    assert body["references"] == {"objectives": 5, "subordinate positions": 4}
    assert "SEKRETARIS" in body["detail"] and "KADIS.1 (2025)" in body["detail"]


# Decrees -------------------------------------------------------------------------------------


DECREE_2026 = {
    "agency": "DINSOSP3A",
    "number": "000.8.6.3/01/425.109/2026",
    "title": "Indikator Kinerja Individu Tahun 2026",
    "date": "2026-01-05",
    "year": 2026,
}


def test_decree_create_change_delete(client, admin, reader):
    decree = create(client, admin, "decrees", DECREE_2026)
    assert decree["agency"]["code"] == "DINSOSP3A" and decree["year"] == 2026
    url = f"{API}/decrees/{decree['id']}"
    changed = ok(
        client.patch(url, headers=admin, json={"signatory": "Dr. REY", "date": "2026-01-06"})
    )
    assert changed["signatory"] == "Dr. REY" and changed["date"] == "2026-01-06"
    assert changed["number"] == DECREE_2026["number"]
    assert get(client, reader, "indicators", year=2026)["total"] == 0
    ok(client.delete(url, headers=admin), 204)
    assert_problem(client.get(url, headers=reader), 404, "not_found")


def test_one_decree_per_agency_and_year_and_number(client, admin):
    body = assert_problem(
        client.post(f"{API}/decrees", headers=admin, json={**DECREE_2026, "year": 2025}),
        409,
        "conflict",
    )
    assert body["field"] == "year" and "000.8.6.3/06/425.109/2025" in body["detail"]
    body = assert_problem(
        client.post(
            f"{API}/decrees",
            headers=admin,
            json={**DECREE_2026, "number": "000.8.6.3/06/425.109/2025"},
        ),
        409,
        "conflict",
    )
    assert body["field"] == "number"
    decree = create(client, admin, "decrees", DECREE_2026)
    assert_problem(
        client.patch(f"{API}/decrees/{decree['id']}", headers=admin, json={"year": 2025}),
        409,
        "conflict",
    )
    assert get(client, admin, "decrees")["total"] == 2
    assert get(client, admin, f"decrees/{decree['id']}")["year"] == 2026


def test_a_decree_with_objectives_cannot_be_deleted(client, admin):
    decree = one(client, admin, "decrees", year=2025)
    body = assert_problem(
        client.delete(f"{API}/decrees/{decree['id']}", headers=admin), 409, "in_use"
    )
    assert body["references"] == {"objectives": 16, "indicators": 39}
    assert get(client, admin, "indicators", year=2025)["total"] == 39


# Objectives ----------------------------------------------------------------------------------


def test_objective_create_change_delete(client, admin, reader):
    decree = create(client, admin, "decrees", DECREE_2026)
    objective = create(
        client,
        admin,
        "objectives",
        {
            "decree_id": decree["id"],
            "position": "KADIS",
            "number": 1,
            "statement": "Meningkatnya X.",
        },
    )
    assert objective["position"]["code"] == "KADIS"
    assert objective["decree"]["year"] == 2026 and objective["indicators"] == []
    url = f"{API}/objectives/{objective['id']}"
    changed = ok(client.patch(url, headers=admin, json={"position": "SEKRETARIS", "number": 2}))
    assert (changed["position"]["code"], changed["number"]) == ("SEKRETARIS", 2)
    assert changed["statement"] == "Meningkatnya X."
    assert get(client, reader, "objectives", decree_id=decree["id"])["total"] == 1
    ok(client.delete(url, headers=admin), 204)
    assert_problem(client.get(url, headers=reader), 404, "not_found")


def test_objective_rules(client, admin):
    seeded = seeded_objective(client, admin, "KADIS", 1)
    assert [i["code"] for i in seeded["indicators"]][:2] == ["KADIS.1.1", "KADIS.1.2"]
    decree_id = seeded["decree"]["id"]
    new = {"decree_id": decree_id, "position": "KADIS", "number": 1, "statement": "X"}
    body = assert_problem(
        client.post(f"{API}/objectives", headers=admin, json=new), 409, "conflict"
    )
    assert body["field"] == "number"
    for change, field in (({"position": "NOPE"}, "position"), ({"decree_id": 999999}, "decree_id")):
        body = assert_problem(
            client.post(f"{API}/objectives", headers=admin, json={**new, **change, "number": 9}),
            422,
            "invalid_input",
        )
        assert body["field"] == field
    body = assert_problem(
        client.delete(f"{API}/objectives/{seeded['id']}", headers=admin), 409, "in_use"
    )
    assert body["references"] == {"indicators": 5} and "KADIS.1.1" in body["detail"]
    assert get(client, admin, "objectives", year=2025)["total"] == 16


# Indicators ----------------------------------------------------------------------------------


def test_indicator_create_change_delete(client, admin, reader):
    objective = seeded_objective(client, admin, "KADIS", 1)
    created = create(
        client,
        admin,
        "indicators",
        {**NEW_INDICATOR, "objective_id": objective["id"], "parent": "KADIS.5.1"},
    )
    assert created["number"] == 6
    assert created["objective"]["id"] == objective["id"]
    assert created["decree"]["year"] == 2025 and created["position"]["code"] == "KADIS"
    assert [v["code"] for v in created["variables"]] == ["psks_berpartisipasi", "psks_terdata"]
    assert [u["code"] for u in created["source_units"]] == ["SEKRETARIAT", "BID_PSM"]
    assert created["parent"]["code"] == "KADIS.5.1"
    assert created["polarity"] == "higher_is_better" and created["decimals"] == 2
    assert get(client, reader, "indicators", position="KADIS")["total"] == 13

    url = f"{API}/indicators/{created['id']}"
    changed = ok(
        client.patch(
            url,
            headers=admin,
            json={
                "formula": "psks_diberdayakan / psks_terdata * 100",
                "polarity": "lower_is_better",
                "source_units": ["BID_PSM"],
                "parent": None,
            },
        )
    )
    assert [v["code"] for v in changed["variables"]] == ["psks_diberdayakan", "psks_terdata"]
    assert changed["polarity"] == "lower_is_better" and changed["parent"] is None
    assert [u["code"] for u in changed["source_units"]] == ["BID_PSM"]
    assert changed["name"] == NEW_INDICATOR["name"]
    assert ok(client.get(url, headers=reader)) == changed

    ok(client.delete(url, headers=admin), 204)
    assert_problem(client.get(url, headers=reader), 404, "not_found")
    assert get(client, reader, "indicators", position="KADIS")["total"] == 12


def test_an_invalid_formula_is_refused_naming_the_variable_and_offset(client, admin, session):
    objective = seeded_objective(client, admin)
    links = select(func.count()).select_from(IndicatorSourceUnit)
    links_before = session.exec(links).one()
    body = assert_problem(
        client.post(
            f"{API}/indicators",
            headers=admin,
            json={
                **NEW_INDICATOR,
                "objective_id": objective["id"],
                "formula": "psks_berpartisipasi / psks_terdat * 100",
            },
        ),
        422,
        "invalid_formula",
    )
    assert body["field"] == "formula"
    assert body["formula_error"] == "unknown_variable"
    assert body["name"] == "psks_terdat" and body["offset"] == 22
    assert "psks_terdat" in body["detail"] and "psks_terdata" in body["detail"]

    body = assert_problem(
        client.post(
            f"{API}/indicators",
            headers=admin,
            json={**NEW_INDICATOR, "objective_id": objective["id"], "formula": "__import__('os')"},
        ),
        422,
        "invalid_formula",
    )
    assert body["formula_error"] == "not_allowed" and body["offset"] == 0
    assert get(client, admin, "indicators", q="KADIS.1.6")["total"] == 0
    assert session.exec(links).one() == links_before


def test_a_formula_change_is_checked_and_a_refused_one_leaves_the_indicator(client, admin):
    kadis_1_1 = indicator(client, admin, "KADIS.1.1")
    url = f"{API}/indicators/{kadis_1_1['id']}"
    for formula, error in (
        ("psks_diberdayakan / jumlah_psks * 100", "unknown_variable"),
        ("psks_diberdayakan.__class__", "not_allowed"),
        ("psks_diberdayakan ** psks_terdata", "exponent_not_allowed"),
    ):
        body = assert_problem(
            client.patch(url, headers=admin, json={"formula": formula, "name": "Baru"}),
            422,
            "invalid_formula",
        )
        assert body["formula_error"] == error and body["offset"] is not None
    assert ok(client.get(url, headers=admin)) == kadis_1_1


def test_indicator_codes_are_unique_in_their_decree(client, admin):
    objective = seeded_objective(client, admin)
    body = assert_problem(
        client.post(
            f"{API}/indicators",
            headers=admin,
            json={**NEW_INDICATOR, "objective_id": objective["id"], "code": "KADIS.1.1"},
        ),
        409,
        "conflict",
    )
    assert body["field"] == "code" and "KADIS.1.1" in body["detail"]
    kadis_1_2 = indicator(client, admin, "KADIS.1.2")
    assert_problem(
        client.patch(
            f"{API}/indicators/{kadis_1_2['id']}", headers=admin, json={"code": "KADIS.1.1"}
        ),
        409,
        "conflict",
    )
    assert_problem(
        client.post(
            f"{API}/indicators",
            headers=admin,
            json={**NEW_INDICATOR, "objective_id": objective["id"], "code": "KADIS-1-6"},
        ),
        422,
        "validation_error",
    )


@pytest.mark.parametrize("code", ["KADIS.1.0", "KADIS.1.1000"])
def test_an_indicator_number_taken_from_its_code_must_be_one_of_the_sk(client, admin, code):
    # Found by the fuzzer: "A.0.0" was stored with number 0 and its answer failed (500).
    objective = seeded_objective(client, admin)
    body = assert_problem(
        client.post(
            f"{API}/indicators",
            headers=admin,
            json={**NEW_INDICATOR, "objective_id": objective["id"], "code": code},
        ),
        422,
        "validation_error",
    )
    assert "give `number`" in body["errors"][0]["message"]
    created = client.post(
        f"{API}/indicators",
        headers=admin,
        json={**NEW_INDICATOR, "objective_id": objective["id"], "code": code, "number": 7},
    )
    assert created.status_code == 201 and created.json()["number"] == 7


def test_indicator_references_stay_in_their_decree(client, admin):
    decree = create(client, admin, "decrees", DECREE_2026)
    other = create(
        client,
        admin,
        "objectives",
        {"decree_id": decree["id"], "position": "KADIS", "number": 1, "statement": "X"},
    )
    kadis_1_1 = indicator(client, admin, "KADIS.1.1")
    url = f"{API}/indicators/{kadis_1_1['id']}"
    body = assert_problem(
        client.patch(url, headers=admin, json={"objective_id": other["id"]}), 422, "invalid_input"
    )
    assert body["field"] == "objective_id"
    in_2026 = create(
        client,
        admin,
        "indicators",
        {**NEW_INDICATOR, "code": "KADIS.1.1", "objective_id": other["id"]},
    )
    body = assert_problem(
        client.patch(
            f"{API}/indicators/{in_2026['id']}", headers=admin, json={"parent": "KADIS.5.1"}
        ),
        422,
        "invalid_input",
    )
    assert body["field"] == "parent" and "2026" in body["detail"]
    for changes, field in (
        ({"source_units": ["BID_PSM", "NOPE"]}, "source_units"),
        ({"parent": "KADIS.1.1"}, "parent"),
    ):
        body = assert_problem(client.patch(url, headers=admin, json=changes), 422, "invalid_input")
        assert body["field"] == field
    kadis_5_1 = indicator(client, admin, "KADIS.5.1")
    body = assert_problem(
        client.patch(
            f"{API}/indicators/{kadis_5_1['id']}", headers=admin, json={"parent": "SEKRETARIS.1.1"}
        ),
        422,
        "invalid_input",
    )
    assert body["field"] == "parent"
    assert ok(client.get(url, headers=admin)) == kadis_1_1
    for bad in ({"decimals": 9}, {"polarity": "up"}, {"unit_of_measure": ""}, {"formula": None}):
        assert_problem(client.patch(url, headers=admin, json=bad), 422, "validation_error")


def test_an_indicator_with_children_targets_or_data_cannot_be_deleted(client, admin, session):
    kadis_5_1 = indicator(client, admin, "KADIS.5.1")
    body = assert_problem(
        client.delete(f"{API}/indicators/{kadis_5_1['id']}", headers=admin), 409, "in_use"
    )
    assert body["references"] == {"child indicators": 11}
    assert "SEKRETARIS.1.1" in body["detail"]

    kadis_1_1 = indicator(client, admin, "KADIS.1.1")
    session.add(Target(indicator_id=kadis_1_1["id"], year=2025, quarter=0, value=80))
    session.commit()
    body = assert_problem(
        client.delete(f"{API}/indicators/{kadis_1_1['id']}", headers=admin), 409, "in_use"
    )
    assert body["references"] == {"targets": 1} and "KADIS.1.1 2025 annual" in body["detail"]
    decree = one(client, admin, "decrees", year=2025)
    body = assert_problem(
        client.patch(f"{API}/decrees/{decree['id']}", headers=admin, json={"year": 2024}),
        409,
        "in_use",
    )
    assert body["references"] == {"targets": 1}
    assert get(client, admin, f"decrees/{decree['id']}")["year"] == 2025

    kadis_1_5 = indicator(client, admin, "KADIS.1.5")
    variable = kadis_1_5["variables"][0]
    session.add(DataValue(variable_id=variable["id"], year=2025, quarter=2, value=3))
    session.commit()
    body = assert_problem(
        client.delete(f"{API}/indicators/{kadis_1_5['id']}", headers=admin), 409, "in_use"
    )
    assert body["references"] == {"data values": 1}
    assert f"{variable['code']} 2025 Q2" in body["detail"]
    assert indicator(client, admin, "KADIS.1.5") == kadis_1_5


# Variables -----------------------------------------------------------------------------------


NEW_VARIABLE = {
    "agency": "DINSOSP3A",
    "code": "ppks_dibantu",
    "label": "Jumlah PPKS yang mendapatkan bantuan sosial",
    "unit_of_measure": "orang",
    "aggregation": "sum",
    "owner_unit": "BID_RPJS",
}


def test_variable_create_change_delete(client, admin, reader):
    variable = create(client, admin, "variables", NEW_VARIABLE)
    assert variable["owner_unit"]["code"] == "BID_RPJS"
    assert (variable["value_type"], variable["min_value"], variable["max_value"]) == (
        "integer",
        0,
        None,
    )
    url = f"{API}/variables/{variable['id']}"
    changed = ok(
        client.patch(
            url,
            headers=admin,
            json={"code": "ppks_menerima_bansos", "max_value": 5000, "owner_unit": "BID_PSM"},
        )
    )
    assert changed["code"] == "ppks_menerima_bansos" and changed["max_value"] == 5000
    assert changed["owner_unit"]["code"] == "BID_PSM" and changed["label"] == variable["label"]
    assert ok(client.get(url, headers=reader)) == changed
    ok(client.delete(url, headers=admin), 204)
    assert_problem(client.get(url, headers=reader), 404, "not_found")


def test_variable_rules(client, admin):
    body = assert_problem(
        client.post(
            f"{API}/variables", headers=admin, json={**NEW_VARIABLE, "code": "psks_terdata"}
        ),
        409,
        "conflict",
    )
    assert body["field"] == "code"
    for code in ("max", "if", "_rahasia", "PsksTerdata", "9lembaga"):
        body = assert_problem(
            client.post(f"{API}/variables", headers=admin, json={**NEW_VARIABLE, "code": code}),
            422,
            "validation_error",
        )
        assert body["errors"][0]["field"].startswith("body.code")
    body = assert_problem(
        client.post(
            f"{API}/variables",
            headers=admin,
            json={**NEW_VARIABLE, "min_value": 10, "max_value": 5},
        ),
        422,
        "validation_error",
    )
    assert body["errors"][0]["field"] == "body.max_value"

    create(client, admin, "agencies", {"code": "DINKES", "name": "Dinas Kesehatan"})
    create(client, admin, "units", {"agency": "DINKES", "code": "BID_P2P", "name": "P2P"})
    body = assert_problem(
        client.post(
            f"{API}/variables", headers=admin, json={**NEW_VARIABLE, "owner_unit": "BID_P2P"}
        ),
        422,
        "invalid_input",
    )
    assert body["field"] == "owner_unit" and "DINSOSP3A" in body["detail"]

    variable = create(client, admin, "variables", {**NEW_VARIABLE, "max_value": 100})
    body = assert_problem(
        client.patch(f"{API}/variables/{variable['id']}", headers=admin, json={"min_value": 101}),
        422,
        "invalid_input",
    )
    assert body["field"] == "min_value"
    assert get(client, admin, f"variables/{variable['id']}") == variable


def test_a_variable_used_by_a_formula_cannot_be_deleted_or_renamed(client, admin):
    terdata = by_code(client, admin, "variables", "psks_terdata")
    url = f"{API}/variables/{terdata['id']}"
    body = assert_problem(client.delete(url, headers=admin), 409, "in_use")
    # The seed's quality rules over it hold it too, named as the formulas are.
    assert body["references"] == {"formulas": 2, "quality rules": 2}
    assert "KADIS.1.1 (2025)" in body["detail"] and "KADIS.2.1 (2025)" in body["detail"]
    assert "psks_diberdayakan_maks_terdata" in body["detail"]

    body = assert_problem(
        client.patch(url, headers=admin, json={"code": "psks_tercatat"}), 409, "in_use"
    )
    assert "renamed" in body["detail"] and "KADIS.1.1 (2025)" in body["detail"]
    assert get(client, admin, f"variables/{terdata['id']}") == terdata
    assert (
        indicator(client, admin, "KADIS.1.1")["formula"] == "psks_diberdayakan / psks_terdata * 100"
    )
    # A change that keeps the code is fine.
    changed = ok(client.patch(url, headers=admin, json={"code": "psks_terdata", "label": "PSKS"}))
    assert changed["label"] == "PSKS"


def test_a_variable_with_data_keeps_it_valid(client, admin, session):
    variable = create(client, admin, "variables", {**NEW_VARIABLE, "value_type": "number"})
    session.add(DataValue(variable_id=variable["id"], year=2025, quarter=1, value=12.5))
    session.commit()
    url = f"{API}/variables/{variable['id']}"
    body = assert_problem(client.delete(url, headers=admin), 409, "in_use")
    assert body["references"] == {"data values": 1} and "2025 Q1" in body["detail"]
    body = assert_problem(client.patch(url, headers=admin, json={"max_value": 10}), 409, "conflict")
    assert body["field"] == "max_value"
    body = assert_problem(
        client.patch(url, headers=admin, json={"value_type": "integer"}), 409, "conflict"
    )
    assert body["field"] == "value_type"
    assert get(client, admin, f"variables/{variable['id']}") == variable
    assert ok(client.patch(url, headers=admin, json={"max_value": 12.5}))["max_value"] == 12.5


# Roles ---------------------------------------------------------------------------------------


WRITES = [
    ("post", "agencies"),
    ("patch", "agencies/1"),
    ("delete", "agencies/1"),
    ("post", "units"),
    ("patch", "units/1"),
    ("delete", "units/1"),
    ("post", "positions"),
    ("patch", "positions/1"),
    ("delete", "positions/1"),
    ("post", "decrees"),
    ("patch", "decrees/1"),
    ("delete", "decrees/1"),
    ("post", "decrees/1/copy"),
    ("post", "objectives"),
    ("patch", "objectives/1"),
    ("delete", "objectives/1"),
    ("post", "indicators"),
    ("patch", "indicators/1"),
    ("delete", "indicators/1"),
    ("post", "variables"),
    ("patch", "variables/1"),
    ("delete", "variables/1"),
]


@pytest.mark.parametrize("role", [Role.reader, Role.operator, Role.verifier])
def test_only_admins_write_definitions(client, make_key, role, admin):
    headers = make_key(role, ("BID_PSM",) if role == Role.operator else ())
    before = {path: get(client, admin, path)["total"] for path in ("agencies", "indicators")}
    for method, path in WRITES:
        kwargs = {} if method == "delete" else {"json": {"name": "Diubah", "code": "X"}}
        response = client.request(method.upper(), f"{API}/{path}", headers=headers, **kwargs)
        body = assert_problem(response, 403, "forbidden")
        assert "admin" in body["detail"]
        assert_problem(
            client.request(method.upper(), f"{API}/{path}", **kwargs), 401, "unauthenticated"
        )
    assert {path: get(client, admin, path)["total"] for path in before} == before
    assert get(client, admin, "agencies/1")["code"] == "DINSOSP3A"


# Decree copy ---------------------------------------------------------------------------------


def _definitions(session, decree_id: int) -> list[tuple[Any, ...]]:
    rows = session.exec(
        select(Indicator).where(Indicator.decree_id == decree_id).order_by(col(Indicator.id))
    )
    return [
        (i.id, i.code, i.formula, i.name, i.objective_id, i.parent_id, i.updated_at) for i in rows
    ]


def test_copying_a_decree_starts_next_year_from_it(client, admin, reader, session):
    source = one(client, reader, "decrees", year=2025)
    old_rows = _definitions(session, source["id"])
    old_objectives = session.exec(select(func.count()).select_from(Objective)).one()
    kadis_1_1 = indicator(client, reader, "KADIS.1.1")
    session.add(Target(indicator_id=kadis_1_1["id"], year=2025, quarter=0, value=80))
    session.commit()

    response = client.post(
        f"{API}/decrees/{source['id']}/copy",
        headers=admin,
        json={"number": "000.8.6.3/01/425.109/2026", "date": "2026-01-05", "year": 2026},
    )
    copy = ok(response, 201)
    assert response.headers["location"] == f"{API}/decrees/{copy['id']}"
    assert copy["id"] != source["id"] and copy["year"] == 2026
    assert copy["signatory"] == source["signatory"]
    assert copy["title"] == source["title"]  # the SK's title names no year

    old = get(client, reader, "indicators", year=2025, limit=1000)["items"]
    new = get(client, reader, "indicators", year=2026, limit=1000)["items"]
    assert len(new) == len(old) == 39
    assert [i["code"] for i in new] == [i["code"] for i in old]
    assert not {i["id"] for i in new} & {i["id"] for i in old}
    new_ids = {i["id"] for i in new}
    for before, after in zip(old, new, strict=True):
        for field in ("formula", "name", "explanation", "data_source", "polarity", "decimals"):
            assert after[field] == before[field]
        assert after["source_units"] == before["source_units"]
        assert (
            after["decree"]["id"] == copy["id"]
            and after["objective"]["id"] != before["objective"]["id"]
        )
        assert (after["parent"] is None) == (before["parent"] is None)
        if after["parent"]:
            assert after["parent"]["id"] in new_ids
            assert after["parent"]["code"] == before["parent"]["code"]
    assert get(client, reader, "objectives", year=2026)["total"] == 16
    assert session.exec(select(func.count()).select_from(Objective)).one() == old_objectives + 16

    # Targets and data are not copied; the old year's rows are untouched.
    new_kadis_1_1 = indicator(client, reader, "KADIS.1.1", year=2026)
    assert not session.exec(select(Target).where(Target.indicator_id == new_kadis_1_1["id"])).all()
    session.expire_all()
    assert _definitions(session, source["id"]) == old_rows

    # Editing the copy leaves the source alone.
    ok(
        client.patch(
            f"{API}/indicators/{new_kadis_1_1['id']}",
            headers=admin,
            json={"name": "Nama baru 2026", "formula": "psks_berpartisipasi / psks_terdata * 100"},
        )
    )
    assert indicator(client, reader, "KADIS.1.1") == kadis_1_1


def test_a_copy_into_a_year_that_has_a_decree_is_refused(client, admin, reader):
    source = one(client, reader, "decrees", year=2025)
    url = f"{API}/decrees/{source['id']}/copy"
    body = assert_problem(
        client.post(
            url, headers=admin, json={"number": "X/2025", "date": "2025-02-01", "year": 2025}
        ),
        409,
        "conflict",
    )
    assert body["field"] == "year"
    assert_problem(
        client.post(
            f"{API}/decrees/999999/copy",
            headers=admin,
            json={"number": "X", "date": "2026-01-01", "year": 2026},
        ),
        404,
        "not_found",
    )
    copy = ok(
        client.post(
            url,
            headers=admin,
            json={"number": "Y/2026", "date": "2026-01-01", "year": 2026, "title": "SK 2026"},
        ),
        201,
    )
    assert copy["title"] == "SK 2026"
    assert_problem(
        client.post(url, headers=admin, json={"number": "Z", "date": "2026-01-01", "year": 2026}),
        409,
        "conflict",
    )
    assert get(client, reader, "decrees")["total"] == 2
    assert get(client, reader, "indicators")["total"] == 78


# Robustness ----------------------------------------------------------------------------------


def test_a_race_past_the_checks_is_a_conflict_not_a_500(client, admin, monkeypatch):
    # As if a concurrent request inserted the same code between the check and the write.
    monkeypatch.setattr(common, "exists", lambda session, query: False)
    body = assert_problem(
        client.post(
            f"{API}/units",
            headers=admin,
            json={"agency": "DINSOSP3A", "code": "BID_PSM", "name": "X"},
        ),
        409,
        "conflict",
    )
    assert "BID_PSM" in body["detail"]
    assert get(client, admin, "units")["total"] == 6
    create(client, admin, "units", {"agency": "DINSOSP3A", "code": "BARU", "name": "Baru"})
    assert get(client, admin, "units")["total"] == 7


def test_write_routes_are_documented(client):
    spec = client.get("/openapi.json").json()
    tags = ("agencies", "units", "positions", "decrees", "objectives", "indicators", "variables")
    methods = ("post", "patch", "delete")
    checked: set[tuple[str, str]] = set()
    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            if method not in methods or "formulas" in path:
                continue
            authoring = set(tags) & set(operation["tags"])
            if not authoring:
                continue
            assert {"401", "403", "422", "409"} <= set(operation["responses"]), (method, path)
            assert operation["summary"] and operation["description"]
            checked |= {(tag, method) for tag in authoring}
    # Every authoring resource was checked: a renamed tag must not leave the loop empty.
    assert checked == {(tag, method) for tag in tags for method in methods}


def test_indicator_cascade_cycles_are_refused(client, session, admin):
    from tests.api.helpers import indicator_id

    kadis = indicator_id(session, "KADIS.5.1")  # SEKRETARIS.1.1 cascades to it
    for parent in ("KADIS.5.1", "SEKRETARIS.1.1"):
        response = client.patch(f"{API}/indicators/{kadis}", headers=admin, json={"parent": parent})
        assert response.status_code == 422, response.text
        assert response.json()["field"] == "parent"
    assert client.get(f"{API}/indicators/{kadis}", headers=admin).json()["parent"] is None
