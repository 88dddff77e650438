"""Helpers shared by the routes: pagination, the list envelope and the Location of new rows."""

import datetime as dt
import re
from collections.abc import Iterator
from typing import Annotated, Any

from asgi_correlation_id import correlation_id
from fastapi import Depends, Header, Path, Query, Request, Response
from pydantic import AfterValidator
from sqlmodel import Session

from app.core.db import get_write_session
from app.core.errors import InvalidInput, problem_schema_responses
from app.core.security import Principal
from app.core.types import (
    MAX_ID,
    AgencyCode,
    Id,
    IndicatorCode,
    IsoDateTime,
    PositionCode,
    Quarter,
    UnitCode,
    VariableKey,
    WholeNumber,
    Year,
)
from app.schemas.common import CURSOR_PATTERN, PageParams
from app.services import audit
from app.services.imports import FORM_TYPE, XLSX_TYPE


async def page_params(
    limit: Annotated[
        int, Query(ge=1, le=1000, description="Page size (1-1000)"), WholeNumber
    ] = 100,
    offset: Annotated[int, Query(ge=0, le=MAX_ID, description="Items to skip"), WholeNumber] = 0,
) -> PageParams:
    # Dependencies that do no I/O are async: FastAPI runs a sync one in the thread pool, a
    # hop that costs more than the work.
    return PageParams(limit=limit, offset=offset)


Page = Annotated[PageParams, Depends(page_params)]


def unit_of_work(
    request: Request, session: Annotated[Session, Depends(get_write_session)]
) -> Iterator[Session]:
    """The writing request's transaction: committed when the route returns, rolled back when
    it raises. Services flush and never commit; a service that must not keep its work (a dry
    run, a refused import) rolls back itself. The changes are audited as made by the
    request's key, under the request's id."""
    principal: Principal | None = getattr(request.state, "principal", None)
    audit.act_as(
        session,
        principal.name if principal else None,
        str(principal.role) if principal else None,
        correlation_id.get(),
        principal.identity if principal else None,
    )
    try:
        yield session
    except BaseException:
        session.rollback()
        raise
    session.commit()


# scope="function": the commit happens when the route returns, before the answer is sent, so
# a client never reads an answer whose change is not stored yet (nor one that failed to be).
WriteSessionDep = Annotated[Session, Depends(unit_of_work, scope="function")]


def set_location(request: Request, response: Response, route: str, **path_params: Any) -> None:
    """Point the response's Location header at the route that reads the created resource."""
    response.headers["Location"] = str(request.app.url_path_for(route, **path_params))


def id_path(label: str) -> Any:
    """A path parameter naming a row by id (an `Id`: ASCII digits only)."""
    return Path(description=f"{label} id", examples=[1])


# Bodies that may hold NUL bytes: a workbook, or a form carrying one (the import checks the
# text it decodes from them).
BINARY_BODIES = frozenset({XLSX_TYPE, FORM_TYPE})
# A NUL can reach us only as the JSON escape \u0000 (one not itself escaped) or as %00.
_JSON_NUL = re.compile(rb"(?<!\\)(?:\\\\)*\\u0000")


async def refuse_nul_characters(request: Request) -> None:
    """Refuse NUL characters anywhere in a request: PostgreSQL cannot store them, and no
    code, name or note needs one."""
    if "\x00" in request.url.path or "%00" in request.url.query:
        raise InvalidInput("NUL characters (%00) are not allowed", field="query")
    media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if request.method in {"POST", "PUT", "PATCH"} and media_type not in BINARY_BODIES:
        body = await request.body()
        if body.startswith((b"\xff\xfe", b"\xfe\xff")):
            raise InvalidInput("The body is UTF-16 text: save the file as CSV UTF-8", field="body")
        if b"\x00" in body or _JSON_NUL.search(body):
            raise InvalidInput("NUL characters (\\u0000) are not allowed", field="body")


# Parameters shared by several routes -----------------------------------------------------------

