"""One sheet of an uploaded Excel workbook (.xlsx), read streaming and within limits.

A workbook is a zip of XML parts. Only the parts that lead to the cells are read: the
package's relationships, the workbook's list of sheets and its relationships, the shared
strings, the styles (up to the end of the cell formats) and the one sheet asked for. Each is
inflated through a counting reader that refuses the workbook as soon as the parts read
together pass the size budget, whatever sizes the zip declares, and parsed by expat event by
event, never held as a tree; a document type declaration (and so any entity) is refused.
The limits are checked while reading: the shared strings and the cell formats are counted as
they are parsed, and the sheet's rows and cells as they come, so a workbook past a limit is
refused at the first string, format, row or cell beyond it, before the rest of the part is
even inflated.

Cells are read as stored (what openpyxl's `data_only` reads): a number stays a number (an
int when written without a point or exponent), text is text (`_xHHHH_` escapes decoded), a
boolean is a bool, a formula is its cached result. Only a number whose cell format shows it
as a date or time is told apart, as a `DateCell`: Excel stores a date as a number of days."""

from __future__ import annotations

import io
import posixpath
import re
import zipfile
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from xml.parsers import expat

from app.core.errors import InvalidInput
from app.services.common import quote

CHUNK = 64 * 1024
EXCEL_COLUMNS = 16_384  # column XFD, the last Excel has
EXCEL_FORMATS = 65_490  # the cell formats (and so the number formats) a workbook may hold
VISIBLE = "visible"
_WORKSHEET = "/worksheet"  # how a worksheet's relationship type ends (transitional or strict)
_STYLES = "/styles"
_ESCAPE = re.compile(r"_x([0-9A-Fa-f]{4})_")
_CELL_REFERENCE = re.compile(r"[A-Za-z]{1,3}[0-9]{0,7}")
_INDEX = re.compile(r"[0-9]{1,10}")
# How a number is written in a cell (ASCII digits, at most as long as a double needs).
_NUMBER = re.compile(
    r"[-+]?(?:[0-9]{1,20}(?:\.[0-9]{0,20})?|\.[0-9]{1,20})(?:[eE][-+]?[0-9]{1,3})?"
)
# Excel counts days from 1899-12-30 (so that 1 is 1900-01-01, its 1900 being a leap year),
# or from 1904-01-01 in a workbook of the 1904 date system.
EPOCH_1900 = datetime(1899, 12, 30)
EPOCH_1904 = datetime(1904, 1, 1)
# The built-in number formats that show a date or time: m-d-yy, d-mmm-yy, d-mmm, mmm-yy,
# h:mm AM/PM, h:mm:ss AM/PM, h:mm, h:mm:ss, m/d/yy h:mm; mm:ss, [h]:mm:ss, mmss.0.
_DATE_FORMAT_IDS = frozenset((*range(14, 23), 45, 46, 47))
# What a number format's date tokens are looked for outside of (as openpyxl's
# `is_date_format` reads one): quoted text, and bracketed groups ([Red], [$-421]) but for
# the elapsed [h], [hh], [m], [mm], [s], [ss]. A group ends at the next bracket of either
# kind, so that a format of many `[` is read in one pass.
_FORMAT_LITERAL = re.compile(r'"[^"]*"|\[(?!hh?\]|mm?\]|ss?\])[^\[\]]*\]')
_DATE_TOKEN = re.compile(r"(?<![_\\])[dmhysDMHYS]")  # not after _ (a space) or \ (a literal)


@dataclass(frozen=True)
class Limits:
    """What a workbook may hold: the bytes its parts read inflate to (together; each part
    that only indexes the workbook on its own), its shared strings, and the rows (counting
    the header) and columns of the sheet read."""

    inflated_bytes: int
    index_bytes: int
    shared_strings: int
    rows: int
    columns: int


@dataclass(frozen=True)
class DateCell:
    """A number cell formatted as a date or time: the number Excel stores (days since the
    workbook's epoch, a time as the fraction of a day) and the cell's reference (`D5`)."""

    serial: int | float
    reference: str
    epoch: datetime = EPOCH_1900

    @property
    def text(self) -> str:
        """The date or time as ISO text (`2025-01-01`, `12:30`, `2025-01-01 12:30`), or the
        number when it is no date."""
        day, fraction = divmod(self.serial, 1)
        if self.epoch == EPOCH_1900 and 0 < self.serial < 60:
            day += 1  # before Excel's 29 February 1900, which never was
        seconds = round(fraction * 86_400)
        try:
            moment = self.epoch + timedelta(days=day, seconds=seconds)
        except OverflowError:
            return str(self.serial)
        timespec = "seconds" if seconds % 60 else "minutes"
        if 0 <= self.serial < 1:
            return moment.time().isoformat(timespec)
        if not seconds:
            return moment.date().isoformat()
        return moment.isoformat(" ", timespec)


