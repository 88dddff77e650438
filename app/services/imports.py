"""Bulk import of data values: an upload (JSON, CSV or an Excel workbook, as the body or as a
file) decoded into rows, each row validated, and the valid ones stored unless a dry run, or
atomic with refusals."""

from __future__ import annotations

import csv
import io
import json
import math
import re
import zipfile
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlmodel import Session

from app.core.errors import MAX_FIELD_ERRORS, AppError, InvalidInput
from app.core.jsonbody import unique_members
from app.core.security import Principal
from app.core.text import control_characters
from app.schemas.imports import MAX_ROWS, ImportRowError, ImportSummary
from app.services import audit, common
from app.services.common import NAMES_SHOWN, is_text, quote, resolve_agency
from app.services.data_values import (
    KEEP,
    Rejection,
    Write,
    apply_writes,
    check_texts,
)
from app.services.queries import load_agency_variables
from app.services.xlsx_reader import DateCell, Limits, Sheet, Workbook

# Answers quote what was sent only briefly, and list a bounded number of refused rows (the
# summary's `rejected` counts them all), so a large bad import gets a small answer.
MAX_ERRORS = 1000
NAME_QUOTE = 40  # a column or member named in an answer
MESSAGE_QUOTE = 200
COLUMNS = ("variable", "year", "quarter", "value", "note", "evidence")
REQUIRED = ("variable", "year", "quarter", "value")
NUMBER_COLUMNS = ("year", "quarter", "value")  # a workbook's date cell there is refused
_KNOWN = frozenset(COLUMNS)
# The read-only columns the realization template writes beside COLUMNS: an import ignores
# them (and only them: any other column is refused, as in a CSV).
TEMPLATE_CONTEXT = (
    "Uraian",
    "Satuan",
    "Agregasi",
    "Nilai yang diterima",
    "Dipakai oleh IKI",
    "Nilai triwulan sebelumnya",
    "Nilai tersimpan",
    "Keterangan tersimpan",
)
# The column at fault for each kind of rejection found after a row was read.
_COLUMN_OF = {
    "ambiguous_number": "value",
    "unknown_variable": "variable",
    "not_a_number": "value",
    "not_finite": "value",
    "not_an_integer": "value",
    "out_of_range": "value",
}


CSV_TYPES = {"text/csv", "application/csv", "text/plain"}
JSON_TYPES = {"application/json", ""}  # no content type: JSON, as the docs show it
FORM_TYPE = "multipart/form-data"
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
# A workbook whose parts inflate beyond this is refused (a zip bomb): by the sizes the zip
# declares before anything is read, and by what the parts read really inflate to, counted
# as they are read. The parts that only list the sheets and parts are small.
MAX_XLSX_BYTES = 100 * 1024 * 1024
MAX_INDEX_BYTES = 4 * 1024 * 1024
# An import reads at most six columns, and the realization template has 14 (COLUMNS and
# TEMPLATE_CONTEXT): a sheet or CSV wider than this is not one to import.
MAX_COLUMNS = 64
# A workbook stores each distinct text once, as a shared string. An import of MAX_ROWS rows
# reads at most six texts a row (COLUMNS), and the realization template holds a few per
# variable: more than six per row of the largest import is text no import reads, and
# would cost time and memory to hold.
MAX_SHARED_STRINGS = MAX_ROWS * len(COLUMNS)
# The realization template names its sheet so; an import reads the sheet of that name.
TEMPLATE_SHEET = "Realisasi"


class UnsupportedMedia(InvalidInput):
    status_code = 415
    code = "unsupported_media_type"
    title = "Unsupported media type"

    def __init__(self, content_type: str) -> None:
        super().__init__(
            f"Send application/json, text/csv, {XLSX_TYPE} or multipart/form-data, not "
            f"'{content_type}'"
        )


