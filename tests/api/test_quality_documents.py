"""Where the data-quality findings show in documents: the capaian report marks the figures
they touch, with a legend; the unit's realization template lists last quarter's findings on
its instructions sheet."""

from __future__ import annotations

import re

from sqlmodel import select

from app.models import Position
from tests.api.helpers import indicator_id
from tests.api.test_documents import _flat, _pdf_text
from tests.api.test_quality import clean_values
from tests.api.test_workbooks import workbook

API = "/api/v1"
YEAR = 2025
PLANTED = {"ppks_rehabilitasi": 67, "ppks_terdata": 40}  # KADIS.1.2: 67 served of 40 registered


def put_values(client, headers, quarter: int, values: dict[str, float]) -> None:
    answer = client.put(
        f"{API}/data-values/{YEAR}/{quarter}", headers=headers, json={"values": values}
    )
    assert answer.status_code == 200, answer.text


def report_rows(client, session, headers, quarter: int = 1, **params: str) -> dict[str, str]:
    kadis = session.exec(select(Position).where(Position.code == "KADIS")).one()
    page = client.get(
        f"{API}/positions/{kadis.id}/report",
        headers=headers,
        params={"year": YEAR, "quarter": quarter, **params},
    )
    assert page.status_code == 200, page.text
    rows = re.findall(r'<tbody class="indicator">(.*?)</tbody>', page.text, re.S)
    by_code = {re.search(r"(KADIS\.\d+\.\d+)", row).group(1): row for row in rows}
    by_code["legend"] = "".join(re.findall(r'<p class="legend">(.*?)</p>', page.text, re.S))
    return by_code


def test_the_report_marks_the_flagged_figures(client, session, admin):
    target = client.put(
        f"{API}/indicators/{indicator_id(session, 'KADIS.1.2')}/targets/{YEAR}",
        headers=admin,
        json={"annual": 20},
    )
    assert target.status_code == 200, target.text
    # A clean quarter of the unit: nothing marked, no legend.
    answer = client.put(
        f"{API}/data-values/{YEAR}/1",
        headers=admin,
        json={"values": clean_values(client, admin, "BID_RPJS"), "evidence": "Register TW I"},
    )
    assert answer.status_code == 200, answer.text
    clean = report_rows(client, session, admin)
    assert 'class="flag"' not in clean["KADIS.1.2"]
    assert "20,00" in clean["KADIS.1.2"]
    put_values(client, admin, 1, PLANTED)
    rows = report_rows(client, session, admin)
    flagged = rows["KADIS.1.2"]
    # The realisasi and the capaian are marked, and the row says what was found.
    marks = re.findall(r'<td class="number">[^<]*<sup class="flag">\*</sup></td>', flagged)
    assert len(marks) == 2
    item = client.get(
        f"{API}/achievements",
        headers=admin,
        params={"year": YEAR, "quarter": 1, "indicator": "KADIS.1.2"},
    ).json()["items"][0]
    counts = item["quality"]
    assert counts["error"] == 2
    said = f"Ditandai pemeriksaan kualitas data: {counts['error']} galat"
    if counts["warning"]:
        said += f", {counts['warning']} peringatan"
    assert said + " (galat belum dijelaskan)" in flagged
    assert "Ditandai pemeriksaan kualitas data" in rows["legend"]
    # A figure no finding touches is not marked.
    untouched = [
        code for code, row in rows.items() if code != "legend" and 'class="flag"' not in row
    ]
    assert untouched

    kadis = session.exec(select(Position).where(Position.code == "KADIS")).one()
    pdf = client.get(
        f"{API}/positions/{kadis.id}/report",
        headers=admin,
        params={"year": YEAR, "quarter": 1, "format": "pdf"},
    )
    assert _flat(said) in _pdf_text(pdf)


def instructions(client, headers, unit: str, quarter: int) -> list[str]:
    book = workbook(
        client.get(
            f"{API}/units/{unit}/realization-template.xlsx",
            headers=headers,
            params={"year": YEAR, "quarter": quarter},
        )
    )
    return [row[0].value or "" for row in book["Petunjuk"].iter_rows()]


def test_the_template_lists_last_quarters_findings(client, admin):
    put_values(client, admin, 1, PLANTED)
    checks = client.get(f"{API}/periods/{YEAR}/1/units/BID_RPJS/checks", headers=admin).json()
    assert checks["findings"]
    lines = instructions(client, admin, "BID_RPJS", 2)
    (heading,) = [i for i, line in enumerate(lines) if "Temuan pemeriksaan kualitas data" in line]
    assert "Triwulan I Tahun 2025" in lines[heading]
    listed = lines[heading + 1 : heading + 1 + len(checks["findings"])]
    labels = {"error": "GALAT", "warning": "PERINGATAN", "info": "INFO"}
    assert listed == [f"• [{labels[f['severity']]}] {f['message']}" for f in checks["findings"]]


def test_the_template_of_a_first_quarter_reads_last_years_fourth(client, admin):
    lines = instructions(client, admin, "BID_RPJS", 1)
    assert any("Triwulan IV Tahun 2024" in line and "tidak ada temuan" in line for line in lines), (
        lines
    )


def test_the_template_shows_the_findings_a_verifier_saw(client, admin, rpjs, verifier):
    put_values(client, rpjs, 1, PLANTED)
    checks = client.get(f"{API}/periods/{YEAR}/1/units/BID_RPJS/checks", headers=rpjs).json()
    explanations = {
        f["key"]: "Termasuk PPKS luar kota" for f in checks["findings"] if f["severity"] == "error"
    }
    for action, headers, body in (
        ("submit", rpjs, {"explanations": explanations}),
        ("verify", verifier, None),
    ):
        answer = client.post(
            f"{API}/periods/{YEAR}/1/units/BID_RPJS/{action}", headers=headers, json=body
        )
        assert answer.status_code == 200, answer.text
    added = client.post(
        f"{API}/quality-rules",
        headers=admin,
        json={
            "agency": "DINSOSP3A",
            "code": "terdata_minimal",
            "name": "PPKS terdata paling sedikit 1000",
            "left": "ppks_terdata",
            "operator": ">=",
            "right": "1000",
        },
    )
    assert added.status_code == 201, added.text
    text = "\n".join(instructions(client, admin, "BID_RPJS", 2))
    assert "sebagaimana dilihat verifikator" in text
    assert "Penjelasan: Termasuk PPKS luar kota" in text
    assert "PPKS terdata paling sedikit 1000" not in text  # added after the verification
