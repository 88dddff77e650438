"""Isian realisasi: the units and quarters a person enters data for, a unit's quarter as a
form written through the API's write path (inline errors from its problems, the ETag, the
locks, the unit scope), and the Excel template downloaded and uploaded on the same page."""

from __future__ import annotations

import io
import re
from datetime import datetime
from html import unescape

import pytest
from openpyxl import load_workbook
from sqlmodel import Session, col, select

from app.core.config import get_settings, megabytes
from app.models import AuditEvent, DataValue, Role, ValueType, Variable
from tests.api.test_workbooks import fill
from tests.pages.test_sign_in import csrf, make_person, sign_in

YEAR = 2025
FORM = f"/isian/{YEAR}/2/BID_PSM"
PSM = ("psks_diberdayakan", "psks_berpartisipasi", "psks_terdata", "tmp_terkelola", "tmp_terdata")
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
Q1 = {
    "psks_diberdayakan": 20,
    "psks_berpartisipasi": 5,
    "psks_terdata": 100,
    "tmp_terkelola": 1,
    "tmp_terdata": 2,
}


def stored(session: Session, quarter: int = 2) -> dict[str, DataValue]:
    """The values stored for the quarter, by variable code (read afresh)."""
    session.expire_all()
    rows = session.exec(
        select(Variable.code, DataValue)
        .join(Variable, Variable.id == DataValue.variable_id)  # type: ignore[arg-type]
        .where(DataValue.year == YEAR, DataValue.quarter == quarter)
    )
    return dict(rows.all())


def change_variable(session: Session, code: str, **changes) -> None:
    """Change a variable's definition (committed, as an admin's change would be)."""
    variable = session.exec(select(Variable).where(Variable.code == code)).one()
    for name, value in changes.items():
        setattr(variable, name, value)
    session.add(variable)
    session.commit()


def signed_in_as(client, session, name="operator psm", role=Role.operator, units=("BID_PSM",)):
    person = make_person(session, name, role, units)
    assert sign_in(client, name).status_code == 303
    return person


@pytest.fixture
def operator(client, session):
    return signed_in_as(client, session)


@pytest.fixture
def q1(client, psm):
    """BID_PSM's first quarter, reported through the API."""
    response = client.put(f"/api/v1/data-values/{YEAR}/1", headers=psm, json={"values": Q1})
    assert response.status_code == 200, response.text


def page_form(client, url=FORM):
    """The page, and the fields its entry form would post as they are."""
    page = client.get(url)
    assert page.status_code == 200, page.text
    html = page.text
    fields = {"csrf_token": csrf(client, url), "etag": hidden(html, "etag")}
    for code in re.findall(r'id="nilai-([a-z0-9_]+)"', html):
        fields[f"nilai:{code}"] = input_value(html, f"nilai-{code}")
        fields[f"bukti:{code}"] = input_value(html, f"bukti-{code}")
        fields[f"catatan:{code}"] = textarea(html, f"catatan-{code}")
    return html, fields


def hidden(html, name):
    found = re.search(rf'name="{name}" value="([^"]*)"', html)
    assert found is not None, name
    return unescape(found.group(1))


def input_tag(html, ident):
    found = re.search(rf'<input[^>]* id="{ident}"[^>]*>', html)
    assert found is not None, ident
    return found.group(0)


def input_value(html, ident):
    found = re.search(r'value="([^"]*)"', input_tag(html, ident))
    assert found is not None
    return unescape(found.group(1))


def textarea(html, ident):
    found = re.search(rf'<textarea[^>]* id="{ident}"[^>]*>\n?(.*?)</textarea>', html, re.S)
    assert found is not None, ident
    return unescape(found.group(1))


def inline_error(html, code):
    found = re.search(rf'<p id="galat-{code}" class="field-error">([^<]*)</p>', html)
    return unescape(found.group(1)) if found else None


def post(client, fields, url=FORM):
    return client.post(url, data=fields, follow_redirects=False)


def api_values(client, headers, quarter=2):
    response = client.get(
        "/api/v1/data-values", headers=headers, params={"year": YEAR, "quarter": quarter}
    )
    assert response.status_code == 200, response.text
    return response, {item["variable"]: item for item in response.json()["items"]}


# The list ----------------------------------------------------------------------------------


