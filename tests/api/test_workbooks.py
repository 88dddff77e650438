"""Excel out and in: the achievements workbook, a unit's realization template, and the
template imported back (opened and filled with openpyxl, as a bidang's spreadsheet would)."""

import csv
import io
import zipfile
from datetime import datetime

import pytest
from openpyxl import Workbook, load_workbook
from sqlmodel import select

from app.models import DataValue, Variable
from app.services import imports
from tests.api.helpers import assert_problem, indicator_id

YEAR = 2025
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
PSM_VARIABLES = {
    "psks_diberdayakan",
    "psks_berpartisipasi",
    "psks_terdata",
    "tmp_terkelola",
    "tmp_terdata",
}


@pytest.fixture
def reported(client, session, admin, psm, rpjs):
    """Targets for KADIS.1.1, 1.2, 1.5 and 2.1; BID_PSM reports Q1 and Q2, BID_RPJS Q1."""
    for code, annual in (("KADIS.1.1", 40), ("KADIS.1.2", 50), ("KADIS.1.5", 0)):
        ident = indicator_id(session, code)
        response = client.put(
            f"/api/v1/indicators/{ident}/targets/{YEAR}", headers=admin, json={"annual": annual}
        )
        assert response.status_code == 200, response.text
    quarters = {
        1: {"psks_diberdayakan": 20, "psks_terdata": 100, "tmp_terkelola": 1, "tmp_terdata": 2},
        2: {
            "psks_diberdayakan": 15,
            "psks_terdata": 120,
            "psks_berpartisipasi": 7,
            "tmp_terkelola": 1,
            "tmp_terdata": 2,
        },
    }
    for quarter, values in quarters.items():
        response = client.put(
            f"/api/v1/data-values/{YEAR}/{quarter}", headers=psm, json={"values": values}
        )
        assert response.status_code == 200, response.text
    response = client.put(
        f"/api/v1/data-values/{YEAR}/1",
        headers=rpjs,
        json={"values": {"ppks_rehabilitasi": 30, "ppks_terdata": 60}},
    )
    assert response.status_code == 200, response.text


def achievements(client, headers, quarter, **params):
    response = client.get(
        "/api/v1/achievements",
        headers=headers,
        params={"year": YEAR, "quarter": quarter, "limit": 1000, **params},
    )
    assert response.status_code == 200, response.text
    return {a["indicator"]["code"]: a for a in response.json()["items"]}


def workbook(response):
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == XLSX
    assert response.headers["content-disposition"].startswith("attachment; filename=")
    assert response.headers["content-disposition"].endswith('.xlsx"')
    return load_workbook(io.BytesIO(response.content))


def rows_of(sheet, header_row):
    header = [c.value for c in sheet[header_row]]
    return header, [
        dict(zip(header, row, strict=True))
        for row in sheet.iter_rows(min_row=header_row + 1, values_only=True)
    ]


# The achievements workbook -------------------------------------------------------------------


