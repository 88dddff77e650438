"""The printed documents: a position's IKI, the whole SK and the capaian report, in HTML and
PDF; the PDFs are read back with a text extractor."""

from __future__ import annotations

import io
import re
import sys

import pytest
from pypdf import PdfReader
from sqlmodel import Session, select

from app.models import DataValue, Decree, Position
from app.services.documents import indonesian_number
from tests.api.helpers import assert_problem, indicator_id

API = "/api/v1"


def _ids(session: Session) -> tuple[dict[str, int], int]:
    positions = {p.code: p.id or 0 for p in session.exec(select(Position))}
    decree = session.exec(select(Decree)).one()
    return positions, decree.id or 0


def _pdf_text(response) -> str:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/pdf"
    assert response.content.startswith(b"%PDF-")
    reader = PdfReader(io.BytesIO(response.content))
    return _flat(" ".join(page.extract_text() for page in reader.pages))


def _flat(text: str) -> str:
    # Without any whitespace: a line may wrap anywhere in a table cell (after "/" too).
    return re.sub(r"\s+", "", text)


def _iki_json(client, headers, position_id: int) -> dict:
    response = client.get(
        f"{API}/positions/{position_id}/iki",
        params={"year": 2025, "format": "json"},
        headers=headers,
    )
    assert response.status_code == 200, response.text
    return response.json()


def test_iki_answers_html_by_default_and_json_or_pdf_when_asked(client, session, reader):
    positions, _ = _ids(session)
    url = f"{API}/positions/{positions['KADIS']}/iki?year=2025"

    page = client.get(url, headers=reader)
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert "INDIKATOR KINERJA INDIVIDU (IKI)" in page.text
    assert "@page" in page.text and "size: A4 landscape" in page.text
    assert "table-header-group" in page.text

    as_json = client.get(url, headers={**reader, "Accept": "application/json"})
    assert as_json.headers["content-type"] == "application/json"
    assert as_json.json()["decree"]["number"] == "000.8.6.3/06/425.109/2025"
    browser = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
    assert (
        client.get(url, headers={**reader, "Accept": browser})
        .headers["content-type"]
        .startswith("text/html")
    )
    by_accept = client.get(url, headers={**reader, "Accept": "application/pdf"})
    assert by_accept.headers["content-type"] == "application/pdf"
    assert by_accept.headers["content-disposition"] == 'inline; filename="iki-KADIS-2025.pdf"'


@pytest.mark.parametrize("code", ["KADIS", "SEKRETARIS", "KABID_PP", "KABID_RPJS", "KABID_PPPHA"])
def test_every_indicator_is_in_its_pdf_with_formula_and_data_source(client, session, reader, code):
    positions, _ = _ids(session)
    doc = _iki_json(client, reader, positions[code])
    text = _pdf_text(
        client.get(f"{API}/positions/{positions[code]}/iki?year=2025&format=pdf", headers=reader)
    )
    assert _flat("INDIKATOR KINERJA INDIVIDU (IKI)") in text
    assert _flat(doc["position"]["title"]) in text
    indicators = [i for o in doc["objectives"] for i in o["indicators"]]
    assert indicators
    for indicator in indicators:
        assert _flat(indicator["name"]) in text, indicator["code"]
        for variable in indicator["variables"]:
            assert _flat(variable["label"]) in text, (indicator["code"], variable["code"])
        assert _flat(indicator["data_source"]) in text, indicator["code"]


def test_the_formula_is_a_fraction_in_the_html(client, session, reader):
    positions, _ = _ids(session)
    page = client.get(f"{API}/positions/{positions['KADIS']}/iki?year=2025", headers=reader).text
    assert (
        '<span class="frac"><span class="num"><span class="var">Jumlah PSKS yang mendapatkan '
        'Pemberdayaan Sosial</span></span><span class="den"><span class="var">Total Jumlah PSKS '
        "yang terdata</span></span></span> x 100%"
    ) in page
    for header in ("NO", "SASARAN KINERJA", "INDIKATOR KINERJA INDIVIDU", "SUMBER DATA"):
        assert f"<th>{header}</th>" in page
    assert "<th>(5)</th>" in page