@dataclass(frozen=True)
class Sheet:
    """A sheet the workbook lists: its name, its state (`visible`, `hidden`, `veryHidden`),
    its part in the zip, and whether it is a worksheet (not a chart sheet)."""

    name: str
    state: str
    part: str
    worksheet: bool

    @property
    def visible(self) -> bool:
        return self.state == VISIBLE


def not_a_workbook(reason: str) -> InvalidInput:
    return InvalidInput(f"The file is not an Excel workbook (.xlsx): {reason}"[:300], field="file")


class Workbook:
    """An uploaded workbook, opened: its sheets are listed; one sheet's rows are read on
    demand. Every read counts against the limits."""

    def __init__(self, raw: bytes, limits: Limits) -> None:
        self.limits = limits
        try:
            self.archive = zipfile.ZipFile(io.BytesIO(raw))
        except (zipfile.BadZipFile, OSError, ValueError, EOFError) as exc:
            raise not_a_workbook(str(exc) or type(exc).__name__) from exc
        declared = sum(info.file_size for info in self.archive.infolist())
        if declared > limits.inflated_bytes:
            raise _too_large(f"{declared} bytes, more than {limits.inflated_bytes}")
        self._names = {name.lower(): name for name in self.archive.namelist()}
        self._left = limits.inflated_bytes
        self._strings_part: str | None = None
        self._styles_part: str | None = None
        self.epoch = EPOCH_1900
        self.sheets = self._sheets()

    def close(self) -> None:
        self.archive.close()

    @property
    def inflated(self) -> int:
        """The bytes inflated so far, every part read counted."""
        return self.limits.inflated_bytes - self._left

    # The parts ------------------------------------------------------------------------------

    def _member(self, part: str) -> str | None:
        return self._names.get(part.lower())

    def _chunks(self, part: str, limit: int | None = None) -> Iterator[bytes]:
        """The inflated bytes of a part, chunk by chunk, counted against the budget as they
        come (and against `limit` for this part)."""
        name = self._member(part)
        if name is None:
            raise not_a_workbook(f"it has no part {quote(part)}")
        read = 0
        try:
            with self.archive.open(name) as stream:
                while chunk := stream.read(CHUNK):
                    read += len(chunk)
                    self._left -= len(chunk)
                    if self._left < 0:
                        raise _too_large(f"more than {self.limits.inflated_bytes} bytes")
                    if limit is not None and read > limit:
                        raise InvalidInput(
                            f"The workbook's part {quote(part)} inflates to more than {limit} "
                            "bytes",
                            field="file",
                        )
                    yield chunk
        except (zipfile.BadZipFile, zlib.error, EOFError, OSError) as exc:
            raise not_a_workbook(f"{quote(part)}: {exc}") from exc
        except (RuntimeError, NotImplementedError) as exc:  # encrypted, unknown compression
            raise not_a_workbook(f"{quote(part)}: {exc}") from exc

    def _parse(
        self,
        part: str,
        start: Callable[[str, dict[str, str]], None],
        end: Callable[[str], None] | None = None,
        text: Callable[[str], None] | None = None,
        limit: int | None = None,
    ) -> Iterator[None]:
        """Parse a part with expat and the handlers (which take names as written: see
        `_local`); yields after each chunk, so that what the handlers gathered can be
        taken."""
        parser = _parser(part)
        parser.StartElementHandler = start
        if end is not None:
            parser.EndElementHandler = end
        if text is not None:
            parser.CharacterDataHandler = text
        try:
            for chunk in self._chunks(part, limit):
                parser.Parse(chunk, False)
                yield
            parser.Parse(b"", True)
        except expat.ExpatError as exc:
            raise not_a_workbook(f"{quote(part)} is not well-formed XML: {exc}") from exc
        yield

    def _relationships(self, part: str) -> dict[str, tuple[str, str]]:
        """The relationships of a part: id -> (type, the target's part name)."""
        folder, base = posixpath.split(part)
        rels = posixpath.join(folder, "_rels", base + ".rels")
        found: dict[str, tuple[str, str]] = {}
        if self._member(rels) is None:
            return found

        def start(name: str, attrs: dict[str, str]) -> None:
            if _local(name) == "Relationship" and attrs.get("TargetMode", "Internal") == "Internal":
                target = attrs.get("Target", "")
                path = target[1:] if target.startswith("/") else posixpath.join(folder, target)
                found[attrs.get("Id", "")] = (attrs.get("Type", ""), posixpath.normpath(path))

        for _ in self._parse(rels, start, limit=self.limits.index_bytes):
            pass
        return found

    def _sheets(self) -> list[Sheet]:
        package = self._relationships("")
        book = next(
            (path for kind, path in package.values() if kind.endswith("/officeDocument")),
            "xl/workbook.xml",
        )
        if self._member(book) is None:
            raise not_a_workbook("it has no workbook part")
        listed: list[tuple[str, str, str]] = []

        def start(name: str, attrs: dict[str, str]) -> None:
            local = _local(name)
            if local == "sheet":
                # r:id, whatever the prefix of the relationships' namespace
                ident = next((v for k, v in attrs.items() if k.endswith(":id")), "")
                listed.append((attrs.get("name", ""), attrs.get("state", VISIBLE), ident))
            elif local == "workbookPr" and attrs.get("date1904") in ("1", "true"):
                self.epoch = EPOCH_1904

        for _ in self._parse(book, start, limit=self.limits.index_bytes):
            pass
        related = self._relationships(book)
        self._strings_part = next(
            (path for kind, path in related.values() if kind.endswith("/sharedStrings")), None
        )
        self._styles_part = next(
            (path for kind, path in related.values() if kind.endswith(_STYLES)), None
        )
        sheets = []
        for name, state, ident in listed:
            kind, part = related.get(ident, ("", ""))
            sheets.append(Sheet(name, state, part, kind.endswith(_WORKSHEET)))
        return sheets

    # Shared strings -------------------------------------------------------------------------

    def shared_strings(self) -> list[str]:
        """Every shared string, in order, refused past the limit as soon as it is met."""
        if self._strings_part is None:
            return []
        reader = _StringsReader(self.limits.shared_strings)
        for _ in self._parse(self._strings_part, reader.start, reader.end, reader.text):
            pass
        return reader.strings

    # Styles ---------------------------------------------------------------------------------

    def date_styles(self) -> frozenset[str]:
        """The cell formats (by index, as a cell's `s` names one) that show a number as a
        date or time; none in a workbook without styles. The part is read up to the end of
        its cell formats, refused past EXCEL_FORMATS of them."""
        if self._styles_part is None:
            return frozenset()
        reader = _StylesReader()
        for _ in self._parse(self._styles_part, reader.start, reader.end):
            if reader.done:
                break
        return frozenset(reader.dates)

    # A sheet's rows -------------------------------------------------------------------------

    def rows(
        self, sheet: Sheet, strings: list[str], date_styles: frozenset[str] = frozenset()
    ) -> Iterator[tuple[int, dict[int, Any]]]:
        """The rows of a sheet that hold a cell, in order, as (row number, {column number:
        value}) with columns from 1; cells without a value are left out, and a number in one
        of `date_styles` is a `DateCell`. Refused at the first row past the row limit, and at
        the first cell past the column limit."""
        reader = _SheetReader(self.limits, strings, date_styles, self.epoch)
        for _ in self._parse(sheet.part, reader.start, reader.end, reader.text):
            yield from reader.rows
            reader.rows.clear()