def test_achievements_workbook_equals_the_achievements_list(client, reader, reported):
    response = client.get(
        "/api/v1/reports/achievements.xlsx", headers=reader, params={"year": YEAR, "quarter": 2}
    )
    book = workbook(response)
    assert "capaian-iki-2025-tw2" in response.headers["content-disposition"]
    at_2, at_1 = achievements(client, reader, 2), achievements(client, reader, 1)
    positions = list(dict.fromkeys(a["position"]["code"] for a in at_2.values()))
    assert book.sheetnames == ["Ringkasan", *positions]

    seen = []
    for code in positions:
        sheet = book[code]
        titles = {a["position"]["title"] for a in at_2.values() if a["position"]["code"] == code}
        assert sheet["A1"].value in titles
        assert sheet.freeze_panes == "C5"
        header, rows = rows_of(sheet, 4)
        assert header[:6] == [
            "Kode",
            "Indikator Kinerja Individu",
            "Satuan",
            "Target",
            "Realisasi TW I",
            "Realisasi TW II",
        ]
        assert header[6:] == [
            "Realisasi s.d. TW II",
            "Capaian (%)",
            "Predikat",
            "Status",
            "Verifikasi",
            "Keterangan",
        ]
        assert sheet.auto_filter.ref == f"A4:L{4 + len(rows)}"
        for n, row in enumerate(rows, start=5):
            item = at_2[row["Kode"]]
            seen.append(row["Kode"])
            assert row["Indikator Kinerja Individu"] == item["indicator"]["name"]
            assert row["Target"] == item["target"]
            assert row["Realisasi TW I"] == at_1[row["Kode"]]["quarter_realization"]
            assert row["Realisasi TW II"] == item["quarter_realization"]
            assert row["Realisasi s.d. TW II"] == item["realization"]
            assert row["Capaian (%)"] == item["achievement"]
            assert row["Predikat"] == (item["rating"]["label"] if item["rating"] else None)
            decimals = item["indicator"]["decimals"]
            expected_format = "0." + "0" * decimals if decimals else "0"
            assert sheet.cell(row=n, column=7).number_format == expected_format
            assert sheet.cell(row=n, column=8).number_format == "0.00"
            if item["rating"] and item["rating"]["color"]:
                fill = sheet.cell(row=n, column=9).fill
                assert fill.fgColor.rgb[-6:] == item["rating"]["color"][1:].upper()
    assert seen == list(at_2)  # every indicator once, in SK order

    kadis = rows_of(book["KADIS"], 4)[1]
    first = next(r for r in kadis if r["Kode"] == "KADIS.1.1")
    # Q2: (20 + 15) / 120 (stock at Q2) = 29.17 %, against 40: 72.9 % "Sedang"
    assert first["Realisasi TW I"] == pytest.approx(20.0)
    assert first["Realisasi TW II"] == pytest.approx(12.5)
    assert first["Realisasi s.d. TW II"] == pytest.approx(35 / 120 * 100)
    assert (first["Status"], first["Verifikasi"]) == ("Terhitung", "Belum diajukan")
    zero_target = next(r for r in kadis if r["Kode"] == "KADIS.1.5")
    assert zero_target["Status"] == "Tidak terdefinisi"
    assert zero_target["Keterangan"] == "target bernilai 0"


def test_summary_counts_statuses_per_unit(client, reader, reported):
    book = workbook(
        client.get(
            "/api/v1/reports/achievements.xlsx",
            headers=reader,
            params={"year": YEAR, "quarter": 2},
        )
    )
    header, rows = rows_of(book["Ringkasan"], 4)
    assert header[:3] == ["Kode Unit", "Unit (Sumber Data)", "Jumlah IKI"]
    by_unit = {r["Kode Unit"]: r for r in rows}
    for unit in ("BID_PSM", "BID_RPJS"):
        items = achievements(client, reader, 2, unit=unit).values()
        row = by_unit[unit]
        assert row["Jumlah IKI"] == len(items)
        assert row["Terhitung"] == sum(a["status"] == "ok" for a in items)
        assert row["Belum ada data"] == sum(a["status"] == "no_data" for a in items)
        assert row["Data belum lengkap"] == sum(a["status"] == "partial_data" for a in items)
        assert row["Tidak terdefinisi"] == sum(a["status"] == "undefined" for a in items)
        assert row["Belum ada target"] == sum(a["status"] == "no_target" for a in items)
        computed = [a["achievement"] for a in items if a["status"] == "ok"]
        average = row["Rata-rata Capaian (%) IKI Terhitung"]
        assert average == (pytest.approx(sum(computed) / len(computed)) if computed else None)
    assert by_unit["BID_PSM"]["Terhitung"] == 1  # KADIS.1.1; 1.5 has a zero target
    total = rows[-1]
    assert total["Unit (Sumber Data)"] == "Seluruh IKI"
    assert total["Jumlah IKI"] == len(achievements(client, reader, 2))


def test_filters_of_the_workbook(client, session, reader, reported):
    book = workbook(
        client.get(
            "/api/v1/reports/achievements.xlsx",
            headers=reader,
            params={"year": YEAR, "quarter": 1, "unit": "BID_RPJS", "verified_only": True},
        )
    )
    listed = achievements(client, reader, 1, unit="BID_RPJS", verified_only=True)
    codes = [
        row[0]
        for name in book.sheetnames[1:]
        for row in book[name].iter_rows(min_row=5, values_only=True)
    ]
    assert codes == list(listed)
    assert "terverifikasi" in book["Ringkasan"]["A2"].value
    summary = rows_of(book["Ringkasan"], 4)[1]
    assert [r["Kode Unit"] for r in summary[:-1]] == ["BID_RPJS"]
    # Nothing is verified: no indicator is computed.
    assert summary[0]["Terhitung"] == 0
    assert_problem(
        client.get("/api/v1/reports/achievements.xlsx", params={"year": YEAR}),
        401,
        "unauthenticated",
    )


