"""Lookalike names in formulas: what is stored is what is evaluated, and one broken
definition never fails the pull of all the others."""

from __future__ import annotations

import pytest
from sqlmodel import select

from app.models import Indicator, Variable
from tests.api.helpers import assert_problem, indicator_id

API = "/api/v1"
LOOKALIKES = [
    "ｐsks_diberdayakan / psks_terdata * 100",
    "ᵖsks_diberdayakan * 100",
    "ａｂｓ(psks_terdata)",
    "proﬁl + 1",
]


@pytest.mark.parametrize("formula", LOOKALIKES)
def test_non_ascii_formulas_are_refused_where_they_are_written(client, session, admin, formula):
    ind = indicator_id(session, "KADIS.1.1")
    body = assert_problem(
        client.patch(f"{API}/indicators/{ind}", headers=admin, json={"formula": formula}),
        422,
        "invalid_formula",
    )
    assert body["formula_error"] == "not_ascii" and body["offset"] is not None
    check = client.post(f"{API}/formulas/check", headers=admin, json={"expression": formula})
    assert assert_problem(check, 422, "invalid_formula")["formula_error"] == "not_ascii"
    assert session.get(Indicator, ind).formula == "psks_diberdayakan / psks_terdata * 100"


def test_a_variable_a_stored_lookalike_formula_uses_stays_in_use(client, session, admin):
    # As a formula stored before the check existed would be: Python reads ｐ as p.
    indicator = session.exec(select(Indicator).where(Indicator.code == "KADIS.1.5")).one()
    variable = session.exec(select(Variable).where(Variable.code == "tmp_terkelola")).first()
    assert variable is not None, "KADIS.1.5 counts managed TMP"
    indicator.formula = indicator.formula.replace("tmp_terkelola", "ｔmp_terkelola")
    session.add(indicator)
    session.flush()
    renamed = client.patch(f"{API}/variables/{variable.id}", headers=admin, json={"code": "tmp_x"})
    assert_problem(renamed, 409, "in_use")
    assert_problem(client.delete(f"{API}/variables/{variable.id}", headers=admin), 409, "in_use")


def test_one_broken_definition_does_not_fail_the_pull(client, session, admin, reader):
    broken = session.exec(select(Indicator).where(Indicator.code == "KADIS.1.5")).one()
    broken.formula = "gone_variable * 100"  # as if the variable had been removed behind it
    session.add(broken)
    session.flush()
    pulled = client.get(f"{API}/achievements", headers=reader, params={"year": 2025, "limit": 100})
    assert pulled.status_code == 200, pulled.text
    items = {i["indicator"]["code"]: i for i in pulled.json()["items"]}
    assert len(items) == 39
    assert (items["KADIS.1.5"]["status"], items["KADIS.1.5"]["reason"]) == (
        "undefined",
        "invalid_definition",
    )
    assert items["KADIS.1.1"]["reason"] != "invalid_definition"
    csv = client.get(f"{API}/achievements", headers=reader, params={"year": 2025, "format": "csv"})
    assert csv.status_code == 200 and "invalid_definition" in csv.text
    realization = client.get(f"{API}/indicators/{broken.id}/realizations/2025/1", headers=reader)
    assert_problem(realization, 409, "invalid_definition")


@pytest.mark.parametrize(
    "link",
    [
        "ms-msdt:/id PCWDiagnostic",
        "search-ms:query=laporan",
        "ftp://files.example/b.pdf",
        "//host/x",
        "\\\\host\\share",
        "ｊａｖａｓｃｒｉｐｔ:alert(1)",
        "java\u200bscript:alert(1)",
        "https:///no-host",
        "data:text/html,<b>x</b>",
    ],
)
def test_evidence_links_are_http_urls_with_a_host(client, session, psm, link):
    ind = indicator_id(session, "KADIS.1.1")
    url = f"{API}/indicators/{ind}/realizations/2025/1"
    body = {"values": {"psks_terdata": 1}, "evidence": link}
    refused = assert_problem(client.put(url, headers=psm, json=body), 422, "validation_error")
    assert "http(s) URL with a host" in refused["detail"] + str(refused["errors"])
    rows = [{"variable": "psks_terdata", "year": 2025, "quarter": 1, "value": 1, "evidence": link}]
    imported = client.post(f"{API}/data-values/import", headers=psm, json={"rows": rows})
    assert assert_problem(imported, 422, "import_rejected")["errors"][0]["code"] == "unsafe_link"
    for fine in ("https://drive.example/bukti.pdf", "Arsip Bidang PSM", "Laporan: TW I"):
        body["evidence"] = fine
        assert client.put(url, headers=psm, json=body).status_code == 200
