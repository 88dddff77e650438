"""Constrained types shared by tables, request and response schemas, and routes.

Each limit is stated here once: a field that takes a year is a `Year`, whether it is a table
column, a body member or a query parameter, so the limits cannot drift apart.
"""

from __future__ import annotations

import datetime as dt
import keyword
import math
import re
from typing import TYPE_CHECKING, Annotated, Any, ClassVar, TypeVar

from pydantic import (
    AfterValidator,
    BeforeValidator,
    Field,
    GetJsonSchemaHandler,
    PlainValidator,
    Strict,
    WithJsonSchema,
)
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import CoreSchema

from app.core.text import control_characters
from app.formula import FUNCTIONS
from app.formula import MAX_LENGTH as MAX_FORMULA_LENGTH

T = TypeVar("T")

# Ids are PostgreSQL `integer`s: anything larger cannot name a row (and would overflow).
MAX_ID = 2_147_483_647
MIN_YEAR, MAX_YEAR = 2000, 2100
# Values and bounds: a float holds every integer up to 2**53 exactly; 1e15 leaves room.
MAX_MAGNITUDE = 1e15

# Text limits, from the longest texts of the seeded SK (seed/, and the SK itself) with room to
# spare: a text longer than these is a mistake (a paste gone wrong), not a definition, and
# would make every page, PDF and workbook that prints it slow and unreadable.
MAX_NAME = 255  # an agency's, unit's or position's name: longest 75 (the agency)
MAX_LABEL = 500  # a variable's label: longest 105
MAX_MEASURE = 50  # a unit of measure: longest 9
MAX_STATEMENT = 600  # an indicator's name (longest 183), an objective's statement (136)
MAX_FREE_TEXT = 1000  # explanation (longest 324), data source (125), description (242)
MAX_LINE = 1000  # a Tugas, Fungsi or Butir Kegiatan item: longest 245
MAX_LINES = 50  # Tugas, Fungsi or Butir Kegiatan items of a position: most 16
MAX_PARAGRAPH = 1500  # a Menimbang, Mengingat or Diktum paragraph: longest 440
MAX_TEXT = 2000  # notes: an indicator's (longest 736), a data value's, a workflow step's

ORG_CODE_PATTERN = r"^[A-Z][A-Z0-9_]{0,31}$"
VARIABLE_CODE_PATTERN = r"^[a-z][a-z0-9_]{0,63}$"
INDICATOR_CODE_PATTERN = r"^[A-Z][A-Z0-9_]*\.[0-9]+\.[0-9]+$"
SCALE_CODE_PATTERN = r"^[A-Z][A-Z0-9_]{0,63}$"

if TYPE_CHECKING:
    Omittable = Annotated[T | None, "may be left out"]
else:
    # Pydantic sees only T: a field left out keeps its None default (defaults are never
    # validated), while an explicit null is refused like any other value of the wrong type.
    Omittable = Annotated[T, "may be left out"]
"""A PATCH field that may be left out (unchanged) but not set to null."""


def _not_reserved(code: str) -> str:
    # A variable named like a keyword or a formula function could never be used in a formula.
    if keyword.iskeyword(code) or code in FUNCTIONS:
        raise ValueError(f"'{code}' is a reserved word of formulas; choose another code")
    return code


