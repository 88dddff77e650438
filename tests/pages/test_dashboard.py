"""Dasbor: an agency's capaian for a year up to a quarter, as the API computes them, with its
filters, counts per predikat, charts and the documents it links to."""

from __future__ import annotations

import datetime as dt
import html
import io
import random
import re
from collections import Counter
from typing import Any

import pytest
from markupsafe import escape
from openpyxl import load_workbook
from sqlmodel import select

from app.models import Position, Role
from app.pages.web import STATES
from app.services.documents import STATUS_LABELS, indonesian_number
from app.services.imports import XLSX_TYPE
from tests.api.helpers import indicator_id
from tests.pages.test_sign_in import make_person, sign_in

API = "/api/v1"
YEAR = 2025
AGENCY = "DINSOSP3A"
SVG_NAMESPACES = {"http://www.w3.org/2000/svg", "http://www.w3.org/1999/xlink"}


@pytest.fixture
def reported(client, admin, psm, verifier) -> None:
    """The seeded agency with values for quarters 1 and 2 (a few variables never reported),
    targets for most indicators (some quarterly, some none), and BID_PSM's quarter 1
    submitted and verified: every status, several predikat and states occur."""
    rng = random.Random(19)
    variables = client.get(
        f"{API}/variables", headers=admin, params={"agency": AGENCY, "limit": 1000}
    ).json()["items"]
    never = {v["code"] for v in rng.sample(variables, 3)}
    for quarter in (1, 2):
        values = {}
        for variable in variables:
            if variable["code"] in never:
                continue
            value = (
                rng.randint(80, 200) if variable["aggregation"] == "last" else rng.randint(0, 60)
            )
            if variable["max_value"] is not None:
                value = min(value, int(variable["max_value"]))
            values[variable["code"]] = value
        answer = client.put(
            f"{API}/data-values/{YEAR}/{quarter}",
            headers=admin,
            params={"agency": AGENCY},
            json={"values": values},
        )
        assert answer.status_code == 200, answer.text
    indicators = client.get(
        f"{API}/indicators", headers=admin, params={"agency": AGENCY, "year": YEAR, "limit": 1000}
    ).json()["items"]
    items = []
    for indicator in indicators:
        draw = rng.random()
        if draw < 0.1:
            continue  # no target
        annual = rng.randint(20, 90)
        quarters = {q: round(annual * q / 4, 2) for q in (1, 2, 3, 4)} if draw < 0.5 else {}
        items.append({"indicator_id": indicator["id"], "annual": annual, "quarters": quarters})
    answer = client.put(f"{API}/targets/{YEAR}", headers=admin, json=items)
    assert answer.status_code == 200, answer.text
    for headers, step in ((psm, "submit"), (verifier, "verify")):
        answer = client.post(
            f"{API}/periods/{YEAR}/1/units/BID_PSM/{step}",
            headers=headers,
            json={"explanations": _explanations(client, psm)} if step == "submit" else None,
        )
        assert answer.status_code == 200, answer.text


def _explanations(client, headers) -> dict[str, str]:
    """An explanation for each error the checks of BID_PSM's quarter 1 find (submit asks)."""
    checks = client.get(f"{API}/periods/{YEAR}/1/units/BID_PSM/checks", headers=headers).json()
    return {f["key"]: "Sudah diperiksa." for f in checks["findings"] if f["severity"] == "error"}


def signed_in(client, session, role: Role = Role.viewer, units: tuple[str, ...] = ()) -> None:
    name = f"{role}-dasbor"
    make_person(session, name, role, units)
    assert sign_in(client, name).status_code == 303


def api_items(client, headers, quarter: int, **params: Any) -> list[dict[str, Any]]:
    body = client.get(
        f"{API}/achievements",
        headers=headers,
        params={"year": YEAR, "quarter": quarter, "agency": AGENCY, "limit": 1000, **params},
    ).json()
    assert body["total"] == len(body["items"])
    return body["items"]


ROW = re.compile(r'<tr class="indikator" data-indikator="(\d+)">(.*?)</tr>', re.S)


def rows(page: str) -> list[tuple[int, str]]:
    """The indicator rows of the page: (indicator id, the row's HTML)."""
    return [(int(ident), row) for ident, row in ROW.findall(page)]


def ids(page: str) -> int:
    """How many indicators the page shows (one of several units is under each)."""
    return len({ident for ident, _ in rows(page)})


