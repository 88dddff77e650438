"""The indicator page: the definition, the formula in words and as a fraction, the values by
quarter, the capaian over the year (the API's numbers), the change history, and who sees
which of them."""

from __future__ import annotations

import html
import re

import pytest

from app.models import Role
from app.pages import indicator as indicator_page
from app.services.documents import indonesian_number
from tests.api.helpers import indicator_id
from tests.pages.test_sign_in import make_person, sign_in

YEAR = 2025
ROMAN = ("I", "II", "III", "IV")
SIGNED_IN = {
    Role.viewer: "pimpinan",
    Role.reader: "pembaca esakip",
    Role.auditor: "inspektorat",
    Role.operator: "operator psm",
    Role.verifier: "sekretaris",
}


@pytest.fixture
def k11(session) -> int:
    return indicator_id(session, "KADIS.1.1")


@pytest.fixture
def as_role(client, session):
    """Signs the client in as a person of a role; returns the client."""

    def _sign_in(role: Role):
        units = ("BID_PSM",) if role is Role.operator else ()
        make_person(session, SIGNED_IN[role], role, units)
        assert sign_in(client, SIGNED_IN[role]).status_code == 303
        return client

    return _sign_in


@pytest.fixture
def reported(client, k11, admin, psm):
    """KADIS.1.1 with a target and values of quarters 1 and 2, written through the API by the
    operator key `psm-operator`; quarter 1's value changed once."""
    api = f"/api/v1/indicators/{k11}"
    assert (
        client.put(f"{api}/targets/{YEAR}", headers=admin, json={"annual": 40}).status_code == 200
    )
    for quarter, values in (
        (1, {"psks_diberdayakan": 20, "psks_terdata": 100}),
        (2, {"psks_diberdayakan": 31, "psks_terdata": 120}),
        (1, {"psks_diberdayakan": 25}),
    ):
        put = client.put(
            f"{api}/realizations/{YEAR}/{quarter}", headers=psm, json={"values": values}
        )
        assert put.status_code == 200, put.text


def table(page: str, ident: str) -> list[list[str]]:
    """The rows of the body of the table with this id, each a list of its cells' text."""
    found = re.search(rf'<table id="{ident}"[^>]*>(.*?)</table>', page, re.S)
    assert found is not None, f"no table {ident}"
    body = found.group(1).split("<tbody>", 1)[1]
    return [
        [html.unescape(re.sub(r"<[^>]+>", "", cell)).strip() for cell in re.findall(
            r"<t[hd][^>]*>(.*?)</t[hd]>", row, re.S)]
        for row in re.findall(r"<tr>(.*?)</tr>", body, re.S)
    ]  # fmt: skip


def element(page: str, ident: str) -> str:
    found = re.search(rf'<dd id="{ident}">(.*?)</dd>', page, re.S)
    assert found is not None, f"no element {ident}"
    return found.group(1)