def number_problem(value: Any) -> tuple[str, str] | None:
    """Why `value` is not a number the service stores, as (code, message), or None.

    JSON numbers only: booleans and numeric strings are refused rather than coerced, and
    NaN/Infinity (which Python's JSON parser accepts) and 1e309 are refused as not finite."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return "not_a_number", "must be a number"
    # An int is compared before isfinite, which would convert a huge one to float and fail.
    if isinstance(value, int) and abs(value) > MAX_MAGNITUDE:
        return "out_of_range", f"must be at most {MAX_MAGNITUDE:g} in size"
    if not math.isfinite(value):
        return "not_finite", "must be a finite number (not NaN or Infinity)"
    if abs(value) > MAX_MAGNITUDE:
        return "out_of_range", f"must be at most {MAX_MAGNITUDE:g} in size"
    return None


def _json_number(value: Any) -> float:
    problem = number_problem(value)
    if problem:
        raise ValueError(problem[1])
    return float(value)


def _refuse_non_numbers(value: Any) -> Any:
    # Before pydantic's lax float, which reads `false` as 0.0 and "1" as 1.0.
    problem = number_problem(value)
    if problem:
        raise ValueError(problem[1])
    return value


Flag = Annotated[bool, Strict()]
"""A yes or no of a body: JSON `true` or `false` only (never 0, 1 or "yes")."""

JsonNumber = BeforeValidator(_refuse_non_numbers)
"""Put after a float's bounds: only a JSON number is read (never `true`, `false` or "1")."""

_DIGITS = re.compile(r"[0-9]+")


def _whole_number(value: Any) -> Any:
    """An integer as sent: a JSON integer, or a text of ASCII digits (a path or query
    parameter, a JSON object's key). Pydantic's lax int would read `true` as 1 and `1_0`,
    ` 1`, `+1` or a full-width `１` as numbers."""
    if isinstance(value, bool):
        raise ValueError("must be a whole number, not true or false")
    if isinstance(value, str):
        if not _DIGITS.fullmatch(value):
            raise ValueError("must be a whole number written with the digits 0-9 only")
        if len(value.lstrip("0")) > 18:  # beyond any limit here (and int() of huge text is slow)
            raise ValueError("is too large")
        return int(value)
    return value


WholeNumber = BeforeValidator(_whole_number)
"""What every integer of the API is read through (ids, years, quarters, paging, decimals).
Written after the bounds (`Annotated[int, Field(ge=1), WholeNumber]`): before them it hides
them from the OpenAPI document, which would state `ge` instead of `minimum`."""


# Periods and ids -----------------------------------------------------------------------------

Id = Annotated[int, Field(ge=1, le=MAX_ID), WholeNumber]
Year = Annotated[
    int, Field(ge=MIN_YEAR, le=MAX_YEAR, description="Year", examples=[2025]), WholeNumber
]
Quarter = Annotated[int, Field(ge=1, le=4, description="Triwulan, 1-4", examples=[1]), WholeNumber]
MAX_SK_NUMBER = 999
SkNumber = Annotated[
    int, Field(ge=1, le=MAX_SK_NUMBER, description="Number in the SK", examples=[1]), WholeNumber
]

# Codes ---------------------------------------------------------------------------------------

AgencyCode = Annotated[
    str,
    Field(
        max_length=32,
        pattern=ORG_CODE_PATTERN,
        description="Agency code: upper case letters, digits and `_`",
        examples=["DINSOSP3A"],
    ),
]
UnitCode = Annotated[
    str,
    Field(
        max_length=32,
        pattern=ORG_CODE_PATTERN,
        description="Unit code, unique in its agency: upper case letters, digits and `_`",
        examples=["BID_PSM"],
    ),
]
PositionCode = Annotated[
    str,
    Field(
        max_length=32,
        pattern=ORG_CODE_PATTERN,
        description="Position code, unique in its agency: upper case letters, digits and `_`",
        examples=["KADIS"],
    ),
]
VariableCode = Annotated[
    str,
    Field(
        max_length=64,
        pattern=VARIABLE_CODE_PATTERN,
        description="snake_case, unique in its agency; the name formulas use",
        examples=["psks_terdata"],
    ),
    AfterValidator(_not_reserved),
]
IndicatorCode = Annotated[
    str,
    Field(
        max_length=64,
        pattern=INDICATOR_CODE_PATTERN,
        description="`POSITION.objective.number`, unique in its decree",
        examples=["KADIS.1.1"],
    ),
]
ScaleCode = Annotated[
    str,
    Field(
        max_length=64,
        pattern=SCALE_CODE_PATTERN,
        description="Rating scale code",
        examples=["PERMENDAGRI_86_2017"],
    ),
]