def cell(row: str, name: str) -> str:
    found = re.search(rf'<td class="num {name}">([^<]*)</td>', row)
    assert found is not None, name
    return found.group(1)


def dashboard(client, **params: Any):
    page = client.get("/dasbor", params=params)
    assert page.status_code == 200, page.text
    assert page.headers["content-type"].startswith("text/html")
    return page.text


@pytest.mark.parametrize("quarter", [1, 2])
def test_the_rows_carry_the_numbers_of_the_api(client, session, reader, reported, quarter):
    signed_in(client, session, Role.viewer)
    page = dashboard(client, tahun=YEAR, triwulan=quarter)
    items = api_items(client, reader, quarter)
    by_quarter = [{i["indicator"]["id"]: i for i in api_items(client, reader, q)} for q in (1, 2)]
    shown = rows(page)
    assert {ident for ident, _ in shown} == {i["indicator"]["id"] for i in items}
    by_id = {i["indicator"]["id"]: i for i in items}
    assert {i["status"] for i in items} >= {"ok", "partial_data", "no_target"}
    # BID_PSM's quarter 1 is verified: its figures are, at quarter 1 (at 2, they are mixed).
    assert {i["verification"] for i in items} >= {"open", "verified" if quarter == 1 else "mixed"}
    for ident, row in shown:
        item = by_id[ident]
        places = item["indicator"]["decimals"]
        where = item["indicator"]["code"]
        assert cell(row, "target") == indonesian_number(item["target"], places), where
        assert cell(row, "realisasi") == indonesian_number(item["realization"], places), where
        assert cell(row, "capaian") == indonesian_number(item["achievement"], 2), where
        assert f'href="/indikator/{ident}?tahun={YEAR}"' in row
        assert str(escape(item["indicator"]["name"])) in row
        state = item["verification"]
        assert f'<span class="state state-{state}">{STATES[state]}</span>' in row
        assert f'<td class="status">{STATUS_LABELS[item["status"]]}' in row
        rating = item["rating"]
        if rating is None:
            assert 'class="predikat"' not in row
        else:
            swatch = f'<span class="predikat" style="--c: {rating["color"]}">{rating["label"]}'
            assert swatch in row, where
        # The trend: each quarter's capaian (year to date), as the API's quarter computes it.
        trend = re.findall(r'<td class="num tren[^"]*">([^<]*)</td>', row)
        assert len(trend) == 4 and trend[2:] == ["-", "-"]  # no data after quarter 2
        for at, found in zip(trend, by_quarter, strict=False):
            assert at == indonesian_number(found[ident]["achievement"], 1), where
    assert any("--c: #" in row for _, row in shown)  # some predikat is shown in its colour


def test_counts_per_predikat_add_up_to_the_indicators(client, session, reader, reported):
    signed_in(client, session, Role.verifier)
    page = dashboard(client, tahun=YEAR, triwulan=2)
    items = api_items(client, reader, 2)
    expected = Counter(i["rating"]["label"] for i in items if i["rating"])
    counts = {
        label: int(n)
        for label, n in re.findall(
            r'<tr class="predikat-count"><th scope="row"><span class="predikat"[^>]*>([^<]+)'
            r'</span></th><td class="num">(\d+)</td>',
            page,
        )
    }
    # Every band of the scale is listed, those without indicators at 0.
    assert list(counts) == ["Sangat Tinggi", "Tinggi", "Sedang", "Rendah", "Sangat Rendah"]
    assert {k: v for k, v in counts.items() if v} == dict(expected)
    without = re.search(r'<tr class="no-capaian">.*?<td class="num">(\d+)</td>', page, re.S)
    total = re.search(r'<tr class="total">.*?<td class="num">(\d+)</td>', page, re.S)
    assert without and total
    assert int(without.group(1)) == sum(1 for i in items if i["achievement"] is None) > 0
    assert sum(counts.values()) + int(without.group(1)) == int(total.group(1)) == len(items)


