"""Bounded work for imports and exports: hostile workbooks and CSVs are refused early (the
limits are met while reading, before the rest is inflated or parsed), only a visible sheet
is imported, problem answers stay small whatever they name, text with control characters is
refused in an import and dropped from an export.

The hostile files are built here, streaming, by the generators below: a workbook is a zip of
XML parts, written part by part."""

from __future__ import annotations

import csv
import io
import json
import time
import tracemalloc
import zipfile
from collections.abc import Iterable, Iterator
from dataclasses import replace

import pytest
from openpyxl import load_workbook
from sqlmodel import select

from app.core.errors import InvalidInput
from app.models import DataValue, Indicator, Unit, Variable
from app.services import imports
from app.services.xlsx_reader import EXCEL_FORMATS, Workbook
from tests.api.helpers import assert_problem

IMPORT = "/api/v1/data-values/import"
YEAR = 2025
XLSX = imports.XLSX_TYPE
MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
PACKAGE = "http://schemas.openxmlformats.org/package/2006/relationships"
KIND = "application/vnd.openxmlformats-officedocument.spreadsheetml"
HEADER = ("variable", "year", "quarter", "value")
MB = 1024 * 1024


# Generators --------------------------------------------------------------------------------


def _part(archive: zipfile.ZipFile, name: str, chunks: Iterable[str | bytes]) -> None:
    info = zipfile.ZipInfo(name)
    info.compress_type = zipfile.ZIP_DEFLATED
    with archive.open(info, "w", force_zip64=True) as part:
        for chunk in chunks:
            part.write(chunk.encode() if isinstance(chunk, str) else chunk)


def workbook(
    sheets: list[tuple[str, str, Iterable[str | bytes]]],
    strings: Iterable[str | bytes] | None = None,
    styles: Iterable[str | bytes] | None = None,
) -> bytes:
    """A workbook: `sheets` as (name, state, chunks of the rows inside <sheetData>, with no
    <dimension>), the chunks of the shared strings' <si> elements, if any, and the chunks of
    the styles' elements (inside <styleSheet>), if any."""
    out = io.BytesIO()
    numbers = range(1, len(sheets) + 1)
    with zipfile.ZipFile(out, "w") as archive:
        overrides = "".join(
            f'<Override PartName="/xl/worksheets/sheet{n}.xml" ContentType="{KIND}.worksheet+xml"/>'
            for n in numbers
        )
        rels = "".join(
            f'<Relationship Id="rId{n}" Type="{REL}/worksheet" Target="worksheets/sheet{n}.xml"/>'
            for n in numbers
        )
        if strings is not None:
            overrides += (
                '<Override PartName="/xl/sharedStrings.xml" '
                f'ContentType="{KIND}.sharedStrings+xml"/>'
            )
            rels += (
                f'<Relationship Id="rIdS" Type="{REL}/sharedStrings" Target="sharedStrings.xml"/>'
            )
        if styles is not None:
            overrides += f'<Override PartName="/xl/styles.xml" ContentType="{KIND}.styles+xml"/>'
            rels += f'<Relationship Id="rIdT" Type="{REL}/styles" Target="styles.xml"/>'
        _part(
            archive,
            "[Content_Types].xml",
            [
                '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
                '<Default Extension="rels" '
                'ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
                '<Default Extension="xml" ContentType="application/xml"/>'
                f'<Override PartName="/xl/workbook.xml" ContentType="{KIND}.sheet.main+xml"/>'
                f"{overrides}</Types>"
            ],
        )
        _part(
            archive,
            "_rels/.rels",
            [
                f'<Relationships xmlns="{PACKAGE}"><Relationship Id="rId1" '
                f'Type="{REL}/officeDocument" Target="xl/workbook.xml"/></Relationships>'
            ],
        )
        entries = "".join(
            f'<sheet name="{name}" sheetId="{n}" state="{state}" r:id="rId{n}"/>'
            for n, (name, state, _) in zip(numbers, sheets, strict=True)
        )
        _part(
            archive,
            "xl/workbook.xml",
            [f'<workbook xmlns="{MAIN}" xmlns:r="{REL}"><sheets>{entries}</sheets></workbook>'],
        )
        _part(
            archive,
            "xl/_rels/workbook.xml.rels",
            [f'<Relationships xmlns="{PACKAGE}">{rels}</Relationships>'],
        )
        for n, (_, _, rows) in zip(numbers, sheets, strict=True):
            _part(
                archive,
                f"xl/worksheets/sheet{n}.xml",
                [f'<worksheet xmlns="{MAIN}"><sheetData>', *rows, "</sheetData></worksheet>"],
            )
        if strings is not None:
            _part(archive, "xl/sharedStrings.xml", [f'<sst xmlns="{MAIN}">', *strings, "</sst>"])
        if styles is not None:
            _part(
                archive,
                "xl/styles.xml",
                [f'<styleSheet xmlns="{MAIN}">', *styles, "</styleSheet>"],
            )
    return out.getvalue()