# Formula injection ---------------------------------------------------------------------------


def test_formula_like_text_comes_out_as_text(client, session, admin, reader, psm, reported):
    ident = indicator_id(session, "KADIS.1.1")
    name = '+SUM(1;2)*cmd|" /C calc"!A0'
    assert (
        client.patch(f"/api/v1/indicators/{ident}", headers=admin, json={"name": name})
    ).status_code == 200
    note = '=HYPERLINK("http://x","y")'
    response = client.put(
        f"/api/v1/data-values/{YEAR}/2",
        headers=psm,
        json={"values": {"psks_terdata": 120}, "note": note},
    )
    assert response.status_code == 200, response.text
    # A negative number stays a number: psks_diberdayakan may now be negative.
    variable = session.exec(select(Variable).where(Variable.code == "psks_diberdayakan")).one()
    assert (
        client.patch(f"/api/v1/variables/{variable.id}", headers=admin, json={"min_value": None})
    ).status_code == 200
    response = client.put(
        f"/api/v1/data-values/{YEAR}/3",
        headers=psm,
        json={"values": {"psks_diberdayakan": -45, "psks_terdata": 120}},
    )
    assert response.status_code == 200, response.text

    book = workbook(
        client.get(
            "/api/v1/reports/achievements.xlsx",
            headers=reader,
            params={"year": YEAR, "quarter": 3},
        )
    )
    cell = next(r for r in book["KADIS"].iter_rows(min_row=5) if r[0].value == "KADIS.1.1")
    assert cell[1].data_type == "s"
    assert cell[1].value == "'" + name
    quarter_3 = cell[6]
    assert quarter_3.data_type == "n" and quarter_3.value == pytest.approx(-37.5)

    template = workbook(
        client.get(
            f"/api/v1/units/BID_PSM/realization-template.xlsx?year={YEAR}&quarter=2",
            headers=reader,
        )
    )
    sheet = template["Realisasi"]
    header = [c.value for c in sheet[1]]
    row = next(r for r in sheet.iter_rows(min_row=2) if r[0].value == "psks_terdata")
    stored_note = row[header.index("Keterangan tersimpan")]
    assert stored_note.data_type == "s" and stored_note.value == "'" + note

    text = client.get(
        "/api/v1/achievements",
        headers=reader,
        params={"year": YEAR, "quarter": 3, "format": "csv", "indicator": "KADIS.1.1"},
    ).text
    (item,) = list(csv.DictReader(io.StringIO(text)))
    assert item["indicator_name"] == "'" + name
    assert float(item["quarter_realization"]) == pytest.approx(-37.5)


# The realization template --------------------------------------------------------------------


def template(client, headers, unit="BID_PSM", quarter=2, **params):
    return workbook(
        client.get(
            f"/api/v1/units/{unit}/realization-template.xlsx",
            headers=headers,
            params={"year": YEAR, "quarter": quarter, **params},
        )
    )