def test_filters_narrow_the_rows_as_the_api_does(client, session, reader, reported):
    signed_in(client, session, Role.viewer)
    everything = {ident for ident, _ in rows(dashboard(client, tahun=YEAR, triwulan=2))}
    by_unit = dashboard(client, tahun=YEAR, triwulan=2, unit="BID_PSM")
    expected = {i["indicator"]["id"] for i in api_items(client, reader, 2, unit="BID_PSM")}
    assert {ident for ident, _ in rows(by_unit)} == expected
    assert expected and expected < everything
    assert "Bidang Pemberdayaan Sosial dan Masyarakat (BID_PSM)</h3>" in by_unit
    assert "(BID_RPJS)</h3>" not in by_unit
    assert '<option value="BID_PSM" selected>' in by_unit
    # An indicator of two units (BID_PPPHA and UPTD_PPA) shows under the unit filtered on only.
    shared = dashboard(client, tahun=YEAR, triwulan=2, unit="UPTD_PPA")
    expected = {i["indicator"]["id"] for i in api_items(client, reader, 2, unit="UPTD_PPA")}
    assert {ident for ident, _ in rows(shared)} == expected
    assert len(rows(shared)) == len(expected)
    assert "(UPTD_PPA)</h3>" in shared and "(BID_PPPHA)</h3>" not in shared

    by_position = dashboard(client, tahun=YEAR, triwulan=2, jabatan="KABID_PP")
    expected = {i["indicator"]["id"] for i in api_items(client, reader, 2, position="KABID_PP")}
    assert {ident for ident, _ in rows(by_position)} == expected
    assert expected and expected < everything
    assert by_position.count("<svg") == 2  # the units' chart and KABID_PP's trend
    # Empty strings (the form's "all") are no filter.
    assert len(rows(dashboard(client, tahun=YEAR, triwulan=2, unit="", jabatan=""))) == len(
        rows(dashboard(client, tahun=YEAR, triwulan=2))
    )


def test_the_defaults_are_the_latest_year_and_the_current_quarter(client, session, reported):
    signed_in(client, session, Role.viewer)
    page = dashboard(client)
    today = dt.date.today()
    quarter = (today.month - 1) // 3 + 1 if today.year == YEAR else 4
    assert f'<option value="{YEAR}" selected>' in page
    assert f'<option value="{quarter}" selected>' in page
    assert ids(page) == 39
    # One agency: no agency to choose.
    assert 'name="agency"' not in page


def test_an_operator_sees_the_dashboard_of_every_unit(client, session, reported):
    signed_in(client, session, Role.operator, ("BID_PSM",))
    page = dashboard(client, tahun=YEAR, triwulan=2)
    assert ids(page) == 39  # as the API shows it every capaian
    assert '<a href="/dasbor" aria-current="page">Dasbor</a>' in page


def test_several_agencies_offer_a_choice_defaulting_to_the_persons_own(client, session, admin):
    made = client.post(f"{API}/agencies", headers=admin, json={"code": "AAA", "name": "Dinas A"})
    assert made.status_code == 201, made.text
    signed_in(client, session, Role.operator, ("BID_PSM",))
    own = dashboard(client)
    assert '<option value="DINSOSP3A" selected>' in own and ids(own) == 39
    client.cookies.clear()
    signed_in(client, session, Role.viewer)
    first = dashboard(client)  # no unit: the first agency by code, which has no SK yet
    assert '<option value="AAA" selected>' in first
    assert "belum mempunyai SK" in first and not rows(first)
    chosen = dashboard(client, agency=AGENCY, tahun=YEAR)
    assert ids(chosen) == 39
    assert f'<input type="hidden" name="agency" value="{AGENCY}">' in chosen
    assert client.get("/dasbor", params={"agency": "AAA", "tahun": YEAR}).status_code == 404


@pytest.mark.parametrize(
    ("params", "status", "words"),
    [
        ({"tahun": "abc"}, 422, "Isian tidak valid"),
        ({"tahun": 1999}, 422, "Isian tidak valid"),
        ({"triwulan": 5}, 422, "Isian tidak valid"),
        ({"triwulan": "dua"}, 422, "Isian tidak valid"),
        ({"tahun": 2031}, 404, "tidak ada SK untuk tahun itu"),
        ({"unit": "NOPE"}, 404, "Tidak ditemukan"),
        ({"jabatan": "<script>"}, 404, "Tidak ditemukan"),
        ({"agency": "NOPE"}, 404, "Tidak ditemukan"),
        ({"unit": "X" * 65}, 422, "Isian tidak valid"),
    ],
)
def test_bad_filters_get_a_page_in_words(client, session, params, status, words):
    signed_in(client, session, Role.viewer)
    page = client.get("/dasbor", params=params)
    assert page.status_code == status
    assert page.headers["content-type"].startswith("text/html")
    assert words in page.text
    assert "<script>" not in page.text


