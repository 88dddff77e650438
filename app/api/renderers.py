"""Presentation: how answers are written when they are not plain JSON models (CSV, and the
conditional answers of the achievements list)."""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from types import UnionType
from typing import Any, Union, get_args, get_origin

from fastapi import Request, Response
from pydantic import BaseModel
from pydantic_core import to_json

from app.core.etag import ETag
from app.core.text import without_controls
from app.schemas.achievements import AchievementPublic
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


# One CSV row per achievement: the JSON item (`AchievementPublic`) flattened, a column per
# field, a nested model's fields as `<field>_<name>`. The first columns say which achievement
# a row is; the rest follow the schema. The indicator's attributes outside that identity keep
# their own names, as CSV readers have known them from the start.
Row = Mapping[str, Any]
Path = tuple[str, ...]
_IDENTITY: tuple[Path, ...] = (
    ("agency",),
    ("indicator", "id"),
    ("indicator", "code"),
    ("indicator", "name"),
    ("position", "code"),
    ("position", "title"),
    ("year",),
    ("quarter",),
)
_NAMES: dict[Path, str] = {
    ("indicator", "unit_of_measure"): "unit_of_measure",
    ("indicator", "polarity"): "polarity",
    ("indicator", "decimals"): "decimals",
}


@dataclass(frozen=True)
class Column:
    """A CSV column: its name, where its value is in the JSON item, and how it is written.
    Numbers stay numbers (a negative one too); every other cell is text made safe for
    spreadsheets, without the control characters that rows stored before they were refused
    may hold."""

    name: str
    path: Path
    write: Callable[[Any], object]
    numeric: bool

    def cell(self, item: Row) -> object:
        value: Any = item
        for key in self.path:
            value = value[key]
            if value is None:
                return ""
        if self.numeric:
            return self.write(value)
        return safe_text(without_controls(str(self.write(value))))


def _model_of(annotation: Any) -> type[BaseModel] | None:
    """The model a field holds (`Model` or `Model | None`), if it holds one."""
    for candidate in (annotation, *get_args(annotation)):
        if isinstance(candidate, type) and issubclass(candidate, BaseModel):
            return candidate
    return None


def leaves(model: type[BaseModel], prefix: Path = ()) -> list[tuple[Path, Any]]:
    """Every field of a model that holds no model, by its path, nested models' fields in
    their place (the schema's order)."""
    found: list[tuple[Path, Any]] = []
    for name, field in model.model_fields.items():
        nested = _model_of(field.annotation)
        path = (*prefix, name)
        found += leaves(nested, path) if nested else [(path, field.annotation)]
    return found


def _kind(annotation: Any) -> Any:
    """The type a field's present values have: `X` of `X | None`, `dict` of `dict[K, V]`."""
    present = [a for a in get_args(annotation) if a is not type(None)]
    if get_origin(annotation) in (Union, UnionType) and len(present) == 1:
        annotation = present[0]
    return get_origin(annotation) or annotation


def _writer(annotation: Any) -> tuple[Callable[[Any], object], bool]:
    """How a present value of a field of this type is written, and whether it is a number."""
    kind = _kind(annotation)
    if kind is float:
        return _num, True
    if kind is int:
        return _same, True
    if kind is bool:
        return lambda value: "true" if value else "false", False
    if kind is dict:
        return _pairs, False
    if kind is list:
        return ";".join, False
    if kind is dt.datetime:
        return dt.datetime.isoformat, False
    return _same, False


def _same(value: object) -> object:
    return value


def csv_columns(model: type[BaseModel]) -> tuple[Column, ...]:
    """The CSV columns of a model's items: the identity first, then the schema's order."""
    fields = dict(leaves(model))
    unknown = [path for path in (*_IDENTITY, *_NAMES) if path not in fields]
    if unknown:
        raise LookupError(f"CSV columns name fields {model.__name__} lacks: {unknown}")
    ordered = [*_IDENTITY, *(path for path in fields if path not in _IDENTITY)]
    return tuple(
        Column(_NAMES.get(path, "_".join(path)), path, *_writer(fields[path])) for path in ordered
    )


CSV_COLUMNS = csv_columns(AchievementPublic)


def _csv(items: Sequence[Row]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(column.name for column in CSV_COLUMNS)
    for item in items:
        writer.writerow(column.cell(item) for column in CSV_COLUMNS)
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