def test_template_lists_the_units_variables_with_their_rules(client, session, admin, psm, reported):
    tmp = session.exec(select(Variable).where(Variable.code == "tmp_terkelola")).one()
    response = client.patch(
        f"/api/v1/variables/{tmp.id}",
        headers=admin,
        json={"value_type": "number", "max_value": 100},
    )
    assert response.status_code == 200, response.text
    book = template(client, psm)
    assert book.sheetnames == ["Realisasi", "Petunjuk"]
    sheet = book["Realisasi"]
    header, rows = rows_of(sheet, 1)
    assert header[:6] == list(imports.COLUMNS)
    assert header[6:] == list(imports.TEMPLATE_CONTEXT)
    assert {r["variable"] for r in rows} == PSM_VARIABLES
    assert all((r["year"], r["quarter"], r["value"]) == (YEAR, 2, None) for r in rows)
    by_code = {r["variable"]: r for r in rows}
    terdata = by_code["psks_terdata"]
    assert terdata["Agregasi"] == "posisi akhir triwulan"
    assert by_code["psks_diberdayakan"]["Agregasi"] == "dijumlahkan per triwulan"
    assert terdata["Dipakai oleh IKI"].startswith("KADIS.1.1, KADIS.2.1")
    assert (terdata["Nilai triwulan sebelumnya"], terdata["Nilai tersimpan"]) == (100, 120)
    assert rows[0]["variable"] == "psks_diberdayakan"  # SK order: KADIS.1.1 uses it first

    rules = {}
    for validation in sheet.data_validations.dataValidation:
        for cell_range in validation.sqref.ranges:
            for row_number in range(cell_range.min_row, cell_range.max_row + 1):
                assert cell_range.min_col == cell_range.max_col == 4  # the value column
                code = sheet.cell(row=row_number, column=1).value
                rules[code] = (validation.type, validation.formula1, validation.formula2)
        assert validation.prompt and validation.error
        assert validation.showErrorMessage and validation.allow_blank
    assert set(rules) == PSM_VARIABLES
    assert rules["psks_terdata"][:2] == ("whole", "0")
    assert rules["tmp_terkelola"] == ("decimal", "0", "100")
    assert sheet.protection.sheet
    assert not sheet.cell(row=2, column=4).protection.locked
    assert sheet.cell(row=2, column=1).protection.locked


def test_template_for_other_units_and_roles(client, reader, psm):
    book = template(client, reader, unit="UPTD_PPA", quarter=1)
    assert len(rows_of(book["Realisasi"], 1)[1]) == 4
    assert_problem(
        client.get(
            "/api/v1/units/NOPE/realization-template.xlsx",
            headers=psm,
            params={"year": YEAR, "quarter": 1},
        ),
        404,
        "not_found",
    )
    assert_problem(
        client.get(
            "/api/v1/units/BID_PSM/realization-template.xlsx",
            headers=psm,
            params={"year": 2031, "quarter": 1},
        ),
        404,
        "year_not_in_decree",
    )


def fill(book, values):
    """Write `values` (variable code -> cell value) into the template's value column."""
    sheet = book["Realisasi"]
    for row in sheet.iter_rows(min_row=2):
        if row[0].value in values:
            row[3].value = values[row[0].value]
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def post_xlsx(client, headers, content, as_file=True, **params):
    if as_file:
        return client.post(
            "/api/v1/data-values/import",
            headers=headers,
            params=params,
            files={"file": ("realisasi.xlsx", content, "application/octet-stream")},
        )
    return client.post(
        "/api/v1/data-values/import",
        headers={**headers, "Content-Type": XLSX},
        params=params,
        content=content,
    )


def stored(session, quarter):
    rows = session.exec(
        select(Variable.code, DataValue.value)
        .join(DataValue, DataValue.variable_id == Variable.id)
        .where(DataValue.year == YEAR, DataValue.quarter == quarter)
    )
    return dict(rows.all())


def test_a_filled_template_imports_back(client, session, psm, reader, reported):
    before = achievements(client, reader, 3)["KADIS.1.1"]
    assert before["status"] == "partial_data"
    content = fill(
        template(client, psm, quarter=3),
        {"psks_diberdayakan": 25, "psks_terdata": 125, "tmp_terkelola": 0},
    )
    dry = post_xlsx(client, psm, content, dry_run=True)
    assert dry.status_code == 200, dry.text
    assert stored(session, 3) == {}
    response = post_xlsx(client, psm, content)
    assert response.status_code == 200, response.text
    summary = response.json()
    # Two variables left blank are skipped, not refused, and nothing clears them.
    assert (summary["created"], summary["skipped"], summary["rejected"]) == (3, 2, 0)
    assert stored(session, 3) == {"psks_diberdayakan": 25, "psks_terdata": 125, "tmp_terkelola": 0}
    after = achievements(client, reader, 3)["KADIS.1.1"]
    assert after["status"] == "ok"
    assert after["realization"] == pytest.approx(60 / 125 * 100)

    # As the body too; a blank cell keeps the stored value.
    again = fill(template(client, psm, quarter=3), {"psks_terdata": 130})
    response = post_xlsx(client, psm, again, as_file=False)
    assert response.status_code == 200, response.text
    assert (response.json()["updated"], response.json()["skipped"]) == (1, 4)
    assert stored(session, 3)["psks_diberdayakan"] == 25