def test_signed_out_goes_to_sign_in(client, session):
    position = session.exec(select(Position).where(Position.code == "KADIS")).one()
    for url in (
        "/dasbor",
        f"/dasbor/jabatan/{position.id}/laporan.pdf?tahun={YEAR}&triwulan=2",
        f"/dasbor/capaian.xlsx?tahun={YEAR}&triwulan=2",
    ):
        answer = client.get(url, follow_redirects=False)
        assert answer.status_code == 303 and answer.headers["location"] == "/masuk", url


def test_stored_names_render_as_text(client, session, admin, reported):
    name = "<script>alert('x')</script> Persentase"
    patched = client.patch(
        f"{API}/indicators/{indicator_id(session, 'KADIS.1.1')}", headers=admin, json={"name": name}
    )
    assert patched.status_code == 200, patched.text
    units = client.get(f"{API}/units", headers=admin, params={"agency": AGENCY}).json()["items"]
    psm = next(u for u in units if u["code"] == "BID_PSM")
    patched = client.patch(
        f"{API}/units/{psm['id']}", headers=admin, json={"name": "<script>unit</script>"}
    )
    assert patched.status_code == 200, patched.text
    signed_in(client, session, Role.viewer)
    page = dashboard(client, tahun=YEAR, triwulan=2)
    assert "<script" not in page
    assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; Persentase" in page
    assert "&lt;script&gt;unit&lt;/script&gt; (BID_PSM)</h3>" in page


def test_the_page_uses_no_script_and_no_external_address(client, session, reported):
    signed_in(client, session, Role.viewer)
    page = dashboard(client, tahun=YEAR, triwulan=2)
    assert "<script" not in page and "<link" not in page
    addresses = re.findall(r'(?:href|src|xlink:href)="([^"]*)"', page)
    assert addresses and all(a.startswith(("/", "#")) for a in addresses), addresses
    assert set(re.findall(r"https?://[^\s\"'<>)]+", page)) <= SVG_NAMESPACES
    assert "//" not in re.sub(r"https?://www\.w3\.org/[0-9]{4}/(?:svg|xlink)", "", page)
    # The charts: the units' and one per position, each an image named in words.
    charts = re.findall(r"<svg [^>]*>", page)
    assert len(charts) == 1 + 5
    assert all('role="img"' in svg and "aria-label=" in svg for svg in charts)
    assert 'aria-label="Rata-rata capaian per unit s.d. TW II.' in page
    assert "<figcaption>" in page


def test_the_unit_chart_shows_each_units_mean_capaian(client, session, reader, reported):
    signed_in(client, session, Role.viewer)
    page = dashboard(client, tahun=YEAR, triwulan=2, unit="BID_PSM")
    items = api_items(client, reader, 2, unit="BID_PSM")
    computed = [i["achievement"] for i in items if i["status"] == "ok"]
    assert computed
    mean = sum(computed) / len(computed)
    assert f"rata-rata capaian yang terhitung: {indonesian_number(mean, 2)}%" in page
    chart = page[page.index("<svg") : page.index("</svg>")]
    assert f'class="value">{indonesian_number(mean, 1)}<' in chart
    assert ">BID_PSM<" in chart


@pytest.mark.usefixtures("forgetful")  # every figure computed: the count is of a cold read
def test_a_fixed_number_of_statements_whatever_the_rows(client, session, count_statements):
    signed_in(client, session, Role.viewer)
    dashboard(client, tahun=YEAR, triwulan=2, jabatan="KABID_PP")  # warm caches
    count_statements.statements.clear()
    few = len(rows(dashboard(client, tahun=YEAR, triwulan=2, jabatan="KABID_PP")))
    narrow = count_statements.count
    count_statements.statements.clear()
    many = len(rows(dashboard(client, tahun=YEAR, triwulan=2)))
    assert few < many
    assert count_statements.count == narrow