# Text ----------------------------------------------------------------------------------------


def _one_line(text: str) -> str:
    found = control_characters(text)
    if found:
        raise ValueError(
            f"must be one line without control characters (it holds {', '.join(found[:5])})"
        )
    return text


def _several_lines(text: str) -> str:
    found = control_characters(text, multiline=True)
    if found:
        raise ValueError(
            "must not hold control characters other than tab and line breaks (it holds "
            f"{', '.join(found[:5])})"
        )
    return text


OneLine = AfterValidator(_one_line)
"""A text of one line: no control character at all (`app.core.text`)."""
SeveralLines = AfterValidator(_several_lines)
"""A text that may run over several lines: tab, line feed and carriage return only."""

Name = Annotated[str, Field(min_length=1, max_length=MAX_NAME), OneLine]
Label = Annotated[str, Field(min_length=1, max_length=MAX_LABEL), OneLine]
Measure = Annotated[
    str,
    Field(min_length=1, max_length=MAX_MEASURE, description="Satuan", examples=["orang"]),
    OneLine,
]
Text = Annotated[str, Field(min_length=1, max_length=MAX_STATEMENT), OneLine]
"""A name or statement as the SK words it: an indicator's name, an objective's statement."""
FreeText = Annotated[str, Field(max_length=MAX_FREE_TEXT), SeveralLines]
"""Text that may be empty and run over lines: explanations, data sources, descriptions."""
Notes = Annotated[str, Field(max_length=MAX_TEXT), SeveralLines]
"""Notes that may be empty and run over lines."""
Lines = Annotated[
    list[Annotated[str, Field(min_length=1, max_length=MAX_LINE), OneLine]],
    Field(max_length=MAX_LINES),
]
"""Items of a list (Tugas, Fungsi, Butir Kegiatan), one line each."""
Paragraph = Annotated[str, Field(min_length=1, max_length=MAX_PARAGRAPH), SeveralLines]
"""A paragraph of an SK's text, verbatim."""
DecreeNumber = Annotated[
    str,
    Field(
        min_length=1, max_length=100, description="Nomor SK", examples=["000.8.6.3/06/425.109/2025"]
    ),
    OneLine,
]
FormulaText = Annotated[
    str,
    Field(
        min_length=1,
        max_length=MAX_FORMULA_LENGTH,
        description="Expression over the agency's variable codes; see `POST /formulas/check`",
        examples=["psks_diberdayakan / psks_terdata * 100"],
    ),
    SeveralLines,
]

# Numbers -------------------------------------------------------------------------------------


class _NumberSchema:
    """The JSON Schema of a `Number`: its magnitude, and its bounds by their JSON Schema names.

    Pydantic states the bounds of a type with a validator of its own (`ge`, `le`, `gt`, `lt`
    of `Annotated[Number, Field(ge=0)]`) under those names, which JSON Schema does not know:
    a client or a fuzzer reading the document would not see them. Applied to the outermost
    schema of the type (pydantic moves an annotation's JSON Schema function there), this
    renames them."""

    KEYWORDS: ClassVar[dict[str, str]] = {
        "ge": "minimum",
        "le": "maximum",
        "gt": "exclusiveMinimum",
        "lt": "exclusiveMaximum",
    }

    def __get_pydantic_json_schema__(
        self, schema: CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        rendered = handler(schema)
        rendered.setdefault("minimum", -MAX_MAGNITUDE)
        rendered.setdefault("maximum", MAX_MAGNITUDE)
        for name, standard in self.KEYWORDS.items():
            if name in rendered:
                rendered[standard] = rendered.pop(name)
        return rendered


Number = Annotated[
    float, PlainValidator(_json_number, json_schema_input_type=float), _NumberSchema()
]
"""A finite JSON number (not a boolean nor a numeric string) of at most 1e15 in size. Bounds
go in an `Annotated[Number, Field(ge=0)]`: a field's own `x: Number = Field(ge=0)` would be
dropped by pydantic, unchecked."""

# Dates and times ------------------------------------------------------------------------------

_ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_ISO_DATETIME = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}([T ][0-9]{2}:[0-9]{2}(:[0-9]{2}([.,][0-9]{1,9})?)?"
    r"(Z|z|[+-][0-9]{2}(:?[0-9]{2})?)?)?"
)