def _too_large(size: str) -> InvalidInput:
    return InvalidInput(f"The workbook inflates to {size} (a zip bomb?)", field="file")


def _parser(part: str) -> Any:
    # No namespace processing: SpreadsheetML's elements are read by their local names.
    parser = expat.ParserCreate()
    parser.buffer_text = True

    def refuse_doctype(*_: object) -> None:
        raise not_a_workbook(f"{quote(part)} declares a document type")

    parser.StartDoctypeDeclHandler = refuse_doctype
    parser.EntityDeclHandler = refuse_doctype
    return parser


def _local(name: str) -> str:
    """An element's name without its namespace prefix (`x:c` -> `c`; Excel writes none)."""
    return name.rpartition(":")[2] if ":" in name else name


def _unescape(text: str) -> str:
    """Text with Excel's `_xHHHH_` escapes (how it stores characters XML cannot hold)
    decoded."""
    return _ESCAPE.sub(lambda m: chr(int(m.group(1), 16)), text) if "_x" in text else text


def column_number(letters: str) -> int:
    """`A` -> 1, `Z` -> 26, `AA` -> 27."""
    number = 0
    for letter in letters.upper():
        number = number * 26 + ord(letter) - 64
    return number


def column_letters(number: int) -> str:
    """1 -> `A`, 26 -> `Z`, 27 -> `AA`."""
    letters = ""
    while number > 0:
        number, rest = divmod(number - 1, 26)
        letters = chr(65 + rest) + letters
    return letters


