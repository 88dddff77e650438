"""GET /decrees/{id}/lint on the seeded SK: every discrepancy the seed's notes record is found,
and every finding about the SK's definitions is recorded in a note."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import yaml
from sqlmodel import select

from app.models import Decree
from app.services.lint import lint_decree
from tests.api.helpers import assert_problem, indicator_id

SEED = Path(__file__).resolve().parents[2] / "seed" / "dinsosp3a-probolinggo"

FLOW = "sekitar 25%"
# (indicator, words of its note recording the discrepancy) -> the finding that reports it.
RECORDED: dict[tuple[str, str], str] = {
    ("KADIS.2.1", 'menyebut "Peningkatan"'): "change_name_over_proportion",
    ("KADIS.3.1", 'menyebut "Peningkatan"'): "change_name_over_proportion",
    ("KADIS.3.2", "tidak menyebut gender dan anak"): "subject_missing_from_label",
    ("KADIS.4.3", "tanpa menyebut anak"): "subject_missing_from_label",
    ("KADIS.5.1", FLOW): "flow_over_annual_stock",
    **{(f"SEKRETARIS.1.{n}", FLOW): "flow_over_annual_stock" for n in range(2, 10)},
    ("SEKRETARIS.1.8", "tersalin dari indikator 7"): "explanation_names_other_variable",
    ("SEKRETARIS.2.1", FLOW): "flow_over_annual_stock",
    ("SEKRETARIS.2.2", FLOW): "flow_over_annual_stock",
    ("SEKRETARIS.2.2", "tersalin dari indikator 1"): "explanation_names_other_variable",
    ("SEKRETARIS.2.2", "Sumber Data kosong"): "blank_data_source",
    ("KABID_PP.1.2", "tidak menyebut perempuan"): "subject_missing_from_label",
    ("KABID_PP.2.1", "menghitung perangkat daerah dan instansi"): "name_measure_differs",
    **{
        (f"KABID_RPJS.{n}", 'berbunyi "Jumlah ..."'): "count_name_over_percentage"
        for n in ("1.1", "1.2", "2.1", "4.1")
    },
    ("KABID_RPJS.3.1", 'berbunyi "Jumlah ..."'): "count_name_over_percentage",
    ("KABID_PPPHA.1.1", "dengan jumlah kegiatan pencegahan"): "ratio_units_differ",
    ("KABID_PPPHA.1.1", "tidak mengukur penurunan"): "change_name_over_proportion",
    ("KABID_PPPHA.1.2", "menghitung SDM"): "name_measure_differs",
    ("KABID_PPPHA.1.3", "tersalin dari indikator 1"): "explanation_names_other_variable",
    ("KABID_PPPHA.1.3", "Pembagian kasus dengan jumlah kegiatan"): "ratio_units_differ",
    ("KABID_PPPHA.1.3", 'menyebut "penurunan"'): "change_name_over_proportion",
    ("KABID_PPPHA.1.4", "menghitung SDM"): "name_measure_differs",
    ("KABID_PPPHA.2.5", "Pecahan dalam SK terbalik"): "explanation_fraction_inverted",
}
# What a note records that no rule can see in the definitions as stored.
NOT_DETECTABLE: dict[tuple[str, str], str] = {
    ("KADIS.2.1", "memakai variabel yang sama"): "a shared variable, no discrepancy",
    ("SEKRETARIS.1.9", "pergantian halaman"): "the SK's page layout",
    ("KABID_PP.1.1", "tidak mencetak nomor indikator"): "the SK's numbering",
    ("KABID_RPJS.1.1", "tidak mencetak nomor indikator"): "the SK's numbering",
    ("KABID_PPPHA.2.5", "tampak terpotong"): "a name cut short in print",
}
# Variables whose description records a discrepancy of the SK -> the finding that reports it.
VARIABLE_NOTES: dict[str, tuple[str, str]] = {
    "kasus_anak_tertangani": ("KADIS.4.3", "subject_missing_from_label"),
    "kasus_anak_diterima": ("KADIS.4.3", "subject_missing_from_label"),
    "kasus_kekerasan_anak_diselesaikan": ("KABID_PPPHA.1.3", "explanation_names_other_variable"),
    "kegiatan_pencegahan_kekerasan_anak": ("KABID_PPPHA.1.3", "explanation_names_other_variable"),
    "ketatalaksanaan_kebutuhan": ("SEKRETARIS.1.8", "explanation_names_other_variable"),
    "dokumen_pengendalian_wajib": ("SEKRETARIS.2.2", "explanation_names_other_variable"),
}
# Findings about the state of the data, not about the SK's text: recorded nowhere in notes.
STATE = {"no_target", "parent_inferred"}


def _seed_notes() -> dict[str, str]:
    decree = yaml.safe_load((SEED / "decree-2025.yaml").read_text(encoding="utf-8"))
    return {
        item["code"]: item["notes"]
        for objective in decree["objectives"]
        for item in objective["indicators"]
        if item.get("notes")
    }


def _decree_id(client, reader) -> int:
    found = client.get("/api/v1/decrees", params={"year": 2025}, headers=reader).json()
    return found["items"][0]["id"]


def _lint(client, reader) -> dict:
    response = client.get(f"/api/v1/decrees/{_decree_id(client, reader)}/lint", headers=reader)
    assert response.status_code == 200, response.text
    return response.json()


def test_the_mapping_quotes_the_seed_notes():
    notes = _seed_notes()
    for code, words in [*RECORDED, *NOT_DETECTABLE]:
        assert words in notes[code], (code, words)
    # Every note is accounted for, by a finding or as not detectable.
    assert {code for code, _ in [*RECORDED, *NOT_DETECTABLE]} == set(notes)
    variables = yaml.safe_load((SEED / "variables.yaml").read_text(encoding="utf-8"))
    # A description records a discrepancy where it says what the SK wrote, or stresses ANAK.
    recording = {
        v["code"]
        for v in variables["variables"]
        if "SK menulis" in (v.get("description") or "") or "ANAK" in (v.get("description") or "")
    }
    assert recording == set(VARIABLE_NOTES)


def test_seeded_decree_every_recorded_discrepancy_found(client, reader):
    findings = _lint(client, reader)["findings"]
    found = {(f["indicator"], f["code"]) for f in findings}
    missing = {key: code for key, code in RECORDED.items() if (key[0], code) not in found}
    assert not missing, missing
    missing_variables = {
        variable: key for variable, key in VARIABLE_NOTES.items() if key not in found
    }
    assert not missing_variables, missing_variables


def test_seeded_decree_every_finding_is_recorded(client, reader):
    findings = _lint(client, reader)["findings"]
    recorded = {(indicator, code) for (indicator, _), code in RECORDED.items()}
    unrecorded = [
        (f["indicator"], f["code"])
        for f in findings
        if f["code"] not in STATE and (f["indicator"], f["code"]) not in recorded
    ]
    assert unrecorded == []


def test_seeded_decree_report(client, reader):
    report = _lint(client, reader)
    assert report["decree"]["number"] == "000.8.6.3/06/425.109/2025"
    findings = report["findings"]
    by_code = Counter(f["code"] for f in findings)
    assert by_code["no_target"] == 39  # the seed sets no targets
    assert by_code["parent_inferred"] == 26  # the SK states no cascade link
    assert by_code["flow_over_annual_stock"] == 11
    assert report["summary"] == {"error": 13, "warning": 61, "info": 26, "total": 100}
    severities = Counter(f["severity"] for f in findings)
    assert severities == {k: v for k, v in report["summary"].items() if k != "total"}
    inferred = next(
        f for f in findings if f["indicator"] == "SEKRETARIS.1.1" and f["code"] == "parent_inferred"
    )
    assert inferred["severity"] == "info" and "KADIS.5.1" in inferred["message"]
    assert all(f["message"] and f["severity"] in {"error", "warning", "info"} for f in findings)


def test_unknown_decree_is_404(client, reader):
    assert_problem(client.get("/api/v1/decrees/999999/lint", headers=reader), 404, "not_found")


def test_lint_needs_a_key(client):
    assert_problem(client.get("/api/v1/decrees/1/lint"), 401, "unauthenticated")


def test_a_change_through_the_api_shows_in_the_next_lint(client, reader, admin, session):
    ident = indicator_id(session, "KADIS.1.1")
    before = {(f["indicator"], f["code"]) for f in _lint(client, reader)["findings"]}
    assert ("KADIS.1.1", "count_name_over_percentage") not in before
    assert ("KADIS.1.1", "no_target") in before
    renamed = client.patch(
        f"/api/v1/indicators/{ident}",
        json={"name": "Jumlah PSKS yang mendapatkan Pemberdayaan Sosial"},
        headers=admin,
    )
    assert renamed.status_code == 200, renamed.text
    target = client.put(
        f"/api/v1/indicators/{ident}/targets/2025", json={"annual": 40}, headers=admin
    )
    assert target.status_code == 200, target.text
    after = {(f["indicator"], f["code"]) for f in _lint(client, reader)["findings"]}
    assert after - before == {("KADIS.1.1", "count_name_over_percentage")}
    assert before - after == {("KADIS.1.1", "no_target")}


def test_lint_reads_a_fixed_number_of_queries(session, count_statements):

    decree = session.exec(select(Decree)).first()
    lint_decree(session, decree.id)
    # The decree, its indicators, the variables, the targets, the quality rules.
    assert count_statements.count <= 6, count_statements.statements