def test_the_list_shows_the_persons_units_and_each_quarters_state(client, session, psm, q1):
    submitted = client.post(f"/api/v1/periods/{YEAR}/1/units/BID_PSM/submit", headers=psm)
    assert submitted.status_code == 200, submitted.text
    signed_in_as(client, session)
    page = client.get("/isian")
    assert page.status_code == 200
    links = re.findall(r'<a href="(/isian/[^"]+)"', page.text)
    assert links == [f"/isian/{YEAR}/{q}/BID_PSM" for q in (1, 2, 3, 4)]  # its unit only
    assert "diajukan (terkunci)" in page.text and page.text.count("terbuka") == 3

    # Who holds all_units (an admin) sees every unit of the agency.
    client.cookies.clear()
    signed_in_as(client, session, "admin dinas", Role.admin, ())
    units = re.findall(r'href="/isian/2025/1/([A-Z_]+)"', client.get("/isian").text)
    assert units == sorted(units) and {"BID_PSM", "BID_RPJS", "SEKRETARIAT"} <= set(units)
    assert client.get("/isian?tahun=2031").status_code == 404  # no decree that year

    # A role that enters no data is refused.
    client.cookies.clear()
    signed_in_as(client, session, "kepala", Role.viewer, ())
    assert client.get("/isian").status_code == 403
    assert client.get(FORM).status_code == 403


# The form ----------------------------------------------------------------------------------


def test_the_form_lists_the_units_variables_with_last_quarter_and_ranges(
    client, session, operator, q1, reader
):
    change_variable(session, "tmp_terdata", max_value=10)
    html, fields = page_form(client)
    codes = re.findall(r"<code>([a-z_]+)</code>", html)
    assert sorted(codes) == sorted(PSM)  # the unit's variables, no other unit's
    assert "Total Jumlah PSKS yang terdata" in html and "ppks_terdata" not in html
    block = html[html.index("<code>psks_terdata</code>") :]
    block = block[: block.index("</fieldset>")]
    assert "<dd>PSKS</dd>" in block and "posisi akhir triwulan" in block  # satuan, last
    assert re.search(r"<dt>Nilai TW I 2025</dt><dd>100</dd>", block)
    assert "bilangan bulat, paling kecil 0" in block
    diberdayakan = html[html.index("<code>psks_diberdayakan</code>") :]
    assert "dijumlahkan per triwulan" in diberdayakan[: diberdayakan.index("</fieldset>")]
    assert "bilangan bulat, 0 s.d. 10" in html  # tmp_terdata's range
    tag = input_tag(html, "nilai-psks_terdata")
    assert 'name="nilai:psks_terdata"' in tag and 'inputmode="decimal"' in tag
    assert '<label for="nilai-psks_terdata">' in html and '<label for="bukti-psks_terdata">' in html
    assert fields["nilai:psks_terdata"] == ""  # nothing stored for Q2 yet
    assert '<button type="submit">Simpan</button>' in html
    # The ETag is that of the API's data sheet for the quarter.
    response, _ = api_values(client, reader)
    assert fields["etag"] == response.headers["etag"]

    # Q1's form holds the stored values; its last quarter (2024 Q4) has none.
    q1_html, q1_fields = page_form(client, f"/isian/{YEAR}/1/BID_PSM")
    assert q1_fields["nilai:psks_terdata"] == "100"
    assert "<dt>Nilai TW IV 2024</dt><dd>belum ada</dd>" in q1_html
    assert q1_fields["etag"] == api_values(client, reader, 1)[0].headers["etag"]


def test_bad_values_are_refused_inline_and_nothing_is_stored(client, session, operator, reader):
    _, fields = page_form(client)
    change_variable(session, "tmp_terdata", max_value=10)
    fields |= {
        "nilai:psks_diberdayakan": "abc",
        "nilai:psks_terdata": "12,5",  # a fraction of a count
        "nilai:tmp_terdata": "11",  # above its max
        "nilai:tmp_terkelola": "3",  # good, but not stored with the others refused
        "nilai:psks_berpartisipasi": "1.000,5",  # two separators: not a number
        "catatan:tmp_terkelola": "dicatat",
    }
    refused = post(client, fields)
    assert refused.status_code == 422, refused.text
    page = refused.text
    assert inline_error(page, "psks_diberdayakan") == "harus berupa angka"
    assert inline_error(page, "psks_berpartisipasi") == "harus berupa angka"
    assert inline_error(page, "psks_terdata") == "harus bilangan bulat"
    assert inline_error(page, "tmp_terdata") == "harus paling besar 10"
    assert inline_error(page, "tmp_terkelola") is None
    tag = input_tag(page, "nilai-psks_terdata")
    assert 'aria-invalid="true"' in tag and 'aria-describedby="galat-psks_terdata"' in tag
    assert "aria-invalid" not in input_tag(page, "nilai-tmp_terkelola")
    # What was typed stays in the fields; the summary is at the top.
    assert input_value(page, "nilai-psks_diberdayakan") == "abc"
    assert input_value(page, "nilai-psks_berpartisipasi") == "1.000,5"
    assert textarea(page, "catatan-tmp_terkelola") == "dicatat"
    assert page.index('class="error"') < page.index("<fieldset")
    assert stored(session) == {}
    assert api_values(client, reader)[1] == {}