def _iso_date(value: Any) -> Any:
    # Pydantic would read 0 or "0" as 1970-01-01 (a Unix time): only ISO 8601 is a date here.
    if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
        return value  # a date already (YAML reads dates itself)
    if not isinstance(value, str) or not _ISO_DATE.fullmatch(value):
        raise ValueError("must be an ISO 8601 date, e.g. 2025-01-03")
    return value


def _iso_datetime(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        return value
    if not isinstance(value, str) or not _ISO_DATETIME.fullmatch(value):
        raise ValueError("must be an ISO 8601 time, e.g. 2025-04-01T00:00:00+07:00")
    return value


IsoDate = Annotated[dt.date, BeforeValidator(_iso_date)]
"""A date written as ISO 8601 (never a number read as a Unix time)."""
IsoDateTime = Annotated[dt.datetime, BeforeValidator(_iso_datetime)]
"""A time written as ISO 8601 (never a number read as a Unix time)."""
"""A finite JSON number (not a boolean nor a numeric string) of at most 1e15 in size."""
Bound = Annotated[
    float,
    Field(allow_inf_nan=False, ge=-MAX_MAGNITUDE, le=MAX_MAGNITUDE),
    JsonNumber,
]
Decimals = Annotated[
    int, Field(ge=0, le=6, description="Decimals to show", examples=[2]), WholeNumber
]

# Keys of objects -----------------------------------------------------------------------------
# A JSON object's keys are strings. Where they are constrained (quarters, variable codes), the
# document states it as `propertyNames`, and the server checks the same pattern.

QUARTER_KEY_PATTERN = r"^[1-4]$"
_QUARTER_KEY = re.compile(QUARTER_KEY_PATTERN)


def _quarter_key(value: Any) -> Any:
    # A quarter key is "1".."4" exactly: not "01", " 1", "+1" or "1.0", which an integer key
    # would read as 1 too (two of them in one object would name one quarter twice).
    if isinstance(value, str) and not _QUARTER_KEY.fullmatch(value):
        raise ValueError('must be a quarter, "1" to "4"')
    return value


QuarterKey = Annotated[
    Quarter,
    BeforeValidator(_quarter_key),
    WithJsonSchema({"type": "string", "pattern": QUARTER_KEY_PATTERN}),
]
"""A quarter as the key of an object: "1".."4"."""
VariableKey = Annotated[str, Field(pattern=VARIABLE_CODE_PATTERN)]
"""A variable's code as the key of an object."""


class _PropertyNames:
    """States the pattern of a dict's keys as `propertyNames`, its values as
    `additionalProperties`. Pydantic writes them as `patternProperties`, which constrains the
    keys that match and leaves every other key free: not what the server accepts."""

    def __get_pydantic_json_schema__(
        self, schema: CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        rendered = handler(schema)
        patterns = rendered.pop("patternProperties", None)
        if patterns:
            ((pattern, values),) = patterns.items()
            rendered["propertyNames"] = {"pattern": pattern}
            rendered["additionalProperties"] = values
        return rendered


KEYS_BY_PATTERN = _PropertyNames()
"""Annotate a dict whose keys are a `QuarterKey` or a `VariableKey` with it:
`Annotated[dict[VariableKey, Number], KEYS_BY_PATTERN]`."""