class ImportRejected(AppError):
    """An atomic import with refused rows: nothing is stored; the problem carries the
    import summary's members."""

    status_code = 422
    code = "import_rejected"
    title = "Import rejected"

    def __init__(self, summary: ImportSummary) -> None:
        # A problem lists a few rows (a dry run that is not atomic lists up to MAX_ERRORS).
        found = summary.model_dump(mode="json")
        found["errors"] = found["errors"][:MAX_FIELD_ERRORS]
        if summary.rejected > len(found["errors"]):
            found["errors_total"] = summary.rejected
        super().__init__(f"{summary.rejected} row(s) refused; nothing was stored", **found)


def media_type(content_type: str | None) -> str:
    """The media type of a `Content-Type` header, without its parameters."""
    return (content_type or "").split(";")[0].strip().lower()


@dataclass(frozen=True)
class Upload:
    """An import as it arrived: its media type and its bytes (the body, or the form's file;
    None when a form came without one), and the form file's name."""

    media_type: str
    content: bytes | None
    filename: str | None = None


@dataclass(frozen=True)
class ImportRows:
    """An upload decoded: its rows, whether their text cells are read by the CSV rules (CSV,
    and a workbook's text cells), and the agency named in a JSON body. A workbook's rows
    carry their sheet row numbers and how many rows without a value were skipped."""

    rows: list[Any]
    csv_rules: bool
    agency: str | None = None
    numbers: list[int] | None = None
    skipped: int = 0


def decode(upload: Upload) -> ImportRows:
    """The rows of an upload: a CSV or Excel file or body, or a JSON
    `{"agency": ..., "rows": [...]}`."""
    if upload.media_type == FORM_TYPE:
        if upload.content is None:
            raise InvalidInput("Send the CSV or Excel file as the form field `file`", field="file")
        if (upload.filename or "").lower().endswith(".xlsx") or is_xlsx(upload.content):
            return parse_xlsx(upload.content)
        return ImportRows(parse_csv(_decode(upload.content)), csv_rules=True)
    raw = upload.content or b""
    if upload.media_type == XLSX_TYPE:
        return parse_xlsx(raw)
    if upload.media_type in CSV_TYPES:
        return ImportRows(parse_csv(_decode(raw)), csv_rules=True)
    if upload.media_type in JSON_TYPES:
        return _json_rows(raw)
    raise UnsupportedMedia(upload.media_type)


def is_xlsx(content: bytes) -> bool:
    """Whether bytes are a zip holding a workbook (an .xlsx sent under another name)."""
    if not content.startswith(b"PK\x03\x04"):
        return False
    try:
        with zipfile.ZipFile(io.BytesIO(content)) as archive:
            names = set(archive.namelist())
    except (zipfile.BadZipFile, OSError, ValueError):
        return False
    return {"[Content_Types].xml", "xl/workbook.xml"} <= names


def parse_xlsx(raw: bytes) -> ImportRows:
    """The rows of a workbook's importable sheet (`_importable_sheet`), its first row naming
    the columns. A row whose value is blank is not reported: skipped, not refused. Numbers
    stay numbers; text cells are read by the CSV rules. A number formatted as a date or time
    stays a `DateCell` in the year, quarter and value columns, which refuse it (`to_writes`),
    and is its number in the others, as before dates were told apart.

    The workbook is read streaming, within `xlsx_limits()`: a workbook past a limit is
    refused as soon as the reading meets it."""
    book = Workbook(raw, xlsx_limits())
    try:
        sheet = _importable_sheet(book.sheets)
        strings = book.shared_strings()
        return _sheet_rows(book.rows(sheet, strings, book.date_styles()))
    finally:
        book.close()


def xlsx_limits() -> Limits:
    """What an imported workbook may hold. The sheet: the header and MAX_ROWS rows, of
    MAX_COLUMNS columns. Its shared strings (each distinct text of the workbook, stored once):
    MAX_SHARED_STRINGS. Its parts: MAX_XLSX_BYTES inflated together, MAX_INDEX_BYTES each
    for those that only list the sheets and parts."""
    return Limits(
        inflated_bytes=MAX_XLSX_BYTES,
        index_bytes=MAX_INDEX_BYTES,
        shared_strings=MAX_SHARED_STRINGS,
        rows=MAX_ROWS + 1,
        columns=MAX_COLUMNS,
    )