def row(number: int, *values: object) -> str:
    """A sheet row: text as inline strings, numbers as numbers."""
    cells = []
    for column, value in enumerate(values):
        name = f"{chr(65 + column)}{number}"
        if isinstance(value, str):
            cells.append(f'<c r="{name}" t="inlineStr"><is><t>{value}</t></is></c>')
        elif value is not None:
            cells.append(f'<c r="{name}"><v>{value}</v></c>')
    return f'<row r="{number}">{"".join(cells)}</row>'


def shared_strings_bomb(count: int = 5_500_000) -> bytes:
    """A valid one-row import whose shared strings inflate to 93 MB: `count` tiny strings
    after the five it uses (the probe's 228 KB workbook). The table declares no count."""
    used = "".join(f"<si><t>{text}</t></si>" for text in (*HEADER, "psks_terdata"))
    block = b"<si><t>a</t></si>" * 10_000

    def strings() -> Iterator[str | bytes]:
        yield used
        for _ in range(count // 10_000):
            yield block

    shared = "".join(f'<c r="{chr(65 + n)}1" t="s"><v>{n}</v></c>' for n in range(4))
    rows = [
        f'<row r="1">{shared}</row>',
        '<row r="2"><c r="A2" t="s"><v>4</v></c><c r="B2"><v>2025</v></c>'
        '<c r="C2"><v>1</v></c><c r="D2"><v>1</v></c></row>',
    ]
    return workbook([("Realisasi", "visible", rows)], strings())


def styled(styles: Iterable[str | bytes]) -> bytes:
    """A valid one-row import whose styles part holds these chunks."""
    rows = [row(1, *HEADER), row(2, "psks_terdata", 2025, 1, 1)]
    return workbook([("Realisasi", "visible", rows)], styles=styles)


def repeated(element: bytes, count: int) -> Iterator[bytes]:
    block = element * 10_000
    for _ in range(count // 10_000):
        yield block


def styles_bomb(count: int = 18_000_000) -> bytes:
    """A valid one-row import whose styles inflate to 86 MB: `count` cell formats."""
    return styled(["<cellXfs>", *repeated(b"<xf/>", count), "</cellXfs>"])


def number_formats_bomb(count: int = 2_000_000) -> bytes:
    """A valid one-row import whose styles inflate to 70 MB: `count` number formats."""
    number_format = b'<numFmt numFmtId="164" formatCode="d"/>'
    return styled(["<numFmts>", *repeated(number_format, count), "</numFmts>"])


def long_sheet(rows: int = 1_000_000) -> bytes:
    """A sheet of a header and `rows` - 1 rows, without <dimension>: 85 MB inflated."""

    def chunks() -> Iterator[str | bytes]:
        yield row(1, *HEADER)
        for start in range(2, rows + 1, 10_000):
            yield b"".join(
                b'<row r="%d"><c><v>1</v></c><c><v>2025</v></c><c><v>1</v></c><c><v>1</v></c>'
                b"</row>" % n
                for n in range(start, min(start + 10_000, rows + 1))
            )

    return workbook([("Sheet1", "visible", chunks())])


def wide_csv(columns: int = 100_000) -> bytes:
    """A CSV header of `columns` columns (789 KB), the four required first."""
    names = [*HEADER, *(f"kolom{n}" for n in range(columns - len(HEADER)))]
    return (",".join(names) + "\npsks_terdata,2025,1,1\n").encode()


def cpu_seconds(call):
    """What `call` answers and the CPU time the process spent on it: the work done,
    whatever else the machine runs (a wall clock on a shared machine measures the others)."""
    start = time.process_time()
    answer = call()
    return answer, time.process_time() - start


def refusal(call) -> tuple[InvalidInput, int]:
    """The refusal `call` raises and the peak memory (bytes) it took."""
    tracemalloc.start()
    try:
        with pytest.raises(InvalidInput) as refused:
            call()
        return refused.value, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


# Hostile files, read by the import ----------------------------------------------------------


def test_shared_strings_are_counted_while_read():
    content = shared_strings_bomb()
    assert len(content) < 300_000
    declared = sum(i.file_size for i in zipfile.ZipFile(io.BytesIO(content)).infolist())
    assert 85 * MB < declared < imports.MAX_XLSX_BYTES  # 93 MB: under the size limit
    book = Workbook(content, imports.xlsx_limits())
    error, peak = refusal(book.shared_strings)
    assert error.extra["field"] == "file"
    assert f"more than {imports.MAX_SHARED_STRINGS} shared strings" in error.detail
    # Refused at string 300,001: 5 MB of the 93 MB inflated, and the memory of a list.
    assert book.inflated < 8 * MB
    assert peak < 50 * MB


def test_a_shared_strings_table_that_says_it_is_too_large_is_refused_at_once():
    strings = [f"<si><t>{t}</t></si>" for t in HEADER]
    content = workbook(
        [("Realisasi", "visible", ['<row r="1"><c t="s"><v>0</v></c></row>'])],
        strings,
    )
    content = _replace(
        content,
        "xl/sharedStrings.xml",
        f'<sst xmlns="{MAIN}" uniqueCount="{imports.MAX_SHARED_STRINGS + 1}">'
        + "".join(strings)
        + "</sst>",
    )
    with pytest.raises(InvalidInput, match="shared strings"):
        imports.parse_xlsx(content)


def test_styles_are_counted_while_read():
    for content, what in (
        (styles_bomb(), "cell formats"),
        (number_formats_bomb(), "number formats"),
    ):
        assert len(content) < 300_000
        declared = sum(i.file_size for i in zipfile.ZipFile(io.BytesIO(content)).infolist())
        assert 60 * MB < declared < imports.MAX_XLSX_BYTES  # under the size limit
        book = Workbook(content, imports.xlsx_limits())
        error, peak = refusal(book.date_styles)
        assert error.extra["field"] == "file"
        assert f"more than {EXCEL_FORMATS} {what}" in error.detail
        # Refused at format 65,491: 2.6 MB at most of the 70 or 86 MB inflated.
        assert book.inflated < 8 * MB
        assert peak < 50 * MB


def test_styles_are_read_up_to_the_end_of_their_cell_formats():
    """The cell formats are numbered apart from the named styles' (cellStyleXfs); what
    follows them (differential formats, named styles ...) is not even inflated."""
    content = styled(
        [
            '<numFmts><numFmt numFmtId="164" formatCode="yyyy-mm-dd"/></numFmts>',
            '<cellStyleXfs><xf numFmtId="14"/></cellStyleXfs>',
            '<cellXfs><xf numFmtId="0"/><xf numFmtId="164"/><xf numFmtId="14"/>'
            '<xf numFmtId="2"/></cellXfs>',
            "<dxfs>",
            *repeated(b'<dxf><numFmt numFmtId="165" formatCode="d"/></dxf>', 1_500_000),
            "</dxfs>",
        ]
    )
    book = Workbook(content, imports.xlsx_limits())
    dates, seconds = cpu_seconds(book.date_styles)
    assert dates == {"1", "2"}
    assert book.inflated < 8 * MB
    assert seconds < 1


def test_the_styles_part_counts_against_the_budget():
    plain = workbook([("Realisasi", "visible", [row(1, *HEADER)])])
    assert Workbook(plain, imports.xlsx_limits()).date_styles() == frozenset()  # no styles
    content = styled(
        ["<fonts>", "<font/>" * 50_000, "</fonts>", '<cellXfs><xf numFmtId="14"/></cellXfs>']
    )
    archive = zipfile.ZipFile(io.BytesIO(content))
    declared = sum(i.file_size for i in archive.infolist())
    size = archive.getinfo("xl/styles.xml").file_size
    book = Workbook(content, replace(imports.xlsx_limits(), inflated_bytes=declared))
    before = book.inflated
    assert book.date_styles() == {"0"}
    assert book.inflated - before == size
    # Read again, its bytes are counted again: past what the workbook may inflate to.
    with pytest.raises(InvalidInput, match=f"inflates to more than {declared} bytes"):
        book.date_styles()
    # A zip that declares the styles smaller than they inflate to: the checksum fails.
    lying = bytearray(content)
    central = lying.rfind(b"PK\x01\x02", 0, lying.rfind(b"xl/styles.xml"))
    lying[central + 24 : central + 28] = (10).to_bytes(4, "little")
    with pytest.raises(InvalidInput, match="not an Excel workbook"):
        imports.parse_xlsx(bytes(lying))


def _replace(content: bytes, name: str, text: str) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(content)) as source, zipfile.ZipFile(out, "w") as target:
        for info in source.infolist():
            target.writestr(info.filename, text if info.filename == name else source.read(info))
    return out.getvalue()


def test_rows_are_counted_while_read():
    content = long_sheet()
    book = Workbook(content, imports.xlsx_limits())
    (sheet,) = book.sheets

    def read_all() -> None:
        for _ in book.rows(sheet, []):
            pass

    error, peak = refusal(read_all)
    assert error.extra["field"] == "rows"
    assert f"At most {imports.MAX_ROWS} rows" in error.detail
    assert f"past row {imports.MAX_ROWS + 1}" in error.detail
    # Refused at row 50,002: 4 MB of the 85 MB inflated; no row is kept by the reader.
    assert book.inflated < 8 * MB
    assert peak < 50 * MB


def test_hostile_files_are_refused_in_under_two_seconds(client, psm):
    """The probe's three (each took minutes before: 75 s, 35 s, 8 minutes here), and styles
    of millions of cell formats."""
    for content, media, field in (
        (shared_strings_bomb(), XLSX, "file"),
        (styles_bomb(), XLSX, "file"),
        (long_sheet(), XLSX, "rows"),
        (wide_csv(), "text/csv", "columns"),
    ):
        answer, seconds = cpu_seconds(
            lambda content=content, media=media: client.post(
                IMPORT,
                headers={**psm, "Content-Type": media},
                params={"dry_run": "true"},
                content=content,
            )
        )
        assert assert_problem(answer, 422, "invalid_input")["field"] == field
        assert seconds < 2, (field, seconds)
    # As a form's file too.
    answer = client.post(
        IMPORT, headers=psm, files={"file": ("realisasi.xlsx", shared_strings_bomb(), XLSX)}
    )
    assert "shared strings" in assert_problem(answer, 422, "invalid_input")["detail"]


def test_a_wide_header_is_refused_at_once():
    with pytest.raises(InvalidInput) as refused:
        imports.parse_csv(wide_csv().decode())
    assert refused.value.extra["field"] == "columns"
    assert "100000" in refused.value.detail
    # Columns are compared once each (a Counter), not each with each: 200,000 in a moment.
    names = [f"kolom{n}" for n in range(200_000)] + ["kolom7"]

    def repeated() -> None:
        with pytest.raises(InvalidInput, match="kolom7 more than once"):
            imports._refuse_repeated_columns(names, "The header")

    _, seconds = cpu_seconds(repeated)
    assert seconds < 2


def test_a_cell_past_the_columns_is_refused():
    wide = row(1, *HEADER) + '<row r="2"><c r="BM2"><v>1</v></c></row>'
    with pytest.raises(InvalidInput) as refused:
        imports.parse_xlsx(workbook([("Realisasi", "visible", [wide])]))
    assert refused.value.extra["field"] == "columns"
    assert f"At most {imports.MAX_COLUMNS} columns" in refused.value.detail
    assert "column 65" in refused.value.detail


def test_parts_are_counted_as_they_inflate(monkeypatch):
    content = workbook([("Realisasi", "visible", [row(1, *HEADER), row(2, "x", 2025, 1, 1)])])
    declared = sum(i.file_size for i in zipfile.ZipFile(io.BytesIO(content)).infolist())
    # What the zip declares is checked before anything is read.
    monkeypatch.setattr(imports, "MAX_XLSX_BYTES", declared - 1)
    with pytest.raises(InvalidInput, match=f"inflates to {declared} bytes"):
        imports.parse_xlsx(content)
    monkeypatch.setattr(imports, "MAX_XLSX_BYTES", 100 * MB)
    # Each part that lists the sheets has a limit of its own, met while it inflates.
    monkeypatch.setattr(imports, "MAX_INDEX_BYTES", 100)
    with pytest.raises(InvalidInput, match=r"part _rels/\.rels inflates to more than 100 bytes"):
        imports.parse_xlsx(content)
    monkeypatch.setattr(imports, "MAX_INDEX_BYTES", MB)
    assert imports.parse_xlsx(content).rows == [
        {"variable": "x", "year": 2025, "quarter": 1, "value": 1}
    ]
    # A zip that declares a part smaller than it inflates to: its reading stops at the
    # declared size, and the checksum fails.
    lying = bytearray(content)
    name = b"xl/worksheets/sheet1.xml"
    central = lying.rfind(b"PK\x01\x02", 0, lying.rfind(name))
    lying[central + 24 : central + 28] = (10).to_bytes(4, "little")
    with pytest.raises(InvalidInput, match="not an Excel workbook"):
        imports.parse_xlsx(bytes(lying))


def test_entities_are_refused():
    bomb = (
        '<!DOCTYPE x [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">]>'
        f'<worksheet xmlns="{MAIN}"><sheetData><row r="1"><c t="inlineStr"><is><t>&b;</t>'
        "</is></c></row></sheetData></worksheet>"
    )
    content = _replace(
        workbook([("Realisasi", "visible", [row(1, *HEADER)])]), "xl/worksheets/sheet1.xml", bomb
    )
    with pytest.raises(InvalidInput, match="document type"):
        imports.parse_xlsx(content)


def test_cells_are_read_as_stored():
    strings = ["<si><t>variable</t></si>", "<si><r><t>psks_</t></r><r><t>terdata</t></r></si>"]
    strings.append("<si><t>catatan_x000D_</t><rPh><t>ignored</t></rPh></si>")
    rows = [
        '<row r="1"><c r="A1" t="s"><v>0</v></c><c r="B1" t="inlineStr"><is><t>year</t></is></c>'
        '<c r="C1" t="str"><f>"quarter"</f><v>quarter</v></c>'
        '<c r="D1" t="inlineStr"><is><t>value</t></is></c>'
        '<c r="E1" t="inlineStr"><is><t>note</t></is></c></row>',
        '<row r="3"><c r="A3" t="s"><v>1</v></c><c r="B3"><v>2025</v></c><c r="C3"><v>2</v></c>'
        '<c r="D3"><v>1.5E1</v></c><c r="E3" t="s"><v>2</v></c></row>',
        '<row r="4"><c r="A4" t="s"><v>1</v></c><c r="B4"><v>2025</v></c><c r="C4"><v>3</v></c>'
        '<c r="D4" t="b"><v>1</v></c></row>',
        '<row r="5"><c r="A5" t="s"><v>1</v></c><c r="B5"><v>2025</v></c><c r="C5"><v>4</v></c>'
        '<c r="D5" t="e"><v>#N/A</v></c><c r="E5"><v>12</v></c></row>',
    ]
    found = imports.parse_xlsx(workbook([("Realisasi", "visible", rows)], strings))
    assert found.numbers == [3, 4, 5]
    assert found.rows[0] == {
        "variable": "psks_terdata",
        "year": 2025,
        "quarter": 2,
        "value": 15.0,
        "note": "catatan",  # stripped: _x000D_ is a carriage return
    }
    assert found.rows[1]["value"] is True
    assert (found.rows[2]["value"], found.rows[2]["note"]) == ("#N/A", "12")


# The sheet imported ---------------------------------------------------------------------------


def template(client, headers, quarter=2):
    response = client.get(
        "/api/v1/units/BID_PSM/realization-template.xlsx",
        headers=headers,
        params={"year": YEAR, "quarter": quarter},
    )
    assert response.status_code == 200, response.text
    return load_workbook(io.BytesIO(response.content))


def saved(book) -> bytes:
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def post(client, headers, content, **params):
    return client.post(
        IMPORT,
        headers=headers,
        params=params,
        files={"file": ("realisasi.xlsx", content, "application/octet-stream")},
    )


def stored(session, code, quarter):
    return session.exec(
        select(DataValue.value)
        .join(Variable, Variable.id == DataValue.variable_id)
        .where(Variable.code == code, DataValue.year == YEAR, DataValue.quarter == quarter)
    ).first()


def fill(sheet, values):
    for cells in sheet.iter_rows(min_row=2):
        if cells[0].value in values:
            cells[3].value = values[cells[0].value]


def test_a_hidden_importable_sheet_is_refused(client, session, psm):
    for state in ("hidden", "veryHidden"):
        book = template(client, psm)
        fill(book["Realisasi"], {"psks_terdata": 150})
        book["Realisasi"].sheet_state = state
        body = assert_problem(post(client, psm, saved(book)), 422, "invalid_input")
        assert body["field"] == "file"
        assert "Realisasi is hidden" in body["detail"]
    assert stored(session, "psks_terdata", 2) is None


def test_the_visible_template_sheet_is_imported_not_a_hidden_first_sheet(client, session, psm):
    book = template(client, psm)
    fill(book["Realisasi"], {"psks_terdata": 150})
    other = book.create_sheet("Lama", 0)
    for cells in (HEADER, ("psks_terdata", YEAR, 2, 999), ("tmp_terdata", YEAR, 2, 5)):
        other.append(cells)
    other.sheet_state = "hidden"
    book.active = 1
    assert book.sheetnames[0] == "Lama"
    response = post(client, psm, saved(book))
    assert response.status_code == 200, response.text
    assert response.json()["created"] == 1
    assert stored(session, "psks_terdata", 2) == 150
    assert stored(session, "tmp_terdata", 2) is None


def test_without_the_template_sheet_only_the_one_visible_sheet_is_read(client, session, psm):
    hidden = [row(1, *HEADER), row(2, "psks_terdata", YEAR, 1, 999)]
    shown = [row(1, *HEADER), row(2, "psks_terdata", YEAR, 1, 7)]
    content = workbook([("Sheet1", "hidden", hidden), ("Data", "visible", shown)])
    response = post(client, psm, content)
    assert response.status_code == 200, response.text
    assert stored(session, "psks_terdata", 1) == 7

    two = workbook([("Sheet1", "visible", hidden), ("Data", "visible", shown)])
    body = assert_problem(post(client, psm, two), 422, "invalid_input")
    assert "no sheet named Realisasi and 2 visible sheets" in body["detail"]
    none = workbook([("Sheet1", "hidden", hidden)])
    body = assert_problem(post(client, psm, none), 422, "invalid_input")
    assert "no visible worksheet" in body["detail"]
    assert stored(session, "psks_terdata", 1) == 7


# Problem answers ------------------------------------------------------------------------------


def test_problems_naming_thousands_of_long_names_stay_small(client, psm):
    long_names = [f"{'x' * 200}{n}" for n in range(3_000)]
    members = dict.fromkeys(long_names, 1)
    answer = client.post(IMPORT, headers=psm, json={"rows": [], **members})
    body = assert_problem(answer, 422, "invalid_input")
    assert len(answer.content) < 50_000
    assert "and 2995 more" in body["detail"]
    assert len(body["field"]) < 50

    rows = [{"variable": "psks_terdata", "year": YEAR, "quarter": 1, "value": 1, **members}] * 5
    answer = client.post(IMPORT, headers=psm, json={"rows": rows})
    body = assert_problem(answer, 422, "import_rejected")
    assert len(answer.content) < 50_000
    assert body["errors"][0]["code"] == "unknown_field"
    assert body["errors"][0]["message"].startswith("unknown (3000): ")

    # 2,000 long unknown columns: more than a sheet or CSV may have, refused at the header.
    header = ",".join([*HEADER, *long_names[:2_000]])
    answer = client.post(
        IMPORT,
        headers={**psm, "Content-Type": "text/csv"},
        content=f"{header}\npsks_terdata,2025,1,1\n",
    )
    body = assert_problem(answer, 422, "invalid_input")
    assert len(answer.content) < 2_000
    assert "names 2004" in body["detail"]


def test_a_rejected_import_lists_a_few_rows_and_the_total(client, psm):
    rows = [
        {"variable": f"{'v' * 300}{n}", "year": YEAR, "quarter": 1, "value": "y" * 5_000}
        for n in range(1_500)
    ]
    answer = client.post(IMPORT, headers=psm, json={"rows": rows})
    body = assert_problem(answer, 422, "import_rejected")
    assert body["rejected"] == 1_500 and body["errors_total"] == 1_500
    assert len(body["errors"]) == 50
    assert len(answer.content) < 50_000
    # The summary of a dry run that is not atomic lists more, each quoted briefly.
    answer = client.post(
        IMPORT, headers=psm, params={"dry_run": "true", "atomic": "false"}, json={"rows": rows}
    )
    assert answer.status_code == 200, answer.text
    assert len(answer.json()["errors"]) == imports.MAX_ERRORS
    assert max(len(json.dumps(e)) for e in answer.json()["errors"]) < 600


# Control characters ---------------------------------------------------------------------------


def test_control_characters_in_imported_text_refuse_the_row(client, session, psm):
    rows = [
        {"variable": "psks_terdata", "year": YEAR, "quarter": 1, "value": 1, "note": "a\x07b"},
        {
            "variable": "psks_diberdayakan",
            "year": YEAR,
            "quarter": 1,
            "value": 1,
            "evidence": "https://example.org/a\nb",
        },
        {"variable": "tmp_ter\x1fdata", "year": YEAR, "quarter": 1, "value": 1},
        {"variable": "tmp_terkelola", "year": YEAR, "quarter": 1, "value": 1, "note": "a\r\nb\tc"},
    ]
    answer = client.post(IMPORT, headers=psm, params={"atomic": "false"}, json={"rows": rows})
    assert answer.status_code == 200, answer.text
    errors = {(e["row"], e["field"], e["code"]) for e in answer.json()["errors"]}
    assert errors == {
        (1, "note", "control_character"),
        (2, "evidence", "control_character"),
        (3, "variable", "control_character"),
    }
    assert "U+0007" in answer.json()["errors"][0]["message"]
    assert answer.json()["created"] == 1  # a note may run over lines and hold tabs

    # In a workbook, Excel writes the character as an escape.
    sheet = [
        row(1, *HEADER, "note"),
        row(2, "psks_terdata", YEAR, 3, 5, "bel_x0007_"),
    ]
    answer = post(client, psm, workbook([("Realisasi", "visible", sheet)]))
    body = assert_problem(answer, 422, "import_rejected")
    assert [(e["row"], e["field"], e["code"]) for e in body["errors"]] == [
        (2, "note", "control_character")
    ]


def test_exports_drop_control_characters_of_stored_rows(client, session, reader, psm):
    """Rows stored before control characters were refused, written here past the API."""
    unit = session.exec(select(Unit).where(Unit.code == "BID_PSM")).one()
    unit.name = "Bidang\x1f PSM"
    indicator = session.exec(select(Indicator).where(Indicator.code == "KADIS.1.1")).one()
    indicator.name = "Persentase\x1f PSKS\x7f yang diberdayakan"
    session.add_all([unit, indicator])
    answer = client.put(
        f"/api/v1/data-values/{YEAR}/2",
        headers=psm,
        json={"values": {"psks_terdata": 120}, "note": "catatan"},
    )
    assert answer.status_code == 200, answer.text
    value = session.exec(
        select(DataValue)
        .join(Variable, Variable.id == DataValue.variable_id)
        .where(Variable.code == "psks_terdata", DataValue.year == YEAR)
    ).one()
    value.note = "catatan\x07 operator\nbaris dua"
    session.add(value)
    session.flush()

    answer = client.get(
        "/api/v1/reports/achievements.xlsx", headers=reader, params={"year": YEAR, "quarter": 2}
    )
    assert answer.status_code == 200, answer.text
    book = load_workbook(io.BytesIO(answer.content))
    units = {r[0]: r[1] for r in book["Ringkasan"].iter_rows(min_row=5, values_only=True)}
    assert units["BID_PSM"] == "Bidang PSM"
    names = {r[0]: r[1] for r in book["KADIS"].iter_rows(min_row=5, values_only=True)}
    assert names["KADIS.1.1"] == "Persentase PSKS yang diberdayakan"

    answer = client.get(
        "/api/v1/units/BID_PSM/realization-template.xlsx",
        headers=reader,
        params={"year": YEAR, "quarter": 2},
    )
    assert answer.status_code == 200, answer.text
    book = load_workbook(io.BytesIO(answer.content))
    sheet = book["Realisasi"]
    header = [c.value for c in sheet[1]]
    notes = {
        r[0]: r[header.index("Keterangan tersimpan")]
        for r in sheet.iter_rows(min_row=2, values_only=True)
    }
    assert notes["psks_terdata"] == "catatan operator\nbaris dua"
    assert "Bidang PSM (BID_PSM)" in book["Petunjuk"]["A1"].value

    answer = client.get(
        "/api/v1/achievements",
        headers=reader,
        params={"year": YEAR, "quarter": 2, "format": "csv", "indicator": "KADIS.1.1"},
    )
    assert answer.status_code == 200, answer.text
    (item,) = list(csv.DictReader(io.StringIO(answer.text)))
    assert item["indicator_name"] == "Persentase PSKS yang diberdayakan"


def test_thirty_thousand_members_are_refused_in_under_two_seconds(client, psm):
    """The probe's JSON import of 30,000 members took 55 s (a quadratic duplicate check);
    the members are now checked once each, and the answer names a few of them."""
    members = {f"kolom_{n:05d}": n for n in range(30_000)}
    twice = ", ".join(f'"m{n}": 1, "m{n}": 2' for n in range(30_000))
    for body, media, path in (
        (json.dumps({"rows": [members]}), "application/json", IMPORT),
        (json.dumps({"values": members}), "application/json", "/api/v1/data-values/2025/1"),
        ('{"values": {' + twice + "}}", "application/json", "/api/v1/data-values/2025/1"),
    ):
        method = client.post if path == IMPORT else client.put
        answer, seconds = cpu_seconds(
            lambda body=body, media=media, path=path, method=method: method(
                path, headers={**psm, "Content-Type": media}, content=body
            )
        )
        assert answer.status_code == 422, answer.text[:500]
        assert len(answer.content) < 64_000
        assert seconds < 2, (path, seconds)