def test_bad_values_are_refused_row_by_row(client, session, admin, psm, reported):
    tmp = session.exec(select(Variable).where(Variable.code == "tmp_terdata")).one()
    client.patch(f"/api/v1/variables/{tmp.id}", headers=admin, json={"max_value": 10})
    book = template(client, psm, quarter=3)
    sheet = book["Realisasi"]
    numbers = {row[0].value: row[0].row for row in sheet.iter_rows(min_row=2)}
    content = fill(
        book,
        {
            "psks_diberdayakan": 2.5,
            "psks_terdata": "banyak",
            "tmp_terdata": 11,
            "psks_berpartisipasi": "1.000",
            "tmp_terkelola": 3,
        },
    )
    body = assert_problem(post_xlsx(client, psm, content), 422, "import_rejected")
    errors = {(e["row"], e["variable"], e["code"]) for e in body["errors"]}
    assert errors == {
        (numbers["psks_diberdayakan"], "psks_diberdayakan", "not_an_integer"),
        (numbers["psks_terdata"], "psks_terdata", "not_a_number"),
        (numbers["tmp_terdata"], "tmp_terdata", "out_of_range"),
        (numbers["psks_berpartisipasi"], "psks_berpartisipasi", "ambiguous_number"),
    }
    assert stored(session, 3) == {}
    partial = post_xlsx(client, psm, content, atomic="false")
    assert partial.status_code == 200, partial.text
    assert partial.json()["rejected"] == 4
    assert stored(session, 3) == {"tmp_terkelola": 3}


def test_a_date_in_a_column_of_numbers_refuses_the_workbook(client, session, psm, reported):
    """A value typed into a cell formatted as a date (Excel keeps 120 and shows 29/04/1900),
    a date typed into the value column, a year formatted as a date: each row is refused,
    naming its cell, and nothing is stored. A date in the note is read as before."""
    book = template(client, psm, quarter=3)
    sheet = book["Realisasi"]
    numbers = {row[0].value: row[0].row for row in sheet.iter_rows(min_row=2)}
    typed = sheet.cell(numbers["psks_terdata"], 4, 120)
    typed.number_format = "dd/mm/yyyy"
    sheet.cell(numbers["tmp_terdata"], 4, datetime(2025, 9, 30))
    sheet.cell(numbers["psks_diberdayakan"], 4, 20)
    sheet.cell(numbers["psks_diberdayakan"], 2).number_format = "yyyy-mm-dd"  # its 2025
    sheet.cell(numbers["tmp_terkelola"], 4, 3)
    sheet.cell(numbers["tmp_terkelola"], 5, datetime(2025, 1, 1))  # a note
    buffer = io.BytesIO()
    book.save(buffer)
    content = buffer.getvalue()

    body = assert_problem(post_xlsx(client, psm, content), 422, "import_rejected")
    assert body["rejected"] == 3
    found = {e["variable"]: e for e in body["errors"]}
    row = numbers["psks_terdata"]
    assert found["psks_terdata"] == {
        "row": row,
        "variable": "psks_terdata",
        "value": 120,
        "field": "value",
        "code": "date_not_number",
        "message": f"cell D{row} holds a date or time (1900-04-29, stored as 120), not a "
        "number: format the cell as a number",
    }
    row = numbers["tmp_terdata"]
    assert (found["tmp_terdata"]["field"], found["tmp_terdata"]["code"]) == (
        "value",
        "date_not_number",
    )
    assert f"cell D{row} holds a date or time (2025-09-30, " in found["tmp_terdata"]["message"]
    row = numbers["psks_diberdayakan"]
    assert (found["psks_diberdayakan"]["field"], found["psks_diberdayakan"]["code"]) == (
        "year",
        "date_not_number",
    )
    assert (
        f"cell B{row} holds a date or time (1905-07-17, stored as 2025)"
        in (found["psks_diberdayakan"]["message"])
    )
    assert stored(session, 3) == {}

    partial = post_xlsx(client, psm, content, atomic="false")
    assert partial.status_code == 200, partial.text
    assert (partial.json()["created"], partial.json()["rejected"]) == (1, 3)
    assert stored(session, 3) == {"tmp_terkelola": 3}
    note = session.exec(
        select(DataValue.note)
        .join(Variable, Variable.id == DataValue.variable_id)
        .where(Variable.code == "tmp_terkelola", DataValue.quarter == 3)
    ).one()
    assert note == "45658"