def _importable_sheet(sheets: Sequence[Sheet]) -> Sheet:
    """The sheet an import reads: the one named as the realization template names it
    (`Realisasi`, in any case), which must be visible; without one, the only visible
    worksheet. A hidden sheet is never read: what the person who sends a workbook cannot see
    is not imported."""
    named = [s for s in sheets if s.name.strip().casefold() == TEMPLATE_SHEET.casefold()]
    if named:
        sheet = named[0]
        if not sheet.visible:
            raise InvalidInput(
                f"The workbook's sheet {TEMPLATE_SHEET} is hidden ({quote(sheet.state)}): "
                "unhide it, or send a workbook whose data is in sight",
                field="file",
            )
        if not sheet.worksheet:
            raise InvalidInput(f"The workbook's {TEMPLATE_SHEET} is not a worksheet", field="file")
        return sheet
    visible = [s for s in sheets if s.visible and s.worksheet]
    if len(visible) == 1:
        return visible[0]
    if not visible:
        raise InvalidInput("The workbook has no visible worksheet", field="file")
    names = ", ".join(quote(s.name, 31) for s in visible[:5])
    more = f" and {len(visible) - 5} more" if len(visible) > 5 else ""
    raise InvalidInput(
        f"The workbook has no sheet named {TEMPLATE_SHEET} and {len(visible)} visible sheets "
        f"({names}{more}): name the sheet to import {TEMPLATE_SHEET}, or send it alone",
        field="file",
    )


def _sheet_rows(cells: Iterator[tuple[int, dict[int, Any]]]) -> ImportRows:
    number, first = next(cells, (0, {}))
    if number != 1:  # the first row is empty: the sheet names no column
        first = {}
    width = max(first, default=0)
    header = [_header_name(first.get(column)) for column in range(1, width + 1)]
    where = "The first row of the workbook's sheet"
    _require_columns(header, where)
    _refuse_repeated_columns(header, where)
    context = {c.lower() for c in TEMPLATE_CONTEXT}
    wanted = [(i + 1, name) for i, name in enumerate(header) if name and name not in context]
    rows: list[dict[str, Any]] = []
    numbers: list[int] = []
    skipped = 0
    for number, values in cells:
        row = {name: _cell(name, values.get(column)) for column, name in wanted}
        if all(v is None for v in row.values()):
            continue  # an empty line
        if row.get("value") is None:
            skipped += 1
            continue
        rows.append(row)
        numbers.append(number)
    return ImportRows(rows, csv_rules=True, numbers=numbers, skipped=skipped)


def _header_name(value: Any) -> str:
    if isinstance(value, DateCell):
        value = value.serial
    return str(value).strip().lower() if value is not None else ""


def _cell(column: str, value: Any) -> Any:
    """A workbook cell as the import reads it: text stripped (blank: None); a note or
    evidence as text; a date as its number but in the columns of numbers."""
    if isinstance(value, str):
        value = value.strip()
        return value or None
    if isinstance(value, DateCell) and column not in NUMBER_COLUMNS:
        value = value.serial
    if value is not None and column in ("note", "evidence") and not isinstance(value, bool):
        return str(value)
    return value


def _json_rows(raw: bytes) -> ImportRows:
    try:
        data = json.loads(raw, object_pairs_hook=unique_members)
    except InvalidInput:
        raise
    except (ValueError, RecursionError) as exc:  # UnicodeDecodeError is a ValueError
        raise InvalidInput(f"The body is not valid JSON: {quote(str(exc))}", field="body") from exc
    if not isinstance(data, dict) or not isinstance(data.get("rows"), list):
        raise InvalidInput('The body must be {"agency": ..., "rows": [...]}', field="rows")
    extra = sorted(set(data) - {"agency", "rows"})
    if extra:
        raise InvalidInput(
            f"Unknown members ({len(extra)}): {_named(extra)}", field=quote(extra[0], NAME_QUOTE)
        )
    agency = data.get("agency")
    if agency is not None and not isinstance(agency, str):
        raise InvalidInput("agency must be an agency code", field="agency")
    return ImportRows(data["rows"], csv_rules=False, agency=agency or None)


