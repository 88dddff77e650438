"""The workbook reader's dates: a number whose cell format shows a date or time (a built-in
date format, or a custom one holding date tokens) is given as a `DateCell`; any other
number stays a number, and text stays text. Workbooks built with openpyxl, as Excel would
save them."""

from __future__ import annotations

import io
import time
import zipfile
from datetime import datetime
from datetime import time as clock
from typing import Any

from openpyxl import Workbook as Book
from openpyxl.styles.numbers import BUILTIN_FORMATS
from openpyxl.styles.numbers import is_date_format as openpyxl_is_date_format
from openpyxl.utils.datetime import MAC_EPOCH

from app.services import imports
from app.services.xlsx_reader import (
    EPOCH_1904,
    DateCell,
    Workbook,
    column_letters,
    column_number,
    is_date_format,
)


def saved(book: Book) -> bytes:
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def cells_of(content: bytes) -> dict[str, Any]:
    """The only sheet's cells, by reference, as the import's reader gives them."""
    book = Workbook(content, imports.xlsx_limits())
    try:
        (sheet,) = book.sheets
        rows = book.rows(sheet, book.shared_strings(), book.date_styles())
        return {
            f"{column_letters(column)}{number}": value
            for number, cells in rows
            for column, value in cells.items()
        }
    finally:
        book.close()


def test_numbers_formatted_as_dates_or_times_are_date_cells():
    book = Book()
    sheet = book.active
    assert sheet is not None
    formatted = {
        "A1": (45658, "yyyy-mm-dd"),
        "B1": (45658.5, "d/m/yyyy h:mm"),
        "C1": (45658, "mm-dd-yy"),  # built-in 14: no numFmt of its own
        "D1": (0.5, "h:mm"),  # built-in 20
        "E1": (1.5, "[h]:mm"),  # elapsed time
        "F1": (120, "[$-421]dd mmmm yyyy"),  # a value typed into a date cell
        "G1": (1.5, "0.00"),
        "H1": (0.25, "0%"),
        "I1": (1234, "#,##0"),
        "J1": (12, '0 "hari"'),  # date letters quoted
        "K1": (7, "[Red]0.00"),
        "L1": (3, "General"),
        "M1": ("2025-01-01", "yyyy-mm-dd"),  # text stays text, whatever its format
    }
    for reference, (value, number_format) in formatted.items():
        sheet[reference] = value
        sheet[reference].number_format = number_format
    sheet["A2"] = datetime(2025, 3, 31, 8, 15)  # openpyxl writes a date's serial, dated
    sheet["B2"] = clock(12, 30, 15)
    content = saved(book)
    styles = zipfile.ZipFile(io.BytesIO(content)).read("xl/styles.xml").decode()
    assert 'numFmtId="14"' in styles and "mm-dd-yy" not in styles

    cells = cells_of(content)
    assert cells == {
        "A1": DateCell(45658, "A1"),
        "B1": DateCell(45658.5, "B1"),
        "C1": DateCell(45658, "C1"),
        "D1": DateCell(0.5, "D1"),
        "E1": DateCell(1.5, "E1"),
        "F1": DateCell(120, "F1"),
        "G1": 1.5,
        "H1": 0.25,
        "I1": 1234,
        "J1": 12,
        "K1": 7,
        "L1": 3,
        "M1": "2025-01-01",
        "A2": DateCell(45747.34375, "A2"),
        "B2": DateCell((12 * 3600 + 30 * 60 + 15) / 86_400, "B2"),
    }
    dates = {reference: cell for reference, cell in cells.items() if isinstance(cell, DateCell)}
    assert {reference: cell.text for reference, cell in dates.items()} == {
        "A1": "2025-01-01",
        "B1": "2025-01-01 12:00",
        "C1": "2025-01-01",
        "D1": "12:00",
        "E1": "1900-01-01 12:00",
        "F1": "1900-04-29",
        "A2": "2025-03-31 08:15",
        "B2": "12:30:15",
    }
    assert isinstance(cells["I1"], int)


def test_a_workbook_of_the_1904_date_system():
    book = Book()
    book.epoch = MAC_EPOCH
    sheet = book.active
    assert sheet is not None
    sheet["A1"] = datetime(2025, 1, 1)
    (cell,) = cells_of(saved(book)).values()
    assert isinstance(cell, DateCell)
    assert (cell.serial, cell.epoch, cell.text) == (44196, EPOCH_1904, "2025-01-01")


def test_a_date_cell_shows_what_excel_shows_or_its_number():
    assert DateCell(1, "A1").text == "1900-01-01"
    assert DateCell(59, "A1").text == "1900-02-28"
    assert DateCell(61, "A1").text == "1900-03-01"  # Excel's 60 is 29 February 1900
    assert DateCell(0.25 + 1 / 86_400, "A1").text == "06:00:01"
    assert DateCell(1e20, "A1").text == "1e+20"  # no date Python holds
    assert DateCell(-1e9, "A1").text == "-1000000000.0"


# Each custom format of this list (and every built-in one) is read as openpyxl reads it.
FORMATS = (
    "yyyy-mm-dd",
    "d/m/yyyy h:mm",
    "dd mmmm yyyy",
    "[h]:mm",
    "[hh]:mm:ss",
    "[mm]:ss",
    "[ss].0",
    "[hhh]:mm",
    "[H]:mm",
    "[Red]0.00",
    "[Blue]General",
    "[$-421]dd mmmm yyyy",
    "[$Rp-421]#,##0",
    '0 "hari"',
    '"d"0',
    r"\d0",
    "0_m",
    "0;d",
    "d;0",
    "General",
    "@",
    "0.00E+00",
    "#,##0.00_);[Red](#,##0.00)",
    "mmm",
    "D",
    "YYYY",
    '"unclosed d',
    "[unclosed d",
    "[[Red]0",
    "",
)


def test_date_formats_are_read_as_openpyxl_reads_them():
    for code in (*FORMATS, *BUILTIN_FORMATS.values()):
        assert is_date_format(code) == openpyxl_is_date_format(code), code
    dated = {n for n, code in BUILTIN_FORMATS.items() if openpyxl_is_date_format(code)}
    assert dated == {*range(14, 23), 45, 46, 47}


def test_a_hostile_format_is_read_in_one_pass():
    """A code of many `[` never closed: openpyxl's expression reads the rest of the code
    again from each one."""
    start = time.process_time()
    assert is_date_format("[" * 200_000 + "0") is False
    assert is_date_format("[" * 200_000 + "d") is True
    assert is_date_format("[h" * 100_000 + "0") is True
    assert time.process_time() - start < 0.5


def test_column_letters_are_the_reverse_of_column_numbers():
    for number in (1, 26, 27, 52, 53, 702, 703, 16_384):
        assert column_number(column_letters(number)) == number
    assert [column_letters(n) for n in (1, 26, 27, 16_384)] == ["A", "Z", "AA", "XFD"]