def test_a_locked_quarter_refuses_the_workbook(client, session, psm, reported):
    content = fill(template(client, psm, quarter=2), {"psks_terdata": 150})
    submitted = client.post(f"/api/v1/periods/{YEAR}/2/units/BID_PSM/submit", headers=psm)
    assert submitted.status_code == 200, submitted.text
    body = assert_problem(post_xlsx(client, psm, content), 422, "import_rejected")
    assert [e["code"] for e in body["errors"]] == ["period_locked"]
    assert body["errors"][0]["variable"] == "psks_terdata"
    assert stored(session, 2)["psks_terdata"] == 120


def sheet_bytes(rows):
    book = Workbook()
    sheet = book.active
    for row in rows:
        sheet.append(row)
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def test_workbook_columns_and_cells(client, session, psm):
    header = ["Variable", "Year", "Quarter", "Value", "Note", "Satuan"]
    rows = [
        header,
        ["psks_terdata", 2025, 1, 0, 12, "PSKS"],
        [None, None, None, None, None, None],
        ["psks_diberdayakan", "2025", "1", "7", None, None],
    ]
    response = post_xlsx(client, psm, sheet_bytes(rows))
    assert response.status_code == 200, response.text
    assert response.json()["created"] == 2
    assert stored(session, 1) == {"psks_terdata": 0, "psks_diberdayakan": 7}
    note = session.exec(select(DataValue).where(DataValue.value == 0)).one().note
    assert note == "12"

    unknown = [
        ["variable", "year", "quarter", "value", "remarks"],
        ["psks_terdata", 2025, 2, 1, "x"],
    ]
    body = assert_problem(post_xlsx(client, psm, sheet_bytes(unknown)), 422, "import_rejected")
    assert [(e["row"], e["code"], e["field"]) for e in body["errors"]] == [
        (2, "unknown_field", "remarks")
    ]
    missing = [["variable", "year", "value"], ["psks_terdata", 2025, 1]]
    body = assert_problem(post_xlsx(client, psm, sheet_bytes(missing)), 422, "invalid_input")
    assert body["field"] == "header"


def test_what_is_not_a_workbook_is_refused(client, psm, monkeypatch):
    for content in (b"not a zip at all", b"PK\x03\x04broken"):
        body = assert_problem(post_xlsx(client, psm, content), 422, "invalid_input")
        assert body["field"] == "file"
        body = assert_problem(post_xlsx(client, psm, content, as_file=False), 422, "invalid_input")
        assert "workbook" in body["detail"]
    buffer = io.BytesIO()  # a zip, but no workbook
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("hello.txt", "hi")
    body = assert_problem(post_xlsx(client, psm, buffer.getvalue()), 422, "invalid_input")
    assert "workbook" in body["detail"]

    rows = [["variable", "year", "quarter", "value"]] + [["psks_terdata", 2025, 1, 1]] * 4
    monkeypatch.setattr(imports, "MAX_ROWS", 3)
    body = assert_problem(post_xlsx(client, psm, sheet_bytes(rows)), 422, "invalid_input")
    assert "3 rows" in body["detail"]
    monkeypatch.setattr(imports, "MAX_XLSX_BYTES", 1000)
    body = assert_problem(post_xlsx(client, psm, sheet_bytes(rows[:2])), 422, "invalid_input")
    assert "inflates" in body["detail"]


def test_a_csv_file_with_nul_bytes_is_refused(client, psm):
    body = assert_problem(
        client.post(
            "/api/v1/data-values/import",
            headers=psm,
            files={"file": ("x.csv", b"variable,year,quarter,value\nps\x00ks,2025,1,1\n")},
        ),
        422,
        "invalid_input",
    )
    assert body["field"] == "file"