def _decode(raw: bytes) -> str:
    # A form's file is not checked for NULs with the rest of the request (a workbook holds
    # them): a CSV must not.
    if b"\x00" in raw:
        raise InvalidInput(
            "The file is not text (it holds NUL bytes): save it as CSV UTF-8 or send the "
            ".xlsx workbook",
            field="file",
        )
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        pass
    try:
        return raw.decode("cp1252")  # Excel on Windows saves CSV in the ANSI code page
    except UnicodeDecodeError as exc:
        raise InvalidInput(
            "The file is not text: save it as CSV (UTF-8 or Windows-1252)", field="file"
        ) from exc


def parse_csv(text: str) -> list[dict[str, Any]]:
    """CSV rows as dicts; the header names the columns; `,` or `;` (Excel's) as delimiter."""
    try:
        return _parse_csv(text)
    except csv.Error as exc:  # a bare CR, a field over the csv module's limit ...
        raise InvalidInput(f"The CSV cannot be read: {exc}", field="body") from exc


def _parse_csv(text: str) -> list[dict[str, Any]]:
    text = text.lstrip("\ufeff")
    first_line = text.split("\n", 1)[0]
    delimiter = ";" if first_line.count(";") > first_line.count(",") else ","
    reader = csv.DictReader(io.StringIO(text), delimiter=delimiter)
    header = [h.strip().lower() for h in reader.fieldnames or []]
    if len(header) > MAX_COLUMNS:
        raise InvalidInput(
            f"At most {MAX_COLUMNS} columns: the CSV header names {len(header)}", field="columns"
        )
    _require_columns(header, "The CSV header")
    _refuse_repeated_columns(header, "The CSV header")
    reader.fieldnames = header
    rows = []
    for raw in reader:
        rows.append({k: (v.strip() if isinstance(v, str) else v) for k, v in raw.items() if k})
        if len(rows) > MAX_ROWS:
            raise InvalidInput(f"At most {MAX_ROWS} rows per import", field="rows")
    return rows


def _named(items: Sequence[str]) -> str:
    """The first few of `items`, each quoted briefly, and how many more there are."""
    shown = ", ".join(quote(item, NAME_QUOTE) for item in items[:NAMES_SHOWN])
    more = len(items) - NAMES_SHOWN
    return f"{shown} and {more} more" if more > 0 else shown


def _refuse_repeated_columns(header: Sequence[str], where: str) -> None:
    """Two columns of the same name: which one holds the value is not clear."""
    twice = sorted(name for name, count in Counter(header).items() if name and count > 1)
    if twice:
        raise InvalidInput(
            f"{where} names {_named(twice)} more than once; keep one column of each",
            field="header",
        )


def _require_columns(header: Sequence[str], where: str) -> None:
    missing = [c for c in REQUIRED if c not in header]
    if missing:
        raise InvalidInput(
            f"{where} must name the columns {', '.join(COLUMNS[:4])} (missing: "
            f"{', '.join(missing)}); note and evidence are optional",
            field="header",
        )


# ASCII digits only (\d would take any script's), and no more than a float can hold.
CSV_NUMBER = re.compile(r"-?[0-9]{1,20}(\.[0-9]{1,20})?([eE][-+]?[0-9]{1,3})?")
# 1.000 or 12.500.000: a thousands separator as Excel writes it in the Indonesian locale.
GROUPED_THOUSANDS = re.compile(r"-?[1-9][0-9]{0,2}(\.[0-9]{3})+")
CSV_PERIOD = re.compile(r"[0-9]{1,4}")


def _csv_number(text: str) -> float | int | tuple[str, str]:
    """A CSV cell as a number, or why it is not one as (code, message)."""
    if GROUPED_THOUSANDS.fullmatch(text):
        plain = text.replace(".", "")
        return "ambiguous_number", (
            f"'{text}' could be {plain} or a decimal: write numbers without thousands "
            "separators, with a point for decimals"
        )
    if not CSV_NUMBER.fullmatch(text):
        hint = " (use a point for decimals)" if re.fullmatch(r"-?[0-9]+,[0-9]+", text) else ""
        return "not_a_number", f"'{text[:40]}' is not a number{hint}"
    return int(text) if text.lstrip("-").isdigit() else float(text)