def test_the_sk_document_has_the_decree_and_every_lampiran(client, session, reader):
    positions, decree_id = _ids(session)
    decree = client.get(f"{API}/decrees/{decree_id}", headers=reader).json()
    text = _pdf_text(client.get(f"{API}/decrees/{decree_id}/document?format=pdf", headers=reader))

    for expected in (
        "PEMERINTAH KOTA PROBOLINGGO",
        "Jalan Raya Dringu No. 13, Kota Probolinggo, Jawa Timur 67271",
        "Telepon (0335) 421431",
        "dinsosp3a@probolinggokota.go.id",
        "NOMOR: 000.8.6.3/06/425.109/2025",
        "Menimbang",
        "Mengingat",
        "MEMUTUSKAN",
        "Menetapkan",
        "Ditetapkan di Probolinggo",
        "pada tanggal 3 Januari 2025",
        decree["heading"],
        decree["signatory"],
        decree["signatory_rank"],
        f"NIP {decree['signatory_nip']}",
    ):
        assert _flat(expected) in text, expected
    for paragraph in decree["considerations"] + decree["legal_bases"]:
        assert _flat(paragraph) in text
    for clause in decree["clauses"]:
        assert _flat(clause["label"]) in text
        assert _flat(clause["text"]) in text
        for item in clause["items"]:
            assert _flat(item) in text
    # The lampiran follow, the head of the agency first.
    titles = [_iki_json(client, reader, positions[c])["position"]["title"] for c in positions]
    assert text.count(_flat("INDIKATOR KINERJA INDIVIDU (IKI)")) == len(positions)
    kadis = text.index(_flat(titles[0]))
    assert all(text.index(_flat(t)) >= kadis for t in titles)


def test_the_sk_html_has_one_page_per_lampiran(client, session, reader):
    _, decree_id = _ids(session)
    page = client.get(f"{API}/decrees/{decree_id}/document", headers=reader)
    assert page.headers["content-type"].startswith("text/html")
    assert page.text.count('<section class="page lampiran">') == 5
    assert ".page { break-before: page;" in page.text


def _set_data(client, session, admin) -> None:
    ind = indicator_id(session, "KADIS.1.1")
    put = client.put(f"{API}/indicators/{ind}/targets/2025", headers=admin, json={"annual": 40})
    assert put.status_code == 200, put.text
    for quarter, values in ((1, (30, 200)), (2, (55, 240))):
        response = client.put(
            f"{API}/indicators/{ind}/realizations/2025/{quarter}",
            headers=admin,
            json={
                "values": {"psks_diberdayakan": values[0], "psks_terdata": values[1]},
                "evidence": "https://example.org/bukti?tw=1&x=<b>"
                if quarter == 1
                else "Berita acara <i>TW II</i>",
            },
        )
        assert response.status_code == 200, response.text


def test_the_report_shows_the_numbers_of_achievements(client, session, reader, admin):
    _set_data(client, session, admin)
    positions, _ = _ids(session)
    achieved = client.get(
        f"{API}/achievements",
        params={"year": 2025, "quarter": 2, "position": "KADIS", "limit": 100},
        headers=reader,
    ).json()["items"]
    quarter_one = client.get(
        f"{API}/achievements",
        params={"year": 2025, "quarter": 1, "position": "KADIS", "limit": 100},
        headers=reader,
    ).json()["items"]
    url = f"{API}/positions/{positions['KADIS']}/report?year=2025&quarter=2"
    page = client.get(url, headers=reader)
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")

    rows = re.findall(r'<tbody class="indicator">(.*?)</tbody>', page.text, re.S)
    assert len(rows) == len(achieved) == 12
    for row, item, first in zip(rows, achieved, quarter_one, strict=True):
        places = item["indicator"]["decimals"]
        # (A figure the data-quality checks flagged carries a mark after its number.)
        numbers = re.findall(r'<td class="number">([^<]*)(?:<sup class="flag">\*</sup>)?</td>', row)
        assert numbers == [
            indonesian_number(item["target"], places),
            indonesian_number(first["quarter_realization"], places),
            indonesian_number(item["quarter_realization"], places),
            indonesian_number(item["realization"], places),
            indonesian_number(item["achievement"], 2),
        ], item["indicator"]["code"]
    kadis_1_1 = achieved[0]
    assert kadis_1_1["status"] == "ok"
    assert kadis_1_1["realization"] == pytest.approx(
        85 / 240 * 100
    )  # psks_terdata is a stock (last)
    assert "35,42" in rows[0] and "40,00" in rows[0] and "88,54" in rows[0]
    assert kadis_1_1["rating"]["color"] in rows[0]
    assert kadis_1_1["rating"]["label"] in rows[0]

    text = _pdf_text(client.get(url + "&format=pdf", headers=reader))
    for expected in ("35,42", "88,54", "Dr. REY SUWIGTYO, S.Sos., M.Si.", "NIP 19670711"):
        assert _flat(expected) in text
    assert _flat("s.d. Triwulan II") in text