def test_good_values_are_stored_with_a_note_and_evidence_per_variable(
    client, session, operator, reader
):
    change_variable(session, "tmp_terdata", value_type=ValueType.number)  # may have fractions
    _, fields = page_form(client)
    fields |= {
        "nilai:psks_terdata": " 120 ",
        "nilai:psks_diberdayakan": "+15",
        "nilai:tmp_terdata": "2,5",
        "nilai:tmp_terkelola": "1.",
        "catatan:psks_terdata": "Hasil pendataan\r\nlapangan",
        "bukti:psks_terdata": "https://drive.example/psks.pdf",
        "catatan:tmp_terdata": "setengah",
        "bukti:psks_diberdayakan": "Arsip Bidang PSM",
    }
    saved = post(client, fields)
    assert saved.status_code == 303, saved.text
    assert saved.headers["location"] == f"{FORM}?tersimpan=1"
    again = client.get(saved.headers["location"])
    assert "Tersimpan" in again.text
    _, values = api_values(client, reader)
    assert {code: v["value"] for code, v in values.items()} == {
        "psks_terdata": 120,
        "psks_diberdayakan": 15,
        "tmp_terdata": 2.5,
        "tmp_terkelola": 1,
    }  # psks_berpartisipasi, left blank, is not sent
    assert values["psks_terdata"]["note"] == "Hasil pendataan\nlapangan"
    assert values["psks_terdata"]["evidence"] == "https://drive.example/psks.pdf"
    assert (values["tmp_terdata"]["note"], values["tmp_terdata"]["evidence"]) == ("setengah", None)
    assert values["psks_diberdayakan"]["evidence"] == "Arsip Bidang PSM"
    assert values["tmp_terkelola"]["note"] is None
    assert {v["updated_by"] for v in values.values()} == {"operator psm"}
    events = session.exec(
        select(AuditEvent).where(
            AuditEvent.entity == "data_value",
            col(AuditEvent.entity_id).in_([str(v.id) for v in stored(session).values()]),
        )
    ).all()
    assert len(events) == 4
    assert {(e.actor, e.actor_id, e.action) for e in events} == {
        ("operator psm", f"person:{operator.id}", "create")
    }

    # The form shows what is stored; sent back as it is, nothing gets a new version.
    html, fields = page_form(client)
    assert fields["nilai:tmp_terdata"] == "2,5" and fields["nilai:psks_terdata"] == "120"
    assert fields["catatan:psks_terdata"] == "Hasil pendataan\nlapangan"
    assert '<a href="https://drive.example/psks.pdf"' in html
    fields["catatan:psks_terdata"] = "Hasil pendataan\r\nlapangan"  # as a browser sends it
    assert post(client, fields).status_code == 303
    _, same = api_values(client, reader)
    assert {c: v["version"] for c, v in same.items()} == {c: 1 for c in values}
    # A note changed changes its variable only.
    fields["catatan:tmp_terkelola"] = "diperbarui"
    fields["etag"] = page_form(client)[1]["etag"]
    assert post(client, fields).status_code == 303
    _, after = api_values(client, reader)
    assert {c: v["version"] for c, v in after.items()} == {c: 1 for c in values} | {
        "tmp_terkelola": 2
    }
    assert after["tmp_terkelola"]["note"] == "diperbarui"
    # A note emptied is cleared.
    fields["catatan:tmp_terkelola"] = ""
    fields["etag"] = page_form(client)[1]["etag"]
    assert post(client, fields).status_code == 303
    assert api_values(client, reader)[1]["tmp_terkelola"]["note"] is None


def test_a_note_without_a_value_and_an_unsafe_link_are_refused(client, session, operator):
    _, fields = page_form(client)
    fields |= {
        "catatan:psks_terdata": "belum ada angkanya",
        "nilai:tmp_terdata": "4",
        "bukti:tmp_terdata": "javascript:alert(1)",
        "nilai:tmp_terkelola": "2",
    }
    refused = post(client, fields)
    assert refused.status_code == 422, refused.text
    assert inline_error(refused.text, "psks_terdata") == "harus berupa angka"
    assert inline_error(refused.text, "tmp_terdata") == (
        "bukti harus berupa tautan http(s) dengan nama host, atau rujukan tanpa tautan"
    )
    assert input_value(refused.text, "bukti-tmp_terdata") == "javascript:alert(1)"
    assert '<a href="javascript' not in refused.text
    assert stored(session) == {}


