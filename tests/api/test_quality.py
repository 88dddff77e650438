"""Data-quality checks through HTTP: each anomaly planted in a quarter of the seeded SK is
found with its code and values; a submit with errors is refused unless they are explained;
a verification keeps the findings its verifier saw; every write path leaves the checks
computed from what is stored; rules written by people are checked as formulas are."""

from __future__ import annotations

import io
from typing import Any

import pytest
from openpyxl import Workbook
from sqlmodel import col, select

from app.formula import parse
from app.lint import shape_of
from app.models import AuditEvent, Period, Role, SealedFigure
from tests.api.helpers import assert_problem, indicator_id
from tests.formula.test_hostile import HOSTILE

API = "/api/v1"
YEAR = 2025


def checks(client, headers, unit: str, quarter: int = 1) -> dict[str, Any]:
    answer = client.get(f"{API}/periods/{YEAR}/{quarter}/units/{unit}/checks", headers=headers)
    assert answer.status_code == 200, answer.text
    return answer.json()


def by_key(report: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {f["key"]: f for f in report["findings"]}


def errors(report: dict[str, Any]) -> list[str]:
    return [f["key"] for f in report["findings"] if f["severity"] == "error"]


def put_values(client, headers, quarter: int, values: dict[str, float], **more: Any) -> None:
    answer = client.put(
        f"{API}/data-values/{YEAR}/{quarter}", headers=headers, json={"values": values, **more}
    )
    assert answer.status_code == 200, answer.text


def step(client, headers, action: str, unit: str, quarter: int = 1, **body: Any):
    return client.post(
        f"{API}/periods/{YEAR}/{quarter}/units/{unit}/{action}",
        headers=headers,
        json=body or None,
    )


def period(client, headers, unit: str, quarter: int = 1) -> dict[str, Any]:
    answer = client.get(
        f"{API}/periods", headers=headers, params={"year": YEAR, "quarter": quarter, "unit": unit}
    )
    assert answer.status_code == 200, answer.text
    (item,) = answer.json()["items"]
    return item


def rule_body(**fields: Any) -> dict[str, Any]:
    return {
        "agency": "DINSOSP3A",
        "code": "tmp_terkelola_maks_terdata",
        "name": "TMP yang terkelola tidak melebihi TMP yang terdata",
        "left": "tmp_terkelola",
        "operator": "<=",
        "right": "tmp_terdata",
        **fields,
    }


# A quarter with every anomaly, and a clean one ---------------------------------------------------


def clean_values(client, headers, unit: str) -> dict[str, float]:
    """A value for each variable of the unit that an indicator uses: 100 for a denominator
    (read from the formula's shape), 20 for the rest: every share 20%."""
    indicators = client.get(
        f"{API}/indicators", headers=headers, params={"year": YEAR, "limit": 1000}
    ).json()["items"]
    own = {v["code"] for i in indicators for v in i["variables"] if v["owner_unit"]["code"] == unit}
    below = {c for i in indicators for c in shape_of(parse(i["formula"])).denominator}
    return {code: 100 if code in below else 20 for code in sorted(own)}


@pytest.mark.parametrize("unit", ["BID_RPJS", "BID_PSM", "SEKRETARIAT", "UPTD_PPA"])
def test_a_clean_quarter_has_no_finding(client, admin, unit):
    values = clean_values(client, admin, unit)
    # Documents counted are stored with their evidence (the Sekretariat's need it).
    put_values(client, admin, 1, values, evidence="Arsip unit, register TW I")
    report = checks(client, admin, unit)
    assert report["findings"] == [], report["findings"]
    assert report["summary"] == {
        "error": 0,
        "warning": 0,
        "info": 0,
        "total": 0,
        "unexplained_errors": 0,
    }
    assert (report["unit"], report["quarter"], report["state"]) == (unit, 1, "open")


# (unit, quarter checked, values by quarter, targets by indicator code, expected finding)
ANOMALIES = [
    pytest.param(
        "BID_RPJS",
        1,
        {1: {"ppks_rehabilitasi": 67, "ppks_terdata": 40}},
        {},
        {
            "key": "numerator_exceeds_denominator:KADIS.1.2",
            "severity": "error",
            "indicator": "KADIS.1.2",
            "values": {"ppks_rehabilitasi": 67, "ppks_terdata": 40},
            "figures": {"numerator": 67, "denominator": 40, "share": 167.5},
        },
        id="67-served-of-40-registered",
    ),
    pytest.param(
        "BID_RPJS",
        1,
        {1: {"ppks_rehabilitasi": 67, "ppks_terdata": 40}},
        {"KADIS.1.2": 80},
        {
            "key": "capaian_far_from_target:KADIS.1.2",
            "severity": "warning",
            "indicator": "KADIS.1.2",
            "values": {"ppks_rehabilitasi": 67, "ppks_terdata": 40},
            "figures": {"realization": 167.5, "target": 80, "achievement": 209.375},
        },
        id="capaian-209-percent",
    ),
    pytest.param(
        "BID_PSM",
        2,
        {1: {"psks_terdata": 200}, 2: {"psks_terdata": 90}},
        {},
        {
            "key": "stock_change:psks_terdata",
            "severity": "warning",
            "variable": "psks_terdata",
            "values": {"psks_terdata": 90},
            "figures": {"previous": 200, "change": -55, "limit": 50},
        },
        id="stock-fell-by-half",
    ),
    pytest.param(
        "BID_PSM",
        3,
        {
            1: {"psks_diberdayakan": 10},
            2: {"psks_diberdayakan": 12},
            3: {"psks_diberdayakan": 120},
        },
        {},
        {
            "key": "outlier:psks_diberdayakan",
            "severity": "warning",
            "variable": "psks_diberdayakan",
            "values": {"psks_diberdayakan": 120},
            "figures": {"median": 11, "deviation": 1},
        },
        id="ten-times-the-people",
    ),
    pytest.param(
        "BID_PSM",
        1,
        {1: {"psks_diberdayakan": 10}},
        {},
        {
            "key": "missing_value:psks_terdata",
            "severity": "warning",
            "variable": "psks_terdata",
            "values": {},
        },
        id="missing-value",
    ),
    pytest.param(
        "SEKRETARIAT",
        1,
        {1: {"laporan_bmd_tepat_waktu": 3, "laporan_bmd_wajib": 4}},
        {},
        {
            "key": "missing_evidence:laporan_bmd_tepat_waktu",
            "severity": "error",
            "variable": "laporan_bmd_tepat_waktu",
            "values": {"laporan_bmd_tepat_waktu": 3},
        },
        id="missing-evidence",
    ),
    pytest.param(
        "BID_PSM",
        1,
        {1: {"tmp_terkelola": 0, "tmp_terdata": 0}},
        {},
        {
            "key": "zero_denominator:KADIS.1.5",
            "severity": "warning",
            "indicator": "KADIS.1.5",
            "values": {"tmp_terkelola": 0, "tmp_terdata": 0},
        },
        id="zero-denominator",
    ),
    pytest.param(
        "BID_PSM",
        2,
        {
            1: {"psks_diberdayakan": 150, "psks_terdata": 200},
            2: {"psks_diberdayakan": 150, "psks_terdata": 200},
        },
        {},
        {
            "key": "rule_violated:psks_diberdayakan_maks_terdata",
            "severity": "error",
            "rule": "psks_diberdayakan_maks_terdata",
            "values": {"psks_diberdayakan": 300, "psks_terdata": 200},
            "figures": {"left": 300, "right": 200},
        },
        id="seeded-rule-year-to-date",
    ),
]


@pytest.mark.parametrize(("unit", "quarter", "values", "targets", "expected"), ANOMALIES)
def test_each_anomaly_is_found_with_its_code_and_values(
    client, admin, session, unit, quarter, values, targets, expected
):
    for code, target in targets.items():
        url = f"{API}/indicators/{indicator_id(session, code)}/targets/{YEAR}"
        assert client.put(url, headers=admin, json={"annual": target}).status_code == 200
    for in_quarter, written in values.items():
        put_values(client, admin, in_quarter, written)
    report = checks(client, admin, unit, quarter)
    finding = by_key(report).get(expected["key"])
    assert finding is not None, [f["key"] for f in report["findings"]]
    assert finding["code"] == expected["key"].split(":")[0]
    for name, value in expected.items():
        if name == "figures":
            assert {k: finding["figures"][k] for k in value} == pytest.approx(value)
        else:
            assert finding[name] == value, name
    assert finding["message"] and finding["explanation"] is None
    assert report["summary"][expected["severity"]] >= 1


def test_the_zero_denominator_names_the_status_the_capaian_will_have(client, admin):
    put_values(client, admin, 1, {"tmp_terkelola": 0, "tmp_terdata": 0})
    finding = by_key(checks(client, admin, "BID_PSM"))["zero_denominator:KADIS.1.5"]
    assert '"undefined"' in finding["message"] and "division_by_zero" in finding["message"]
    pulled = client.get(
        f"{API}/achievements",
        headers=admin,
        params={"year": YEAR, "quarter": 1, "indicator": "KADIS.1.5"},
    ).json()["items"][0]
    assert (pulled["status"], pulled["reason"]) == ("undefined", "division_by_zero")


def test_an_agencys_bands_are_its_own(client, admin, session):
    url = f"{API}/indicators/{indicator_id(session, 'KADIS.1.1')}/targets/{YEAR}"
    assert client.put(url, headers=admin, json={"annual": 10}).status_code == 200
    put_values(client, admin, 1, {"psks_diberdayakan": 30, "psks_terdata": 200})  # 15%: 150%
    put_values(client, admin, 2, {"psks_diberdayakan": 6, "psks_terdata": 90})  # down 55%
    assert "capaian_far_from_target:KADIS.1.1" not in by_key(checks(client, admin, "BID_PSM"))
    report = checks(client, admin, "BID_PSM", 2)  # 36 of 90 up to Q2: 400%
    assert {"capaian_far_from_target:KADIS.1.1", "stock_change:psks_terdata"} <= set(by_key(report))
    agency = client.get(f"{API}/agencies", headers=admin).json()["items"][0]
    assert (
        agency["quality_capaian_above"],
        agency["quality_capaian_below"],
        agency["quality_stock_change"],
    ) == (150, 50, 50)
    changed = client.patch(
        f"{API}/agencies/{agency['id']}",
        headers=admin,
        json={"quality_capaian_above": 500, "quality_stock_change": 60},
    )
    assert changed.status_code == 200, changed.text
    report = checks(client, admin, "BID_PSM", 2)
    assert not {"capaian_far_from_target:KADIS.1.1", "stock_change:psks_terdata"} & set(
        by_key(report)
    )
    refused = client.patch(
        f"{API}/agencies/{agency['id']}", headers=admin, json={"quality_stock_change": -1}
    )
    assert_problem(refused, 422, "validation_error")


def test_a_variable_marked_as_needing_evidence(client, admin, session):
    put_values(client, admin, 1, {"psks_terdata": 200})
    assert "missing_evidence:psks_terdata" not in by_key(checks(client, admin, "BID_PSM"))
    terdata = client.get(f"{API}/variables", headers=admin, params={"q": "psks_terdata"})
    variable = terdata.json()["items"][0]
    assert variable["needs_evidence"] is False
    url = f"{API}/variables/{variable['id']}"
    assert client.patch(url, headers=admin, json={"needs_evidence": True}).status_code == 200
    assert "missing_evidence:psks_terdata" in errors(checks(client, admin, "BID_PSM"))
    put_values(client, admin, 1, {"psks_terdata": 200}, evidence="https://siks.example/psks")
    assert "missing_evidence:psks_terdata" not in by_key(checks(client, admin, "BID_PSM"))


# Who may read the checks -----------------------------------------------------------------------


def test_an_operator_reads_its_own_units_checks_only(client, psm, rpjs, make_key):
    assert checks(client, psm, "BID_PSM")["unit"] == "BID_PSM"
    answer = client.get(f"{API}/periods/{YEAR}/1/units/BID_RPJS/checks", headers=psm)
    assert_problem(answer, 403, "forbidden")
    for role in (Role.reader, Role.auditor, Role.verifier, Role.admin):
        assert checks(client, make_key(role), "BID_RPJS")["unit"] == "BID_RPJS"
    answer = client.get(
        f"{API}/periods/{YEAR}/1/units/BID_RPJS/checks", headers=make_key(Role.viewer)
    )
    assert_problem(answer, 403, "forbidden")


def test_checks_of_what_does_not_exist_are_refused(client, admin):
    assert_problem(
        client.get(f"{API}/periods/2031/1/units/BID_PSM/checks", headers=admin),
        404,
        "year_not_in_decree",
    )
    body = assert_problem(
        client.get(f"{API}/periods/{YEAR}/1/units/BID_NOPE/checks", headers=admin),
        404,
        "not_found",
    )
    assert body["field"] == "unit"
    assert_problem(
        client.get(f"{API}/periods/{YEAR}/5/units/BID_PSM/checks", headers=admin),
        422,
        "validation_error",
    )


def _checks_queries(statements: list[str]) -> list[str]:
    """The statements of the checks themselves (not the key's lookup and use, nor savepoints)."""
    plumbing = ("SAVEPOINT", "RELEASE", "ROLLBACK", "PRAGMA", "SET LOCAL")
    return [s for s in statements if "api_key" not in s and not s.startswith(plumbing)]


@pytest.mark.usefixtures("forgetful")  # every read computes: the count is of a cold read
def test_the_checks_are_read_in_a_bounded_number_of_queries(client, admin, count_statements):
    count_statements.statements.clear()
    checks(client, admin, "BID_RPJS")
    empty = _checks_queries(count_statements.statements)
    for quarter in (1, 2, 3, 4):  # every variable of the unit, four quarters of values
        put_values(client, admin, quarter, clean_values(client, admin, "BID_RPJS"))
    count_statements.statements.clear()
    report = checks(client, admin, "BID_RPJS", 4)
    assert len(_checks_queries(count_statements.statements)) == len(empty) <= 10
    assert report["summary"]["total"] == 0


# Submit and verify -----------------------------------------------------------------------------


def test_a_submit_with_errors_is_refused_and_stores_nothing(client, session, rpjs):
    put_values(client, rpjs, 1, {"ppks_rehabilitasi": 67, "ppks_terdata": 40})
    before = session.exec(select(AuditEvent.id)).all()
    body = assert_problem(step(client, rpjs, "submit", "BID_RPJS"), 409, "quality_errors")
    assert body["total"] == 2
    assert [f["key"] for f in body["findings"]] == [
        "numerator_exceeds_denominator:KADIS.1.2",
        "rule_violated:ppks_rehabilitasi_maks_terdata",
    ]
    assert body["findings"][0]["values"] == {"ppks_rehabilitasi": 67, "ppks_terdata": 40}
    assert "numerator_exceeds_denominator:KADIS.1.2" in body["detail"]
    assert period(client, rpjs, "BID_RPJS")["state"] == "open"
    assert session.exec(select(AuditEvent.id)).all() == before
    # One error explained is not enough.
    explained = {"numerator_exceeds_denominator:KADIS.1.2": "Pendataan menyusul"}
    body = assert_problem(
        step(client, rpjs, "submit", "BID_RPJS", explanations=explained), 409, "quality_errors"
    )
    assert [f["key"] for f in body["findings"]] == ["rule_violated:ppks_rehabilitasi_maks_terdata"]


def test_the_refusal_lists_a_bounded_number_of_errors(client, session, admin, rpjs):
    for number in range(60):
        created = client.post(
            f"{API}/quality-rules",
            headers=admin,
            json=rule_body(
                code=f"aturan_{number}", left="ppks_rehabilitasi", right=f"{number} * 0"
            ),
        )
        assert created.status_code == 201, created.text
    put_values(client, rpjs, 1, {"ppks_rehabilitasi": 1, "ppks_terdata": 40})
    body = assert_problem(step(client, rpjs, "submit", "BID_RPJS"), 409, "quality_errors")
    assert body["total"] == 60
    assert len(body["findings"]) == 50
    assert "and 55 more" in body["detail"]


EXPLANATIONS = {
    "numerator_exceeds_denominator:KADIS.1.2": "Termasuk PPKS luar kota yang dilayani;\n"
    "pendataan SIKS-NG menyusul pada TW II",
    "rule_violated:ppks_rehabilitasi_maks_terdata": "Sama dengan di atas",
}


def test_a_submit_with_every_error_explained_is_accepted_and_keeps_them(
    client, session, rpjs, admin
):
    put_values(client, rpjs, 1, {"ppks_rehabilitasi": 67, "ppks_terdata": 40})
    answer = step(client, rpjs, "submit", "BID_RPJS", explanations=EXPLANATIONS)
    assert answer.status_code == 200, answer.text
    submitted = answer.json()
    assert submitted["state"] == "submitted"
    assert submitted["explanations"] == EXPLANATIONS
    stored = {f["key"]: f for f in submitted["findings"]}
    assert (
        stored["numerator_exceeds_denominator:KADIS.1.2"]["explanation"]
        == (EXPLANATIONS["numerator_exceeds_denominator:KADIS.1.2"])
    )
    assert stored["missing_value:ppks_perlindungan_jaminan"]["explanation"] is None
    # Each names the figures it touches.
    assert stored["rule_violated:ppks_rehabilitasi_maks_terdata"]["indicators"] == [
        "KADIS.1.2",
        "KADIS.1.3",
    ]
    assert stored["missing_value:ppks_perlindungan_jaminan"]["indicators"] == ["KADIS.1.3"]
    assert period(client, rpjs, "BID_RPJS") == submitted
    # The checks show the explanations with the findings.
    report = checks(client, rpjs, "BID_RPJS")
    assert report["state"] == "submitted"
    assert report["summary"]["unexplained_errors"] == 0
    assert by_key(report)["rule_violated:ppks_rehabilitasi_maks_terdata"]["explanation"] == (
        "Sama dengan di atas"
    )
    # The audit trail carries them.
    (event,) = session.exec(
        select(AuditEvent).where(AuditEvent.entity == "period", AuditEvent.action == "submit")
    ).all()
    assert event.after is not None and event.after["explanations"] == EXPLANATIONS
    assert len(event.after["findings"]) == len(submitted["findings"])


@pytest.mark.parametrize(
    ("explanations", "status", "code"),
    [
        ({"missing_value:psks_terdata": "bukan temuan unit ini"}, 422, "invalid_input"),
        ({"numerator_exceeds_denominator:KADIS.1.2": "ada\x07bel"}, 422, "validation_error"),
        ({"numerator_exceeds_denominator:KADIS.1.2": "   "}, 422, "validation_error"),
        ({"numerator_exceeds_denominator:KADIS.1.2": ""}, 422, "validation_error"),
        ({"numerator_exceeds_denominator:KADIS.1.2": "x" * 2001}, 422, "validation_error"),
        ({"bukan kunci": "teks"}, 422, "validation_error"),
        ({f"missing_value:v{n}": "teks" for n in range(501)}, 422, "validation_error"),
    ],
    ids=["unknown-key", "control-character", "blank", "empty", "too-long", "bad-key", "too-many"],
)
def test_bad_explanations_are_refused(client, session, rpjs, explanations, status, code):
    put_values(client, rpjs, 1, {"ppks_rehabilitasi": 67, "ppks_terdata": 40})
    before = session.exec(select(AuditEvent.id)).all()
    answer = step(client, rpjs, "submit", "BID_RPJS", explanations=explanations)
    assert_problem(answer, status, code)
    assert period(client, rpjs, "BID_RPJS")["state"] == "open"
    assert session.exec(select(AuditEvent.id)).all() == before


def test_explanations_belong_to_a_submit_or_a_verify(client, rpjs, verifier):
    put_values(client, rpjs, 1, {"ppks_rehabilitasi": 30, "ppks_terdata": 40})
    assert step(client, rpjs, "submit", "BID_RPJS").status_code == 200
    answer = step(
        client,
        verifier,
        "return",
        "BID_RPJS",
        note="Periksa",
        explanations={"missing_value:ppks_perlindungan_jaminan": "x"},
    )
    assert assert_problem(answer, 422, "invalid_input")["field"] == "explanations"


@pytest.fixture
def submitted(client, rpjs):
    """BID_RPJS Q1 submitted with two explained errors (and warnings)."""
    put_values(client, rpjs, 1, {"ppks_rehabilitasi": 67, "ppks_terdata": 40})
    answer = step(client, rpjs, "submit", "BID_RPJS", explanations=EXPLANATIONS)
    assert answer.status_code == 200, answer.text
    return answer.json()


def test_a_verification_keeps_the_findings_its_verifier_saw(
    client, session, admin, verifier, submitted
):
    seen = checks(client, verifier, "BID_RPJS")
    answer = step(client, verifier, "verify", "BID_RPJS")
    assert answer.status_code == 200, answer.text
    verified = answer.json()
    assert verified["state"] == "verified"
    assert verified["findings"] == seen["findings"]
    assert verified["explanations"] == EXPLANATIONS
    assert session.exec(select(SealedFigure)).all()  # and the figures are sealed

    # A later change of the rules, the bands or the definitions leaves them as they were.
    rules = client.get(
        f"{API}/quality-rules", headers=admin, params={"variable": "ppks_rehabilitasi"}
    ).json()["items"]
    for rule in rules:
        url = f"{API}/quality-rules/{rule['id']}"
        changed = client.patch(url, headers=admin, json={"operator": ">", "severity": "info"})
        assert changed.status_code == 200, changed.text
    created = client.post(
        f"{API}/quality-rules",
        headers=admin,
        json=rule_body(code="terdata_minimal", left="ppks_terdata", operator=">=", right="1000"),
    )
    assert created.status_code == 201, created.text
    agency = client.get(f"{API}/agencies", headers=admin).json()["items"][0]
    patched = client.patch(
        f"{API}/agencies/{agency['id']}", headers=admin, json={"quality_stock_change": 10}
    )
    assert patched.status_code == 200
    now = checks(client, admin, "BID_RPJS")
    assert now["findings"] != seen["findings"]
    assert "rule_violated:terdata_minimal" in by_key(now)
    assert period(client, admin, "BID_RPJS")["findings"] == seen["findings"]
    assert session.exec(select(Period)).one().findings == seen["findings"]
    # The audit trail holds them: the last step that changed them (here the submit: the
    # verify saw the same).
    kept = [
        event.after["findings"]
        for event in session.exec(
            select(AuditEvent).where(AuditEvent.entity == "period").order_by(col(AuditEvent.id))
        )
        if event.after and "findings" in event.after
    ]
    assert kept[-1] == seen["findings"]


def test_an_error_found_since_the_submit_is_explained_at_verify(
    client, session, admin, verifier, submitted
):
    created = client.post(
        f"{API}/quality-rules",
        headers=admin,
        json=rule_body(code="terdata_minimal", left="ppks_terdata", operator=">=", right="1000"),
    )
    assert created.status_code == 201
    body = assert_problem(step(client, verifier, "verify", "BID_RPJS"), 409, "quality_errors")
    assert [f["key"] for f in body["findings"]] == ["rule_violated:terdata_minimal"]
    assert period(client, admin, "BID_RPJS")["state"] == "submitted"
    # What was explained at submit is not explained again.
    again = {"numerator_exceeds_denominator:KADIS.1.2": "lagi"}
    assert_problem(
        step(client, verifier, "verify", "BID_RPJS", explanations=again), 422, "invalid_input"
    )
    late = {"rule_violated:terdata_minimal": "Aturan baru; data TW I sudah sesuai SIKS-NG"}
    answer = step(client, verifier, "verify", "BID_RPJS", explanations=late)
    assert answer.status_code == 200, answer.text
    verified = answer.json()
    assert verified["explanations"] == EXPLANATIONS | late
    assert (
        by_key(verified)["rule_violated:terdata_minimal"]["explanation"]
        == late["rule_violated:terdata_minimal"]
    )


def test_warnings_do_not_stop_a_quarter(client, rpjs, verifier):
    put_values(client, rpjs, 1, {"ppks_rehabilitasi": 30, "ppks_terdata": 40})
    report = checks(client, rpjs, "BID_RPJS")
    assert report["summary"]["error"] == 0 and report["summary"]["warning"] > 0
    assert step(client, rpjs, "submit", "BID_RPJS").status_code == 200
    verified = step(client, verifier, "verify", "BID_RPJS")
    assert verified.status_code == 200, verified.text
    assert len(verified.json()["findings"]) == report["summary"]["total"]
    assert verified.json()["explanations"] is None


def test_four_eyes_is_checked_before_quality(client, admin):
    put_values(client, admin, 1, {"ppks_rehabilitasi": 67, "ppks_terdata": 40})
    assert step(client, admin, "submit", "BID_RPJS", explanations=EXPLANATIONS).status_code == 200
    assert_problem(step(client, admin, "verify", "BID_RPJS"), 409, "self_verification")


# Every write path leaves the checks computed from what is stored ----------------------------------


def _xlsx(rows: list[tuple[str, int, int, float]]) -> bytes:
    book = Workbook()
    sheet = book.active
    sheet.append(["variable", "year", "quarter", "value"])
    for row in rows:
        sheet.append(list(row))
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def write_by(client, session, headers, path: str, values: dict[str, float]) -> None:
    rows = [(code, YEAR, 1, value) for code, value in values.items()]
    if path == "realization":
        url = f"{API}/indicators/{indicator_id(session, 'KADIS.1.2')}/realizations/{YEAR}/1"
        answer = client.put(url, headers=headers, json={"values": values})
    elif path == "data-values":
        answer = client.put(f"{API}/data-values/{YEAR}/1", headers=headers, json={"values": values})
    elif path == "json-import":
        body = {
            "rows": [
                dict(zip(("variable", "year", "quarter", "value"), r, strict=True)) for r in rows
            ]
        }
        answer = client.post(f"{API}/data-values/import", headers=headers, json=body)
    elif path == "csv-import":
        text = "variable;year;quarter;value\n" + "".join(
            f"{c};{y};{q};{v}\n" for c, y, q, v in rows
        )
        answer = client.post(
            f"{API}/data-values/import",
            headers={**headers, "Content-Type": "text/csv"},
            content=text.encode(),
        )
    else:
        answer = client.post(
            f"{API}/data-values/import",
            headers=headers,
            files={"file": ("tw1.xlsx", _xlsx(rows), "application/octet-stream")},
        )
    assert answer.status_code == 200, answer.text


@pytest.mark.parametrize(
    "path", ["realization", "data-values", "json-import", "csv-import", "xlsx-import"]
)
def test_every_write_path_leaves_the_checks_recomputed(client, session, rpjs, path):
    key = "numerator_exceeds_denominator:KADIS.1.2"
    write_by(client, session, rpjs, path, {"ppks_rehabilitasi": 30, "ppks_terdata": 40})
    assert key not in by_key(checks(client, rpjs, "BID_RPJS"))
    write_by(client, session, rpjs, path, {"ppks_rehabilitasi": 67})
    found = by_key(checks(client, rpjs, "BID_RPJS"))[key]
    assert found["values"] == {"ppks_rehabilitasi": 67, "ppks_terdata": 40}
    write_by(client, session, rpjs, path, {"ppks_terdata": 70})
    assert key not in by_key(checks(client, rpjs, "BID_RPJS"))


# Rules written by people: the API --------------------------------------------------------------


def test_a_rule_is_created_read_changed_and_deleted_by_an_admin(client, session, admin, reader):
    created = client.post(f"{API}/quality-rules", headers=admin, json=rule_body())
    assert created.status_code == 201, created.text
    rule = created.json()
    assert rule["variables"] == ["tmp_terkelola", "tmp_terdata"]
    assert (rule["period"], rule["severity"], rule["agency"]["code"]) == (
        "quarter",
        "error",
        "DINSOSP3A",
    )
    url = created.headers["Location"]
    assert url == f"{API}/quality-rules/{rule['id']}"
    read = client.get(url, headers=reader)
    assert read.status_code == 200 and read.json() == rule
    etag = read.headers["ETag"]
    assert created.headers["ETag"] == etag

    # It is checked: a quarter breaking it is found.
    put_values(client, admin, 1, {"tmp_terkelola": 12, "tmp_terdata": 10})
    finding = by_key(checks(client, admin, "BID_PSM"))["rule_violated:tmp_terkelola_maks_terdata"]
    assert finding["figures"] == {"left": 12, "right": 10}

    changed = client.patch(
        url,
        headers={**admin, "If-Match": etag},
        json={"severity": "warning", "right": "tmp_terdata + 5"},
    )
    assert changed.status_code == 200, changed.text
    assert changed.headers["ETag"] != etag
    assert changed.json()["severity"] == "warning"
    assert "rule_violated:tmp_terkelola_maks_terdata" not in by_key(
        checks(client, admin, "BID_PSM")
    )
    stale = client.patch(url, headers={**admin, "If-Match": etag}, json={"severity": "info"})
    assert_problem(stale, 412, "precondition_failed")
    assert_problem(
        client.delete(url, headers={**admin, "If-Match": etag}), 412, "precondition_failed"
    )
    assert client.get(url, headers=reader).json()["severity"] == "warning"
    deleted = client.delete(url, headers={**admin, "If-Match": changed.headers["ETag"]})
    assert deleted.status_code == 204
    assert_problem(client.get(url, headers=reader), 404, "not_found")
    actions = session.exec(
        select(AuditEvent.action)
        .where(AuditEvent.entity == "quality_rule", AuditEvent.entity_id == str(rule["id"]))
        .order_by(col(AuditEvent.id))
    ).all()
    assert actions == ["create", "update", "delete"]


def test_rules_are_listed_with_the_usual_envelope_and_filters(client, make_key):
    viewer = make_key(Role.viewer)
    everything = client.get(f"{API}/quality-rules", headers=viewer).json()
    assert everything["total"] == 7 and everything["limit"] == 100 and everything["offset"] == 0
    assert [r["code"] for r in everything["items"]] == sorted(
        r["code"] for r in everything["items"]
    )
    over = client.get(
        f"{API}/quality-rules", headers=viewer, params={"variable": "ppks_terdata"}
    ).json()
    assert [r["code"] for r in over["items"]] == [
        "ppks_perlindungan_maks_terdata",
        "ppks_rehabilitasi_maks_terdata",
    ]
    warnings = client.get(
        f"{API}/quality-rules", headers=viewer, params={"severity": "warning", "limit": 1}
    ).json()
    assert (warnings["total"], len(warnings["items"])) == (2, 1)
    assert (
        client.get(f"{API}/quality-rules", headers=viewer, params={"agency": "NOPE"}).json()[
            "total"
        ]
        == 0
    )
    assert (
        client.get(f"{API}/quality-rules", headers=viewer, params={"q": "kasus"}).json()["total"]
        == 2
    )


@pytest.mark.parametrize("role", [Role.viewer, Role.reader, Role.operator, Role.verifier])
def test_only_an_admin_writes_rules(client, make_key, role):
    headers = make_key(role, ("BID_PSM",) if role == Role.operator else ())
    assert_problem(
        client.post(f"{API}/quality-rules", headers=headers, json=rule_body()), 403, "forbidden"
    )


def test_a_rules_code_is_unique_in_its_agency(client, admin):
    assert client.post(f"{API}/quality-rules", headers=admin, json=rule_body()).status_code == 201
    body = assert_problem(
        client.post(f"{API}/quality-rules", headers=admin, json=rule_body()), 409, "conflict"
    )
    assert body["field"] == "code"


@pytest.mark.parametrize(
    ("fields", "status", "code", "field"),
    [
        ({"left": "tmp_terkelol"}, 422, "invalid_formula", "left"),
        ({"right": "tmp_terdata +"}, 422, "invalid_formula", "right"),
        ({"right": "ｔmp_terdata"}, 422, "invalid_formula", "right"),
        ({"left": "1", "right": "2"}, 422, "invalid_input", "left"),
        ({"operator": "=>"}, 422, "validation_error", None),
        ({"period": "month"}, 422, "validation_error", None),
        ({"code": "Bukan Kode"}, 422, "validation_error", None),
        ({"agency": "NOPE"}, 422, "invalid_input", "agency"),
    ],
)
def test_a_bad_rule_is_refused(client, admin, session, fields, status, code, field):
    before = session.exec(select(AuditEvent.id)).all()
    body = assert_problem(
        client.post(f"{API}/quality-rules", headers=admin, json=rule_body(**fields)), status, code
    )
    if field is not None:
        assert body["field"] == field
    assert session.exec(select(AuditEvent.id)).all() == before


@pytest.mark.parametrize(("expression", "formula_error"), HOSTILE)
def test_hostile_rule_expressions_get_the_refusals_of_hostile_formulas(
    client, admin, session, expression, formula_error
):
    """The formula engine's hostile cases, sent as a formula and as each side of a rule."""
    formula = client.patch(
        f"{API}/indicators/{indicator_id(session, 'KADIS.1.1')}",
        headers=admin,
        json={"formula": expression},
    )
    as_formula = formula.json()
    assert formula.status_code == 422, formula.text
    for side in ("left", "right"):
        answer = client.post(
            f"{API}/quality-rules", headers=admin, json=rule_body(**{side: expression})
        )
        body = answer.json()
        assert answer.status_code == 422, answer.text
        assert (body["code"], body.get("formula_error")) == (
            as_formula["code"],
            as_formula.get("formula_error"),
        )
        if body["code"] == "invalid_formula":
            assert body["field"] == side
            assert body["formula_error"] == formula_error
    assert client.get(f"{API}/quality-rules", headers=admin).json()["total"] == 7


def test_a_variable_a_rule_uses_is_protected_as_one_a_formula_uses(client, admin):
    variable = client.post(
        f"{API}/variables",
        headers=admin,
        json={
            "agency": "DINSOSP3A",
            "code": "tmp_dipugar",
            "label": "Jumlah TMP yang dipugar",
            "unit_of_measure": "TMP",
            "aggregation": "sum",
            "owner_unit": "BID_PSM",
        },
    ).json()
    rule = rule_body(code="tmp_dipugar_maks_terdata", left="tmp_dipugar")
    assert client.post(f"{API}/quality-rules", headers=admin, json=rule).status_code == 201
    url = f"{API}/variables/{variable['id']}"
    body = assert_problem(client.delete(url, headers=admin), 409, "in_use")
    assert body["references"] == {"quality rules": 1}
    assert "tmp_dipugar_maks_terdata" in body["detail"]
    body = assert_problem(
        client.patch(url, headers=admin, json={"code": "tmp_direhab"}), 409, "in_use"
    )
    assert "tmp_dipugar_maks_terdata" in body["detail"]
    assert client.get(url, headers=admin).json()["code"] == "tmp_dipugar"
