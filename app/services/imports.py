"""Bulk import of data values from JSON rows or a CSV file, with dry run and atomicity."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Mapping
from typing import Any

from sqlmodel import Session

from app.core.errors import InvalidInput
from app.core.security import Principal
from app.core.types import MAX_TEXT
from app.schemas.data_values import is_unsafe_link
from app.schemas.imports import MAX_ROWS, ImportRowError, ImportSummary
from app.services.common import is_text, resolve_agency
from app.services.data_values import (
    KEEP,
    Rejection,
    Write,
    apply_writes,
    load_agency_variables,
)

COLUMNS = ("variable", "year", "quarter", "value", "note", "evidence")
REQUIRED = ("variable", "year", "quarter", "value")
# The column at fault for each kind of rejection found after a row was read.
_COLUMN_OF = {
    "ambiguous_number": "value",
    "unknown_variable": "variable",
    "not_a_number": "value",
    "not_finite": "value",
    "not_an_integer": "value",
    "out_of_range": "value",
}


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
    missing = [c for c in REQUIRED if c not in header]
    if missing:
        raise InvalidInput(
            f"The CSV header must name the columns {', '.join(COLUMNS[:4])} (missing: "
            f"{', '.join(missing)}); note and evidence are optional",
            field="header",
        )
    reader.fieldnames = header
    rows = []
    for raw in reader:
        rows.append({k: (v.strip() if isinstance(v, str) else v) for k, v in raw.items() if k})
        if len(rows) > MAX_ROWS:
            raise InvalidInput(f"At most {MAX_ROWS} rows per import", field="rows")
    return rows


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


def _integer(value: Any, *, from_csv: bool) -> int | None:
    """A year or quarter: a JSON integer, or the digits of a CSV cell."""
    if from_csv:
        return int(value) if isinstance(value, str) and CSV_PERIOD.fullmatch(value) else None
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def to_writes(
    rows: Iterable[Mapping[str, Any]], *, from_csv: bool
) -> tuple[list[Write], list[Rejection]]:
    """Rows as writes, and the rows that cannot even be read as one."""
    writes: list[Write] = []
    rejections: list[Rejection] = []
    seen: dict[tuple[str, int, int], int] = {}
    for number, row in enumerate(rows, start=1):
        if not isinstance(row, Mapping):
            unreadable = Write("", 0, 0, None, row=number)
            rejections.append(
                Rejection("invalid_row", "a row must be an object", "row", unreadable)
            )
            continue
        broken = [c for c in COLUMNS if isinstance(row.get(c), str) and not is_text(row[c])]
        if broken:
            unreadable = Write("", 0, 0, None, row=number)
            message = "not valid Unicode text (a lone surrogate)"
            rejections.append(Rejection("invalid_text", message, broken[0], unreadable))
            continue
        blank = Write(str(row.get("variable") or ""), 0, 0, row.get("value"), row=number)
        unknown = sorted(set(row) - set(COLUMNS))
        missing = [c for c in REQUIRED if row.get(c) in (None, "")]
        if unknown or missing:
            problem = (
                f"missing {', '.join(missing)}" if missing else f"unknown {', '.join(unknown)}"
            )
            column = (missing or unknown)[0]
            rejections.append(
                Rejection("missing_field" if missing else "unknown_field", problem, column, blank)
            )
            continue
        year = _integer(row["year"], from_csv=from_csv)
        quarter = _integer(row["quarter"], from_csv=from_csv)
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
        if from_csv:
            value = _csv_number(str(value))
            if isinstance(value, tuple):
                code, message = value
                rejections.append(Rejection(code, message, "value", blank))
                continue
        write = Write(
            variable=str(row["variable"]),
            year=year,
            quarter=quarter,
            value=value,
            note=_text(row, "note", from_csv),
            evidence=_text(row, "evidence", from_csv),
            row=number,
        )
        text_problem = _text_problem(write)
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


def _text(row: Mapping[str, Any], column: str, from_csv: bool) -> Any:
    """A note or evidence cell: absent (or an empty CSV cell) keeps what is stored."""
    if column not in row or (from_csv and row[column] in (None, "")):
        return KEEP
    return row[column]


def _text_problem(write: Write) -> tuple[str, str, str] | None:
    """Why a row's note or evidence cannot be stored, as (code, message, column)."""
    for column, value in (("note", write.note), ("evidence", write.evidence)):
        if value is KEEP or value is None:
            continue
        if not isinstance(value, str):
            return "invalid_field", f"{column} must be text", column
        if len(value) > MAX_TEXT:
            return "too_long", f"{column} is longer than {MAX_TEXT} characters", column
    if isinstance(write.evidence, str) and is_unsafe_link(write.evidence):
        return "unsafe_link", "a link must be an http(s) URL", "evidence"
    return None


def run_import(
    session: Session,
    principal: Principal,
    agency_code: str | None,
    rows: list[Mapping[str, Any]],
    *,
    from_csv: bool,
    dry_run: bool,
    atomic: bool,
) -> ImportSummary:
    """Validate every row; store the valid ones unless a dry run, or atomic with rejections."""
    if len(rows) > MAX_ROWS:
        raise InvalidInput(f"At most {MAX_ROWS} rows per import", field="rows")
    agency = resolve_agency(session, agency_code)
    scope = load_agency_variables(session, agency)
    writes, unreadable = to_writes(rows, from_csv=from_csv)
    stop_early = atomic and bool(unreadable)
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
    summary = ImportSummary(
        dry_run=dry_run,
        atomic=atomic,
        created=outcome.created if stored else 0,
        updated=outcome.updated if stored else 0,
        unchanged=outcome.unchanged if stored else 0,
        rejected=len(rejections),
        errors=[
            ImportRowError(
                row=r.write.row or 0,
                variable=r.write.variable or None,
                value=r.write.value if _is_jsonable(r.write.value) else repr(r.write.value),
                field=_COLUMN_OF.get(r.code, r.field.split(".")[0]),
                code=r.code,
                message=r.message,
            )
            for r in rejections
        ],
    )
    return summary


def _is_jsonable(value: Any) -> bool:
    import math

    if isinstance(value, float):
        return math.isfinite(value)
    return value is None or isinstance(value, str | int | bool)