def _integer(value: Any, *, csv_rules: bool) -> int | None:
    """A year or quarter: an integer (JSON, a workbook's number), or the digits of a text
    cell read by the CSV rules."""
    if isinstance(value, str):
        return int(value) if csv_rules and CSV_PERIOD.fullmatch(value) else None
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def to_writes(
    rows: Iterable[Mapping[str, Any]],
    *,
    csv_rules: bool,
    numbers: Sequence[int] | None = None,
) -> tuple[list[Write], list[Rejection]]:
    """Rows as writes, and the rows that cannot even be read as one. Rows are numbered from
    1, or by `numbers` (a workbook's sheet rows)."""
    writes: list[Write] = []
    rejections: list[Rejection] = []
    seen: dict[tuple[str, int, int], int] = {}
    for index, row in enumerate(rows):
        number = numbers[index] if numbers is not None else index + 1
        if not isinstance(row, Mapping):
            unreadable = Write("", 0, 0, None, row=number)
            rejections.append(
                Rejection("invalid_row", "a row must be an object", "row", unreadable)
            )
            continue
        broken = [
            c
            for c in COLUMNS
            if isinstance(row.get(c), str) and (not is_text(row[c]) or "\x00" in row[c])
        ]
        if broken:
            unreadable = Write("", 0, 0, None, row=number)
            message = "not valid Unicode text (a lone surrogate or a NUL)"
            rejections.append(Rejection("invalid_text", message, broken[0], unreadable))
            continue
        blank = Write(str(row.get("variable") or ""), 0, 0, row.get("value"), row=number)
        code = row.get("variable")
        found = control_characters(code) if isinstance(code, str) else []
        if found:
            message = f"variable holds control characters ({', '.join(found[:NAMES_SHOWN])})"
            rejections.append(Rejection("control_character", message, "variable", blank))
            continue
        unknown = sorted(set(row) - _KNOWN)
        missing = [c for c in REQUIRED if row.get(c) in (None, "")]
        if unknown or missing:
            problem = (
                f"missing {', '.join(missing)}"
                if missing
                else f"unknown ({len(unknown)}): {_named(unknown)}"
            )
            column = (missing or unknown)[0]
            rejections.append(
                Rejection("missing_field" if missing else "unknown_field", problem, column, blank)
            )
            continue
        dated = next((c for c in NUMBER_COLUMNS if isinstance(row.get(c), DateCell)), None)
        if dated is not None:
            rejections.append(Rejection("date_not_number", _date_message(row[dated]), dated, blank))
            continue
        year = _integer(row["year"], csv_rules=csv_rules)
        quarter = _integer(row["quarter"], csv_rules=csv_rules)
        if year is None:
            rejections.append(
                Rejection("invalid_year", "year must be a whole number", "year", blank)
            )
            continue
        if quarter is None:
            rejections.append(
                Rejection("invalid_quarter", "quarter must be 1, 2, 3 or 4", "quarter", blank)
            )
            continue
        value = row["value"]
        if csv_rules and isinstance(value, str):
            value = _csv_number(value)
            if isinstance(value, tuple):
                code, message = value
                rejections.append(Rejection(code, message, "value", blank))
                continue
        write = Write(
            variable=str(row["variable"]),
            year=year,
            quarter=quarter,
            value=value,
            note=_text(row, "note", csv_rules),
            evidence=_text(row, "evidence", csv_rules),
            row=number,
        )
        text_problem = check_texts(write)
        if text_problem is not None:
            code, message, column = text_problem
            rejections.append(Rejection(code, message, column, write))
            continue
        key = (write.variable, year, quarter)
        if key in seen:
            rejections.append(
                Rejection(
                    "duplicate_row",
                    f"same variable and period as row {seen[key]}",
                    "variable",
                    write,
                )
            )
            continue
        seen[key] = number
        writes.append(write)
    return writes, rejections


def _date_message(cell: DateCell) -> str:
    return (
        f"cell {cell.reference} holds a date or time ({cell.text}, stored as {cell.serial}), "
        "not a number: format the cell as a number"
    )


