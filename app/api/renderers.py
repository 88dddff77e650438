"""Presentation: how answers are written when they are not plain JSON models (CSV, and the
conditional answers of the achievements list)."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from fastapi import Request, Response
from pydantic_core import to_json

from app.core.etag import ETag
from app.schemas.common import PageParams

# A cell starting with one of these is read as a formula by spreadsheets (OWASP: CSV
# injection); a leading apostrophe makes it text.
FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")


def safe_text(text: str) -> str:
    """Text a spreadsheet shows as text, never evaluates: prefixed with `'` when it starts
    like a formula."""
    return "'" + text if text.startswith(FORMULA_TRIGGERS) else text


def _num(value: float | None) -> str:
    return "" if value is None else f"{value:.12g}"


def _pairs(values: dict[str, float | None]) -> str:
    return ";".join(f"{code}={_num(value)}" for code, value in values.items())


# One CSV row per achievement: the JSON item flattened, column by column. Numeric columns
# stay numbers (a negative one too); every other cell is text made safe for spreadsheets.
Row = Mapping[str, Any]
CSV_FIELDS: tuple[tuple[str, Callable[[Row], object]], ...] = (
    ("agency", lambda a: a["agency"]),
    ("indicator_id", lambda a: a["indicator"]["id"]),
    ("indicator_code", lambda a: a["indicator"]["code"]),
    ("indicator_name", lambda a: a["indicator"]["name"]),
    ("position_code", lambda a: a["position"]["code"]),
    ("position_title", lambda a: a["position"]["title"]),
    ("year", lambda a: a["year"]),
    ("quarter", lambda a: a["quarter"]),
    ("unit_of_measure", lambda a: a["indicator"]["unit_of_measure"]),
    ("polarity", lambda a: a["indicator"]["polarity"]),
    ("decimals", lambda a: a["indicator"]["decimals"]),
    ("values", lambda a: _pairs(a["values"])),
    ("quarter_values", lambda a: _pairs(a["quarter_values"])),
    ("quarter_realization", lambda a: _num(a["quarter_realization"])),
    ("realization", lambda a: _num(a["realization"])),
    ("target", lambda a: _num(a["target"])),
    ("achievement", lambda a: _num(a["achievement"])),
    ("rating_code", lambda a: a["rating"]["code"] if a["rating"] else ""),
    ("rating_label", lambda a: a["rating"]["label"] if a["rating"] else ""),
    ("rating_color", lambda a: (a["rating"]["color"] or "") if a["rating"] else ""),
    ("status", lambda a: a["status"]),
    ("reason", lambda a: a["reason"] or ""),
    ("missing_variables", lambda a: ";".join(a["missing_variables"])),
    ("verified", lambda a: str(a["verified"]).lower()),
    ("verification", lambda a: a["verification"]),
    ("unverified", lambda a: ";".join(a["unverified"])),
    ("updated_at", lambda a: a["updated_at"].isoformat() if a["updated_at"] else ""),
)

NUMERIC_FIELDS = frozenset(
    {
        "indicator_id",
        "year",
        "quarter",
        "decimals",
        "quarter_realization",
        "realization",
        "target",
        "achievement",
    }
)


def _csv(items: Sequence[Row]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(name for name, _ in CSV_FIELDS)
    for item in items:
        writer.writerow(
            get(item) if name in NUMERIC_FIELDS else safe_text(str(get(item)))
            for name, get in CSV_FIELDS
        )
    return buffer.getvalue()


def _wants_csv(request: Request, format_: str | None) -> bool:
    if format_ is not None:
        return format_ == "csv"
    accept = request.headers.get("accept", "")
    return "text/csv" in accept and "application/json" not in accept


def achievements_page(
    request: Request,
    found: tuple[Sequence[Row], int],
    page: PageParams,
    cursor: str,
    format_: str | None,
) -> Response:
    """A page of achievements (`CursorPage[AchievementPublic]`) as JSON or (asked by `format`
    or Accept) CSV, with a weak ETag over what is answered; 304 when If-None-Match names it.

    The items are serialised once, by pydantic-core as the model would be, and the tag is
    taken over those bytes: a pull of thousands is not dumped, re-read and dumped again."""
    items, total = found
    as_csv = _wants_csv(request, format_)
    body = to_json(items)
    # The cursor moves with any change anywhere; an unchanged page keeps its ETag (the cursor
    # a client already holds stays valid: it may only bring a change twice).
    etag = ETag.of([as_csv, total, page.limit, page.offset, body], weak=True)
    headers = {"ETag": etag.header, "Cache-Control": "no-cache", "Vary": "Accept"}
    if etag.matches(request.headers.get("if-none-match")):
        return Response(status_code=304, headers=headers)
    if as_csv:
        headers["X-Total-Count"] = str(total)
        headers["X-Cursor"] = cursor
        return Response(_csv(items), media_type="text/csv; charset=utf-8", headers=headers)
    envelope = b'{"items":%b,"total":%d,"limit":%d,"offset":%d,"cursor":%b}' % (
        body,
        total,
        page.limit,
        page.offset,
        to_json(cursor),
    )
    return Response(envelope, media_type="application/json", headers=headers)