def test_a_stale_form_is_refused_with_words_to_reload(client, session, operator, psm, reader):
    _, fields = page_form(client)
    changed = client.put(
        f"/api/v1/data-values/{YEAR}/2", headers=psm, json={"values": {"psks_terdata": 130}}
    )
    assert changed.status_code == 200
    fields["nilai:psks_terdata"] = "125"
    fields["nilai:tmp_terdata"] = "3"
    refused = post(client, fields)
    assert refused.status_code == 412, refused.text
    assert "diubah orang lain" in refused.text and "Muat ulang" in refused.text
    assert input_value(refused.text, "nilai-psks_terdata") == "125"
    # The refused form keeps the ETag it was read with: sent again, it is still stale.
    assert hidden(refused.text, "etag") == fields["etag"]
    assert post(client, fields).status_code == 412
    assert {c: v.value for c, v in stored(session).items()} == {"psks_terdata": 130}


def test_a_locked_quarter_is_shown_locked_and_a_post_is_refused(
    client, session, operator, psm, reader
):
    client.put(f"/api/v1/data-values/{YEAR}/2", headers=psm, json={"values": Q1})
    _, fields = page_form(client)
    assert 'action="/verifikasi/2025/2/BID_PSM/ajukan"' in client.get(FORM).text
    submitted = client.post(f"/api/v1/periods/{YEAR}/2/units/BID_PSM/submit", headers=psm)
    assert submitted.status_code == 200, submitted.text
    html = client.get(FORM).text
    assert "terkunci" in html and "<strong>diajukan</strong>" in html
    assert " disabled" in input_tag(html, "nilai-psks_terdata")
    assert re.search(r'<textarea[^>]*id="catatan-psks_terdata"[^>]* disabled', html)
    assert "Simpan" not in html and "/unggah" not in html and "/ajukan" not in html
    assert "templat.xlsx" in html  # the workbook can still be read

    fields["nilai:psks_terdata"] = "150"
    refused = post(client, fields)
    assert refused.status_code == 409, refused.text
    assert "terkunci" in refused.text and "dikembalikan atau dibuka kembali" in refused.text
    assert stored(session)["psks_terdata"].value == 100


def test_an_operator_cannot_open_or_write_another_units_form(client, session, operator):
    other = f"/isian/{YEAR}/2/BID_RPJS"
    opened = client.get(other)
    assert opened.status_code == 403 and "bukan unit Anda" in opened.text
    assert "ppks_terdata" not in opened.text
    token = csrf(client, FORM)
    # A crafted post to the other unit's form: the service refuses the operator's scope.
    crafted = post(client, {"csrf_token": token, "nilai:ppks_terdata": "60"}, other)
    assert crafted.status_code == 403 and "bukan unit Anda" in crafted.text
    # A crafted field for another unit's variable in its own form: refused as well.
    _, fields = page_form(client)
    fields |= {"nilai:psks_terdata": "120", "nilai:ppks_terdata": "60"}
    assert post(client, fields).status_code == 403
    assert stored(session) == {}
    # Who may write every unit writes them (the same rule as the API's).
    client.cookies.clear()
    signed_in_as(client, session, "admin dinas", Role.admin, ())
    _, fields = page_form(client, other)
    assert "nilai:ppks_terdata" in fields and "nilai:psks_terdata" not in fields
    assert post(client, fields | {"nilai:ppks_terdata": "60"}, other).status_code == 303
    assert stored(session)["ppks_terdata"].updated_by == "admin dinas"


def test_forms_without_their_csrf_token_are_refused(client, session, operator):
    _, fields = page_form(client)
    fields["nilai:psks_terdata"] = "120"
    del fields["csrf_token"]
    refused = post(client, fields)
    assert refused.status_code == 403 and "Formulir ditolak" in refused.text
    upload = client.post(
        f"{FORM}/unggah", files={"berkas": ("r.xlsx", b"PK", XLSX)}, follow_redirects=False
    )
    assert upload.status_code == 403
    assert stored(session) == {}


# Excel -------------------------------------------------------------------------------------


def workbook_values(content):
    book = load_workbook(io.BytesIO(content))
    return [[cell.value for cell in row] for row in book["Realisasi"].iter_rows()]


def filled(content, values):
    """The downloaded template with `values` in its value column."""
    return fill(load_workbook(io.BytesIO(content)), values)