def is_date_format(code: str) -> bool:
    """Whether a number format shows a number as a date or time, as openpyxl's
    `is_date_format` reads it: its first section (that of positive numbers) holds one of
    d, m, y, h, s outside quoted text and bracketed groups, and not escaped (`\\d`, `_m`)."""
    first = code.split(";", 1)[0]
    return _DATE_TOKEN.search(_FORMAT_LITERAL.sub("", first)) is not None


class _StringsReader:
    """Expat handlers that gather the shared strings (`<si>`: its `<t>` texts, a rich text's
    runs joined, phonetic readings left out), refusing past the limit. Called for every
    element: kept lean."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.strings: list[str] = []
        self.parts: list[str] = []
        self.gathering = False
        self.phonetic = 0

    def start(self, name: str, attrs: dict[str, str]) -> None:
        if ":" in name:
            name = _local(name)
        if name == "t":
            self.gathering = not self.phonetic
        elif name == "si":
            self.parts.clear()
        elif name == "rPh":
            self.phonetic += 1
        elif name == "sst":
            self._declared(attrs.get("uniqueCount", ""))

    def end(self, name: str) -> None:
        if ":" in name:
            name = _local(name)
        if name == "t":
            self.gathering = False
        elif name == "si":
            strings = self.strings
            strings.append(_unescape("".join(self.parts)))
            if len(strings) > self.limit:
                self._refuse()
        elif name == "rPh":
            self.phonetic -= 1

    def text(self, data: str) -> None:
        if self.gathering:
            self.parts.append(data)

    def _declared(self, count: str) -> None:
        """A table that says it holds more strings than the limit is refused at once."""
        if count.isascii() and count.isdigit() and int(count[:12]) > self.limit:
            self._refuse()

    def _refuse(self) -> None:
        raise InvalidInput(
            f"The workbook holds more than {self.limit} shared strings (distinct texts): more "
            "than an import can read",
            field="file",
        )


class _StylesReader:
    """Expat handlers that find the cell formats (`<cellXfs>`, numbered from 0) whose number
    format is a date or time: a built-in date format, or a custom one (`<numFmts>`, which
    also stands in for a built-in of the same id) that `is_date_format` reads as one. Done at
    the end of the cell formats; refused past EXCEL_FORMATS of either kind."""

    def __init__(self) -> None:
        self.custom: dict[int, bool] = {}  # a custom number format's id -> a date's
        self.dates: set[str] = set()
        self.numbers = 0  # number formats read
        self.formats = 0  # cell formats read
        self.within = ""  # numFmts or cellXfs while in one (a <dxf> holds a numFmt too)
        self.done = False

    def start(self, name: str, attrs: dict[str, str]) -> None:
        if ":" in name:
            name = _local(name)
        if name == "xf":
            if self.within == "cellXfs":
                self._cell_format(attrs)
        elif name == "numFmt":
            if self.within == "numFmts":
                self._number_format(attrs)
        elif name in ("numFmts", "cellXfs"):
            self.within = name

    def end(self, name: str) -> None:
        if ":" in name:
            name = _local(name)
        if name == self.within:
            self.within = ""
            self.done = name == "cellXfs"

    def _number_format(self, attrs: dict[str, str]) -> None:
        if self.numbers >= EXCEL_FORMATS:
            self._refuse("number formats")
        self.numbers += 1
        ident = attrs.get("numFmtId", "")
        if _INDEX.fullmatch(ident):
            self.custom[int(ident)] = is_date_format(attrs.get("formatCode", ""))

    def _cell_format(self, attrs: dict[str, str]) -> None:
        if self.formats >= EXCEL_FORMATS:
            self._refuse("cell formats")
        ident = attrs.get("numFmtId", "0")
        number = int(ident) if _INDEX.fullmatch(ident) else 0
        if self.custom.get(number, number in _DATE_FORMAT_IDS):
            self.dates.add(str(self.formats))
        self.formats += 1

    def _refuse(self, what: str) -> None:
        raise InvalidInput(
            f"The workbook's styles hold more than {EXCEL_FORMATS} {what}: more than Excel allows",
            field="file",
        )


class _SheetReader:
    """Expat handlers that gather a sheet's rows, checking the limits as they go. Called for
    every element and text: kept lean."""

    def __init__(
        self, limits: Limits, strings: list[str], dates: frozenset[str], epoch: datetime
    ) -> None:
        self.limits = limits
        self.strings = strings
        self.dates = dates  # the cell formats of a date or time
        self.epoch = epoch
        self.rows: list[tuple[int, dict[int, Any]]] = []
        self.row = 0  # the current row's number
        self.cells: dict[int, Any] = {}
        self.column = 0  # the current cell's column
        self.kind = "n"  # the current cell's type
        self.dated = False  # whether the current cell's format is a date's or a time's
        self.value: str | None = None  # the current cell's <v>, or its inline string
        self.parts: list[str] = []
        self.gathering = False
        self.inline = False
        self.phonetic = 0
        self.columns: dict[str, int] = {}  # column letters read so far -> number

    def start(self, name: str, attrs: dict[str, str]) -> None:
        if ":" in name:
            name = _local(name)
        if name == "c":
            self._cell(attrs)
        elif name == "v":
            self.gathering = True
            self.parts.clear()
        elif name == "row":
            self._row(attrs)
        elif name == "t":
            self.gathering = self.inline and not self.phonetic
        elif name == "is":
            self.inline = True
            self.parts.clear()
        elif name == "rPh":
            self.phonetic += 1

    def end(self, name: str) -> None:
        if ":" in name:
            name = _local(name)
        if name == "c":
            if self.value is not None:
                self.cells[self.column] = self._value(self.value)
        elif name == "v":
            self.gathering = False
            self.value = "".join(self.parts)
        elif name == "row":
            if self.cells:
                self.rows.append((self.row, self.cells))
        elif name == "t":
            self.gathering = False
        elif name == "is":
            self.inline = False
            self.value = "".join(self.parts)
        elif name == "rPh":
            self.phonetic -= 1

    def text(self, data: str) -> None:
        if self.gathering:
            self.parts.append(data)

    def _row(self, attrs: dict[str, str]) -> None:
        number = _number(attrs["r"], "row") if "r" in attrs else self.row + 1
        if number <= self.row:
            raise not_a_workbook(f"row {number} comes after row {self.row}")
        if number > self.limits.rows:
            raise InvalidInput(
                f"At most {self.limits.rows - 1} rows per import: the sheet goes on past row "
                f"{self.limits.rows}",
                field="rows",
            )
        self.row, self.cells, self.column = number, {}, 0

    def _cell(self, attrs: dict[str, str]) -> None:
        reference = attrs.get("r")
        if reference is None:
            column = self.column + 1
        else:
            letters = reference.rstrip("0123456789")
            column = self.columns.get(letters, 0) or self._column(letters, reference)
        if column <= self.column:
            raise not_a_workbook(f"row {self.row} holds its cells out of order")
        if column > self.limits.columns:
            raise InvalidInput(
                f"At most {self.limits.columns} columns: row {self.row} has a cell in column "
                f"{column}",
                field="columns",
            )
        self.column, self.kind, self.value = column, attrs.get("t", "n"), None
        self.dated = attrs.get("s") in self.dates

    def _column(self, letters: str, reference: str) -> int:
        if not _CELL_REFERENCE.fullmatch(reference):
            raise not_a_workbook(f"a cell is named {quote(reference)}")
        column = column_number(letters)
        if column > EXCEL_COLUMNS:
            raise not_a_workbook(f"a cell is named {quote(reference)}")
        self.columns[letters] = column
        return column

    def _value(self, text: str) -> Any:
        """The current cell's value, by its type."""
        kind = self.kind
        if kind == "n":
            if text.isdigit() and text.isascii() and len(text) < 16:
                number: Any = int(text)
            else:
                number = _cast_number(text) if text.strip() else None
            if self.dated and isinstance(number, int | float):
                reference = f"{column_letters(self.column)}{self.row}"
                return DateCell(number, reference, self.epoch)
            return number
        if kind == "s":
            index = int(text) if _INDEX.fullmatch(text) else -1
            if not 0 <= index < len(self.strings):
                raise not_a_workbook(f"a cell names shared string {quote(text)}, which is missing")
            return self.strings[index]
        if kind in ("inlineStr", "str"):
            return _unescape(text)
        if kind == "b":
            return text.strip() in ("1", "true")
        return text or None  # an error (#N/A ...) or an ISO date, as written


def _number(text: str, what: str) -> int:
    if not text.isascii() or not text.strip().isdigit() or len(text) > 10:
        raise not_a_workbook(f"a {what} is numbered {quote(text)}")
    return int(text)


def _cast_number(text: str) -> Any:
    """A number cell as openpyxl reads it: an int unless written with a point or an
    exponent; text that is no number stays text (the import then says so)."""
    if not _NUMBER.fullmatch(text):
        return text
    return int(text) if text.lstrip("-+").isdigit() else float(text)