def _text(row: Mapping[str, Any], column: str, csv_rules: bool) -> Any:
    """A note or evidence cell: absent (or an empty CSV or workbook cell) keeps what is
    stored."""
    if column not in row or (csv_rules and row[column] in (None, "")):
        return KEEP
    return row[column]


def import_upload(
    session: Session,
    write_session: Session,
    principal: Principal,
    upload: Upload,
    *,
    agency: str | None,
    dry_run: bool,
    atomic: bool,
) -> ImportSummary:
    """Decode an upload and import its rows into the agency it names (the JSON body's, else
    `agency`). An atomic import with refused rows raises `ImportRejected`; a dry run keeps
    nothing.

    Every row is first validated on `session`, which takes no lock; only then are the rows
    written, on `write_session`, in one transaction that validates them again under the
    agency's lock (a quarter may have been submitted meanwhile) and stores them: a long
    import holds the lock no longer than its writing takes, and other writers are not kept
    waiting while it is read and checked."""
    found = decode(upload)
    if found.agency and agency and found.agency != agency:
        raise InvalidInput(
            f"The body names agency {quote(found.agency)} and the query {quote(agency)}: "
            "name it once, or the same in both",
            field="agency",
        )
    agency_code = found.agency or agency
    checked = run_import(session, principal, agency_code, found, dry_run=True, atomic=atomic)
    if checked.rejected and atomic:
        raise ImportRejected(checked.model_copy(update={"dry_run": dry_run}))
    if dry_run:
        session.rollback()
        return checked
    summary = run_import(write_session, principal, agency_code, found, dry_run=False, atomic=atomic)
    if summary.rejected and atomic:
        raise ImportRejected(summary)
    return summary


def run_import(
    session: Session,
    principal: Principal,
    agency_code: str | None,
    found: ImportRows,
    *,
    dry_run: bool,
    atomic: bool,
) -> ImportSummary:
    """Validate every row; store the valid ones unless a dry run, or atomic with rejections."""
    if len(found.rows) > MAX_ROWS:
        raise InvalidInput(f"At most {MAX_ROWS} rows per import", field="rows")
    # Rows are read before the first statement: a writing transaction begins with it.
    writes, unreadable = to_writes(found.rows, csv_rules=found.csv_rules, numbers=found.numbers)
    agency = resolve_agency(session, agency_code)
    scope = load_agency_variables(session, agency)
    stop_early = atomic and bool(unreadable)
    with audit.action(session, "import"):
        outcome = apply_writes(
            session,
            principal,
            scope,
            writes,
            dry_run=dry_run or stop_early,
            atomic=atomic,
            field_prefix="variable",
        )
    rejections = sorted(unreadable + outcome.rejections, key=lambda r: r.write.row or 0)
    stored = not rejections or not atomic
    if stored and not dry_run and outcome.created + outcome.updated > common.BULK_ROWS:
        common.analyze(session, ["data_value", "audit_event"])
    summary = ImportSummary(
        dry_run=dry_run,
        atomic=atomic,
        created=outcome.created if stored else 0,
        updated=outcome.updated if stored else 0,
        unchanged=outcome.unchanged if stored else 0,
        skipped=found.skipped,
        rejected=len(rejections),
        errors=[
            ImportRowError(
                row=r.write.row or 0,
                variable=quote(r.write.variable) if r.write.variable else None,
                value=_echo(r.write.value),
                field=quote(_COLUMN_OF.get(r.code, r.field.split(".")[0]), NAME_QUOTE),
                code=r.code,
                message=quote(r.message, MESSAGE_QUOTE),
            )
            for r in rejections[:MAX_ERRORS]
        ],
    )
    return summary


def _echo(value: Any) -> Any:
    """A row's value as sent, to quote it back: short, and always JSON."""
    if isinstance(value, str):
        return quote(value)
    if isinstance(value, DateCell):
        return value.serial
    return value if _is_jsonable(value) else quote(repr(value))


def _is_jsonable(value: Any) -> bool:
    if isinstance(value, float):
        return math.isfinite(value)
    return value is None or isinstance(value, str | int | bool)