def upload(client, content, name="realisasi.xlsx"):
    return client.post(
        f"{FORM}/unggah",
        data={"csrf_token": csrf(client, FORM)},
        files={"berkas": (name, content, "application/octet-stream")},
        follow_redirects=False,
    )


def test_the_template_downloads_and_a_filled_one_uploads(client, session, operator, psm, q1):
    html = client.get(FORM).text
    assert f'href="{FORM}/templat.xlsx"' in html
    assert re.search(
        rf'<form method="post" action="{FORM}/unggah" enctype="multipart/form-data">', html
    )
    assert '<input type="file" id="berkas" name="berkas"' in html
    download = client.get(f"{FORM}/templat.xlsx")
    assert download.status_code == 200 and download.headers["content-type"] == XLSX
    assert download.headers["content-disposition"] == (
        'attachment; filename="realisasi-BID_PSM-2025-tw2.xlsx"'
    )
    api = client.get(
        "/api/v1/units/BID_PSM/realization-template.xlsx",
        headers=psm,
        params={"year": YEAR, "quarter": 2},
    )
    assert workbook_values(download.content) == workbook_values(api.content)

    filled_in = filled(
        download.content, {"psks_terdata": 130, "tmp_terdata": 3, "tmp_terkelola": 2}
    )
    done = upload(client, filled_in)
    assert done.status_code == 303, done.text
    shown = client.get(done.headers["location"])
    assert "Berkas diimpor: 3 nilai baru, 0 diubah, 0 tidak berubah, 2 baris" in shown.text
    assert {c: v.value for c, v in stored(session).items()} == {
        "psks_terdata": 130,
        "tmp_terdata": 3,
        "tmp_terkelola": 2,
    }
    assert input_value(shown.text, "nilai-psks_terdata") == "130"
    assert {v.updated_by for v in stored(session).values()} == {"operator psm"}

    # A refused row: nothing stored, the rows in words.
    bad = filled(download.content, {"psks_terdata": "banyak", "tmp_terdata": 4})
    refused = upload(client, bad)
    assert refused.status_code == 422, refused.text
    assert re.search(r"baris \d+ \(psks_terdata\), nilai: harus berupa angka", refused.text)
    assert "tidak ada yang disimpan" in refused.text
    assert stored(session)["tmp_terdata"].value == 3
    # A date in the value column (openpyxl formats the cell as one).
    dated = upload(client, filled(download.content, {"psks_terdata": datetime(2025, 6, 30)}))
    assert dated.status_code == 422, dated.text
    assert re.search(
        r"baris \d+ \(psks_terdata\), nilai: berisi tanggal atau jam, bukan angka", dated.text
    )
    assert stored(session)["psks_terdata"].value == 130
    # What is no workbook nor CSV.
    junk = upload(client, b"\x00\x01 bukan berkas", "foto.png")
    assert junk.status_code == 422 and "tidak dapat dibaca" in junk.text


def test_the_upload_gets_the_body_limit_of_imports(client, session, operator, monkeypatch):
    content = client.get(f"{FORM}/templat.xlsx").content
    filled_in = filled(content, {"psks_terdata": 140})
    monkeypatch.setattr(get_settings(), "max_body_bytes", len(filled_in) // 2)
    assert upload(client, filled_in).status_code == 303
    assert stored(session)["psks_terdata"].value == 140
    # The same body sent to the form itself is over its (small) limit.
    too_large = client.post(
        FORM,
        data={"csrf_token": csrf(client, FORM)},
        files={"berkas": ("r.xlsx", filled_in, XLSX)},
    )
    assert too_large.status_code == 413
    # A page in words, not the API's JSON: the person sees why, and the limit.
    assert too_large.headers["content-type"].startswith("text/html")
    assert "Terlalu besar" in too_large.text and "terlalu besar (batasnya" in too_large.text
    assert megabytes(len(filled_in) // 2) in too_large.text


def test_stored_text_renders_inert(client, session, operator, psm):
    change_variable(session, "psks_terdata", label='<script>alert("x")</script>')
    client.put(f"/api/v1/data-values/{YEAR}/2", headers=psm, json={"values": {"psks_terdata": 1}})
    value = stored(session)["psks_terdata"]
    value.evidence = "javascript:alert(1)"  # as a row written before links were checked
    value.note = "</textarea><script>alert(2)</script>"
    session.add(value)
    session.commit()
    html, fields = page_form(client)
    assert "<script>" not in html and "&lt;script&gt;alert(&#34;x&#34;)" in html
    assert 'href="javascript' not in html
    assert fields["bukti:psks_terdata"] == "javascript:alert(1)"  # shown as text only
    assert fields["catatan:psks_terdata"] == "</textarea><script>alert(2)</script>"