def test_stored_text_is_escaped_and_only_web_evidence_is_a_link(client, session, reader, admin):
    _set_data(client, session, admin)
    ind = indicator_id(session, "KADIS.1.1")
    patched = client.patch(
        f"{API}/indicators/{ind}",
        headers=admin,
        json={"name": "<script>alert('x')</script> Persentase", "data_source": "<b>Bidang</b>"},
    )
    assert patched.status_code == 200, patched.text
    positions, decree_id = _ids(session)
    pages = [
        client.get(f"{API}/positions/{positions['KADIS']}/iki?year=2025", headers=reader).text,
        client.get(f"{API}/decrees/{decree_id}/document", headers=reader).text,
        client.get(
            f"{API}/positions/{positions['KADIS']}/report?year=2025&quarter=2", headers=reader
        ).text,
    ]
    for page in pages:
        assert "<script>" not in page
        assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; Persentase" in page
    assert "&lt;b&gt;Bidang&lt;/b&gt;" in pages[0]
    report = pages[2]
    assert '<a href="https://example.org/bukti?tw=1&amp;x=&lt;b&gt;">' in report
    assert "Berita acara &lt;i&gt;TW II&lt;/i&gt;" in report
    links = set(re.findall(r'<a href="([^"]*)"', report))
    assert links == {"https://example.org/bukti?tw=1&amp;x=&lt;b&gt;"}


def test_evidence_that_is_not_a_web_url_is_never_a_link(client, session, reader, admin):
    _set_data(client, session, admin)
    # Stored before links were checked (or by another path): still only text on the page.
    stored = session.exec(select(DataValue).where(DataValue.quarter == 2)).all()
    assert stored
    for row in stored:
        row.evidence = "javascript:alert(1)"
        session.add(row)
    session.flush()
    positions, _ = _ids(session)
    report = client.get(
        f"{API}/positions/{positions['KADIS']}/report?year=2025&quarter=2", headers=reader
    ).text
    assert "javascript:alert(1)" in report  # shown as text ...
    assert 'href="javascript' not in report  # ... never as a link


def test_pdf_without_weasyprint_is_a_clear_503(client, session, reader, monkeypatch):
    monkeypatch.setitem(sys.modules, "weasyprint", None)  # as if it could not load
    positions, decree_id = _ids(session)
    for url in (
        f"{API}/positions/{positions['KADIS']}/iki?year=2025&format=pdf",
        f"{API}/decrees/{decree_id}/document?format=pdf",
        f"{API}/positions/{positions['KADIS']}/report?year=2025&quarter=1&format=pdf",
    ):
        assert_problem(client.get(url, headers=reader), 503, "pdf_unavailable")
    html = client.get(f"{API}/decrees/{decree_id}/document", headers=reader)
    assert html.status_code == 200


def test_documents_need_a_key_and_an_existing_subject(client, session, reader):
    positions, decree_id = _ids(session)
    assert_problem(client.get(f"{API}/decrees/{decree_id}/document"), 401, "unauthenticated")
    assert_problem(client.get(f"{API}/decrees/99999/document", headers=reader), 404, "not_found")
    for url in (
        f"{API}/positions/{positions['KADIS']}/iki?year=2031",
        f"{API}/positions/{positions['KADIS']}/report?year=2031&quarter=1",
    ):
        assert_problem(client.get(url, headers=reader), 404, "year_not_in_decree")
    url = f"{API}/positions/99999/report?year=2025&quarter=1"
    assert_problem(client.get(url, headers=reader), 404, "not_found")
    assert_problem(
        client.get(
            f"{API}/positions/{positions['KADIS']}/report?year=2025&quarter=5", headers=reader
        ),
        422,
        "validation_error",
    )
    assert_problem(
        client.get(f"{API}/decrees/{decree_id}/document?format=doc", headers=reader),
        422,
        "validation_error",
    )


def test_openapi_documents_the_media_types(client):
    paths = client.get("/openapi.json").json()["paths"]
    iki = paths["/api/v1/positions/{position_id}/iki"]["get"]["responses"]
    assert set(iki["200"]["content"]) == {"application/json", "text/html", "application/pdf"}
    assert iki["200"]["content"]["application/json"]["schema"]["$ref"].endswith("IkiDocument")
    for path in ("/api/v1/decrees/{decree_id}/document", "/api/v1/positions/{position_id}/report"):
        responses = paths[path]["get"]["responses"]
        assert {"text/html", "application/pdf"} <= set(responses["200"]["content"])
        assert "503" in responses and "404" in responses