def test_the_workbook_is_the_apis(client, session, admin, reported):
    signed_in(client, session, Role.viewer)
    page = dashboard(client, tahun=YEAR, triwulan=2, unit="BID_PSM")
    link = re.search(r'href="(/dasbor/capaian\.xlsx\?[^"]+)"', page)
    assert link is not None
    address = html.unescape(link.group(1))
    assert "tahun=2025" in address and "triwulan=2" in address and "unit=BID_PSM" in address
    ours = client.get(address)
    assert ours.status_code == 200
    assert ours.headers["content-type"] == XLSX_TYPE
    assert 'filename="capaian-iki-2025-tw2.xlsx"' in ours.headers["content-disposition"]
    theirs = client.get(
        f"{API}/reports/achievements.xlsx",
        headers=admin,
        params={"year": YEAR, "quarter": 2, "agency": AGENCY, "unit": "BID_PSM"},
    )
    assert theirs.status_code == 200
    assert _sheets(ours.content) == _sheets(theirs.content)
    assert client.get("/dasbor/capaian.xlsx?tahun=2031").status_code == 404
    assert client.get("/dasbor/capaian.xlsx?tahun=2025&triwulan=9").status_code == 422


def _sheets(content: bytes) -> dict[str, list[tuple[Any, ...]]]:
    book = load_workbook(io.BytesIO(content))
    return {sheet.title: list(sheet.iter_rows(values_only=True)) for sheet in book.worksheets}


def test_the_position_report_is_the_apis_pdf(client, session, reader, reported):
    signed_in(client, session, Role.viewer)
    page = dashboard(client, tahun=YEAR, triwulan=2)
    kadis = session.exec(select(Position).where(Position.code == "KADIS")).one()
    address = f"/dasbor/jabatan/{kadis.id}/laporan.pdf?tahun={YEAR}&amp;triwulan=2"
    assert f'href="{address}"' in page
    pdf = client.get(html.unescape(address))
    if pdf.status_code == 503 and "PDF" in pdf.text:
        pytest.skip("PDF rendering is not available here (WeasyPrint's libraries)")
    assert pdf.status_code == 200, pdf.text
    assert pdf.headers["content-type"] == "application/pdf"
    assert pdf.content.startswith(b"%PDF-")
    assert 'filename="capaian-' in pdf.headers["content-disposition"]
    missing = client.get(f"/dasbor/jabatan/99999/laporan.pdf?tahun={YEAR}&triwulan=2")
    assert missing.status_code == 404 and "Tidak ditemukan" in missing.text
    assert client.get(f"/dasbor/jabatan/{kadis.id}/laporan.pdf?tahun={YEAR}").status_code == 422


def test_a_busy_pdf_pool_is_a_503_page_with_retry_after(client, session, monkeypatch):
    from app.api import documents
    from app.core.errors import Busy

    def busy() -> None:
        raise Busy("Every PDF worker is busy", headers={"Retry-After": "5"})

    monkeypatch.setattr(documents.pdf_workers, "take_slot", busy)
    signed_in(client, session, Role.viewer)
    kadis = session.exec(select(Position).where(Position.code == "KADIS")).one()
    answer = client.get(f"/dasbor/jabatan/{kadis.id}/laporan.pdf?tahun={YEAR}&triwulan=2")
    assert answer.status_code == 503
    assert answer.headers["retry-after"] == "5"
    assert "Layanan sedang sibuk" in answer.text


def test_the_report_carries_the_positions_charts(client, session, reader, reported):
    kadis = session.exec(select(Position).where(Position.code == "KADIS")).one()
    report = client.get(
        f"{API}/positions/{kadis.id}/report", headers=reader, params={"year": YEAR, "quarter": 2}
    )
    assert report.status_code == 200
    items = api_items(client, reader, 2, position="KADIS")
    charts = re.findall(r"<svg .*?</svg>", report.text, re.S)
    assert len(charts) == 2
    bars, trend = charts
    assert 'aria-label="Capaian terhadap target s.d. TW II.' in bars
    assert 'aria-label="Tren capaian per triwulan.' in trend
    computed = [i for i in items if i["achievement"] is not None]
    assert computed
    for item in computed:  # each bar's value, in its predikat's colour
        assert f'class="value">{indonesian_number(item["achievement"], 1)}<' in bars
        assert item["rating"]["color"] in bars
    for item in items:
        assert (
            f">{item['indicator']['code']}<" in bars and f">{item['indicator']['code']}<" in trend
        )
    assert ">TW I<" in trend and ">TW II<" in trend and ">TW III<" not in trend
    assert "<script" not in report.text
