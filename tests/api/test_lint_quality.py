"""The lint of a decree reports the agency's data-quality rules that can never fire or always
fire for its definitions, and the rules whose findings touch none of its figures; the
seeded rules, which can fire, are not reported."""

from __future__ import annotations

from typing import Any

import pytest
from sqlmodel import select

from app.models import Variable

API = "/api/v1"


def lint(client, headers) -> list[dict[str, Any]]:
    decree = client.get(f"{API}/decrees", headers=headers, params={"year": 2025}).json()
    answer = client.get(f"{API}/decrees/{decree['items'][0]['id']}/lint", headers=headers)
    assert answer.status_code == 200, answer.text
    return answer.json()["findings"]


def about_rules(findings: list[dict[str, Any]]) -> dict[str, str]:
    return {f["rule"]: f["code"] for f in findings if f["rule"]}


def add_rule(client, headers, code: str, left: str, operator: str, right: str) -> None:
    body = {
        "agency": "DINSOSP3A",
        "code": code,
        "name": f"Aturan {code}",
        "left": left,
        "operator": operator,
        "right": right,
    }
    answer = client.post(f"{API}/quality-rules", headers=headers, json=body)
    assert answer.status_code == 201, answer.text


def test_the_seeded_rules_can_fire_and_are_not_reported(client, admin):
    rules = client.get(f"{API}/quality-rules", headers=admin).json()["items"]
    assert rules
    findings = lint(client, admin)
    assert about_rules(findings) == {}
    assert all(f["rule"] is None for f in findings)


@pytest.mark.parametrize(
    ("left", "operator", "right", "expected"),
    [
        ("ppks_terdata", "<=", "ppks_terdata", "quality_rule_never_fires"),
        ("ppks_terdata", ">", "(ppks_terdata)", "quality_rule_always_fires"),
        ("ppks_terdata", ">=", "0", "quality_rule_never_fires"),
        ("ppks_terdata", "<", "0", "quality_rule_always_fires"),
    ],
)
def test_a_rule_the_definitions_settle_is_reported(
    client, session, admin, left, operator, right, expected
):
    variable = session.exec(select(Variable).where(Variable.code == "ppks_terdata")).one()
    patched = client.patch(f"{API}/variables/{variable.id}", headers=admin, json={"min_value": 0})
    assert patched.status_code == 200, patched.text
    add_rule(client, admin, "aturan_uji", left, operator, right)
    findings = lint(client, admin)
    assert about_rules(findings) == {"aturan_uji": expected}
    (found,) = [f for f in findings if f["rule"]]
    assert found["severity"] == "warning" and "Aturan aturan_uji" in found["message"]


def test_a_range_decides_only_with_a_bound(client, session, admin):
    add_rule(client, admin, "aturan_uji", "ppks_terdata", ">=", "0")
    assert about_rules(lint(client, admin)) == {"aturan_uji": "quality_rule_never_fires"}
    variable = session.exec(select(Variable).where(Variable.code == "ppks_terdata")).one()
    unbound = client.patch(
        f"{API}/variables/{variable.id}", headers=admin, json={"min_value": None}
    )
    assert unbound.status_code == 200, unbound.text
    assert about_rules(lint(client, admin)) == {}


def test_a_rule_over_variables_outside_the_decree_is_reported(client, admin):
    variable = {
        "agency": "DINSOSP3A",
        "code": "ppks_dibantu",
        "label": "Jumlah PPKS yang mendapatkan bantuan sosial",
        "unit_of_measure": "orang",
        "aggregation": "sum",
        "owner_unit": "BID_RPJS",
    }
    assert client.post(f"{API}/variables", headers=admin, json=variable).status_code == 201
    add_rule(client, admin, "dibantu_maks", "ppks_dibantu", "<=", "1000")
    add_rule(client, admin, "dibantu_maks_terdata", "ppks_dibantu", "<=", "ppks_terdata")
    assert about_rules(lint(client, admin)) == {"dibantu_maks": "quality_rule_outside_decree"}


def test_two_constants_are_refused_before_the_lint_sees_them(client, admin):
    body = {
        "agency": "DINSOSP3A",
        "code": "konstanta",
        "name": "Konstanta",
        "left": "1",
        "operator": ">",
        "right": "2",
    }
    answer = client.post(f"{API}/quality-rules", headers=admin, json=body)
    assert answer.status_code == 422, answer.text