IndicatorId = Annotated[Id, id_path("Indicator")]
AgencyId = Annotated[Id, id_path("Agency")]
_YEAR_RULE = (
    "Year (2000-2100) of a decree (SK): of the indicator, of the agency the request is of "
    "(a unit's data or quarter, a position's document), or, for what spans every agency (a "
    "pull, a workbook, the quarters' states), of any agency. A year of no decree answers "
    "404 `year_not_in_decree`"
)
YearPath = Annotated[Year, Path(description=_YEAR_RULE)]
QuarterPath = Annotated[Quarter, Path()]
YearQuery = Annotated[Year, Query(description=_YEAR_RULE)]
# Optional period filters of a list of values: filters only narrow a list (see README).
ValueYearFilter = Annotated[Year | None, Query(description="Only values of this year")]
QuarterFilter = Annotated[Quarter | None, Query(description="Only this quarter (1-4)")]
UnitPath = Annotated[
    UnitCode,
    Path(
        description="Unit code; a unit the agency does not have answers 404 `not_found`",
        examples=["BID_PSM"],
    ),
]
VerifiedOnly = Annotated[bool, Query(description="Compute only from verified data")]
IfMatch = Annotated[
    str | None,
    Header(
        description="ETag of the values as last read; the write is refused (412) if they "
        "changed since"
    ),
]


def _assume_utc(moment: dt.datetime) -> dt.datetime:
    # A time sent without an offset is read as UTC, the service's clock.
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=dt.UTC)


Since = Annotated[IsoDateTime, AfterValidator(_assume_utc)]
"""A point in time (ISO 8601) for `updated_since` filters; without an offset it is UTC."""

# Filters of lists: a code that names nothing (a unit the agency lacks, a year of no decree)
# gives an empty list; a value that cannot be a code at all is refused (422).
AgencyFilter = Annotated[AgencyCode | None, Query(description="Agency code")]
AgencyOfRequest = Annotated[
    AgencyCode | None,
    Query(description="Agency code; may be left out when the service holds one agency"),
]
"""The agency a request is of (not a filter): an unknown one is invalid input (422)."""
UnitFilter = Annotated[UnitCode | None, Query(description="Unit code")]
OwnerUnitFilter = Annotated[UnitCode | None, Query(description="Owner unit code")]
SourceUnitFilter = Annotated[UnitCode | None, Query(description="Unit code (Sumber Data)")]
PositionFilter = Annotated[PositionCode | None, Query(description="Position code")]
IndicatorFilter = Annotated[IndicatorCode | None, Query(description="Indicator code")]
VariableFilter = Annotated[VariableKey | None, Query(description="Variable code")]
YearFilter = Annotated[Year | None, Query(description="Year of the SK", examples=[2025])]
TextFilter = Annotated[
    str | None, Query(max_length=200, description="Text in the code, name or label")
]
CursorQuery = Annotated[
    str | None,
    Query(
        pattern=CURSOR_PATTERN,
        max_length=21,
        description="The `cursor` of your last pull (an opaque token, `c1-` and up to 18 "
        "digits, as an answer gave it): only what changed since, in commit order; a change "
        "may come twice, none is missed. A token this service did not give answers 422 "
        "`validation_error`",
        examples=["c1-7342"],
    ),
]
DecreeId = Annotated[Id, id_path("Decree")]

# The errors of a create (a code taken) and of a change or delete (missing, or in use).
CREATED = problem_schema_responses(409)
CHANGED = problem_schema_responses(404, 409)

# What a 404 names: the one rule for years and units (README: "Years and units").
NO_SUCH_ROW = "`not_found`: no row of that id"
NO_DECREE_OF_INDICATOR = (
    "`year_not_in_decree`: the indicator belongs to another year's decree (SK); `years` "
    "names its year"
)
NO_DECREE_OF_AGENCY = (
    "`year_not_in_decree`: the agency has no decree (SK) of that year; `years` names those it has"
)
NO_DECREE_AT_ALL = "`year_not_in_decree`: no agency has a decree (SK) of that year"
NO_SUCH_UNIT = "`not_found`: the agency has no unit of that code"


def missing(*what: str) -> dict[int | str, dict[str, Any]]:
    """The documented 404 of a route: each thing that may be missing, with its `code`."""
    return problem_schema_responses(404, descriptions={404: "; or ".join(what)})