def test_signed_out_goes_to_sign_in(client, k11):
    response = client.get(f"/indikator/{k11}?tahun={YEAR}", follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == "/masuk"


def test_the_definition_and_the_formula_as_a_fraction_and_in_words(as_role, k11):
    page = as_role(Role.viewer).get(f"/indikator/{k11}?tahun={YEAR}")
    assert page.status_code == 200
    text = page.text
    assert "<h1>Indikator KADIS.1.1</h1>" in text
    assert "Persentase Potensi Sumber Kesejahteraan Sosial yang mendapatkan Pemberdayaan" in text
    assert "Bidang Pemberdayaan Sosial dan Masyarakat" in text  # the data source
    assert "<dt>Polaritas</dt><dd>semakin tinggi semakin baik</dd>" in text
    assert "<dt>Satuan</dt><dd>%</dd>" in text and "<dt>Desimal</dt><dd>2</dd>" in text
    assert "KADIS" in text and "<dt>Sasaran</dt><dd>1. " in text
    # The fraction: the numerator's label over the denominator's, then "x 100%".
    fraction = element(text, "formula-pecahan")
    assert fraction == (
        '<span class="formula"><span class="frac"><span class="num"><span class="var">'
        "Jumlah PSKS yang mendapatkan Pemberdayaan Sosial</span></span>"
        '<span class="den"><span class="var">Total Jumlah PSKS yang terdata</span></span>'
        "</span> x 100%</span>"
    )
    # In words: the labels, not the codes.
    words = element(text, "formula-kata")
    assert words == (
        "(Jumlah PSKS yang mendapatkan Pemberdayaan Sosial / Total Jumlah PSKS yang terdata) x 100"
    )
    assert "psks_terdata" not in words


def test_the_polarity_of_a_lower_is_better_indicator_in_words(client, as_role, k11, admin):
    patched = client.patch(
        f"/api/v1/indicators/{k11}", headers=admin, json={"polarity": "lower_is_better"}
    )
    assert patched.status_code == 200, patched.text
    page = as_role(Role.viewer).get(f"/indikator/{k11}").text  # the year of its SK by default
    assert "<dd>semakin rendah semakin baik</dd>" in page


def test_values_and_capaian_are_the_apis(client, as_role, k11, reported, reader):
    api = client.get(
        f"/api/v1/indicators/{k11}/achievements", headers=reader, params={"year": YEAR}
    ).json()
    page = as_role(Role.reader).get(f"/indikator/{k11}?tahun={YEAR}").text
    capaian = table(page, "capaian")
    assert len(capaian) == 4
    for row, figure in zip(capaian, api, strict=True):
        rating = figure["rating"]["label"] if figure["rating"] else "—"
        assert row[:5] == [
            f"TW {ROMAN[figure['quarter'] - 1]}",
            indonesian_number(figure["realization"], 2),
            indonesian_number(figure["target"], 2),
            indonesian_number(figure["achievement"], 2),
            rating,
        ]
        assert row[6] == "terbuka"  # nothing submitted yet
    assert capaian[0][1:4] == ["25,00", "40,00", "62,50"]  # 25 / 100 x 100 against 40
    assert capaian[1][1] == indonesian_number(56 / 120 * 100, 2)  # a flow over a stock
    assert capaian[2][5].startswith("Data belum lengkap")
    color = api[0]["rating"]["color"]
    assert f'<span class="predikat" style="--c: {color}">{api[0]["rating"]["label"]}' in page

    values = table(page, "nilai")
    by_code = {row[0].split("(")[1].split(",")[0]: row for row in values}
    assert set(by_code) == {"psks_diberdayakan", "psks_terdata"}
    for code, row in by_code.items():
        assert row[1] == "BID_PSM"
        expected = [indonesian_number(q["quarter_values"][code], 0) for q in api]
        assert row[2:] == expected
    assert by_code["psks_diberdayakan"][2:] == ["25", "31", "-", "-"]


def test_the_history_lists_value_changes_newest_first_with_who(as_role, k11, reported):
    page = as_role(Role.operator).get(f"/indikator/{k11}?tahun={YEAR}").text
    history = table(page, "riwayat")
    newest = history[0]
    assert newest[1] == "psm-operator (operator)"
    assert newest[2].startswith("Nilai Jumlah PSKS yang mendapatkan Pemberdayaan Sosial (TW I)")
    assert "nilai: 20 → 25" in newest[2]
    # Four values created, one changed; an operator reads the values' history, not the
    # audit trail of the definition and the targets.
    assert len(history) == 5
    assert all(row[2].startswith("Nilai ") for row in history)
    assert "Perubahan nilai variabel tahun 2025" in page


def test_readers_of_the_audit_trail_see_the_definition_and_target_changes(
    client, as_role, k11, reported, admin
):
    renamed = client.patch(f"/api/v1/indicators/{k11}", headers=admin, json={"decimals": 1})
    assert renamed.status_code == 200, renamed.text
    page = as_role(Role.auditor).get(f"/indikator/{k11}?tahun={YEAR}").text
    history = table(page, "riwayat")
    assert (
        history[0][2].startswith("Definisi indikator diubah") and "desimal: 2 → 1" in history[0][2]
    )
    assert any(
        row[2].startswith("Target tahunan dibuat") and "nilai: 40" in row[2] for row in history
    )
    # Five value events, the target, the decimals and the seed's creation of the indicator.
    assert len(history) == 8
    assert history[-1][2].startswith("Definisi indikator dibuat")
    assert "polaritas: semakin tinggi semakin baik" in history[-1][2]


def test_a_viewer_sees_capaian_but_no_values_and_no_history(as_role, k11, reported):
    page = as_role(Role.viewer).get(f"/indikator/{k11}?tahun={YEAR}").text
    assert len(table(page, "capaian")) == 4
    assert 'id="nilai"' not in page and "Nilai variabel per triwulan" not in page
    assert "Riwayat perubahan" not in page and "psm-operator" not in page


def test_the_history_is_bounded_and_says_so(as_role, k11, reported, monkeypatch):
    monkeypatch.setattr(indicator_page, "HISTORY_LIMIT", 2)
    page = as_role(Role.verifier).get(f"/indikator/{k11}?tahun={YEAR}").text
    assert len(table(page, "riwayat")) == 2
    assert "Ditampilkan 2 perubahan terbaru dari 7." in page


def test_the_page_reads_in_the_same_number_of_queries_however_long_the_history(
    client, as_role, k11, reported, psm, count_statements
):
    browser = as_role(Role.verifier)
    count_statements.statements.clear()
    assert browser.get(f"/indikator/{k11}?tahun={YEAR}").status_code == 200
    few = count_statements.count
    for value in (21, 22, 23, 24):
        client.put(
            f"/api/v1/indicators/{k11}/realizations/{YEAR}/3",
            headers=psm,
            json={"values": {"psks_diberdayakan": value, "psks_terdata": 100 + value}},
        )
    count_statements.statements.clear()
    page = browser.get(f"/indikator/{k11}?tahun={YEAR}")
    assert len(table(page.text, "riwayat")) == 7 + 8
    assert count_statements.count == few


@pytest.mark.parametrize(
    ("path", "status", "words"),
    [
        ("/indikator/999999", 404, "Yang diminta tidak ada"),
        ("/indikator/{k11}?tahun=2024", 404, "tidak ada SK untuk tahun itu"),
        ("/indikator/abc", 422, "Alamat atau isian tidak valid"),
        ("/indikator/1_0", 422, "Alamat atau isian tidak valid"),
        ("/indikator/99999999999999999999999", 422, "Alamat atau isian tidak valid"),
        ("/indikator/{k11}?tahun=dua", 422, "Alamat atau isian tidak valid"),
    ],
)
def test_a_bad_address_is_a_page_in_words(as_role, k11, path, status, words):
    response = as_role(Role.reader).get(path.format(k11=k11))
    assert response.status_code == status
    assert words in response.text and "<h1>" in response.text


def test_stored_names_and_links_render_inert(client, as_role, k11, admin, session):
    patched = client.patch(
        f"/api/v1/indicators/{k11}",
        headers=admin,
        json={
            "name": "<script>alert('nama')</script> indikator",
            "data_source": "javascript:alert(1)",
        },
    )
    assert patched.status_code == 200, patched.text
    found = client.get("/api/v1/variables", headers=admin, params={"q": "psks_terdata"})
    terdata = next(v for v in found.json()["items"] if v["code"] == "psks_terdata")
    label = client.patch(
        f"/api/v1/variables/{terdata['id']}",
        headers=admin,
        json={"label": "<script>alert(2)</script> label"},
    )
    assert label.status_code == 200, label.text
    page = as_role(Role.verifier).get(f"/indikator/{k11}?tahun={YEAR}").text
    assert "<script>" not in page
    assert "&lt;script&gt;alert(&#39;nama&#39;)&lt;/script&gt; indikator" in page
    inert = "&lt;script&gt;alert(2)&lt;/script&gt; label"
    assert inert in element(page, "formula-pecahan") and inert in element(page, "formula-kata")
    assert "<dd>javascript:alert(1)</dd>" in page and 'href="javascript:' not in page
