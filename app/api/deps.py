"""Helpers shared by the routes: pagination, the list envelope and the Location of new rows."""

import re
from typing import Annotated, Any

from fastapi import Depends, Path, Query, Request, Response

from app.core.errors import InvalidInput, problem_schema_responses
from app.core.types import MAX_ID, MAX_YEAR, MIN_YEAR
from app.schemas.common import PageParams


def page_params(
    limit: Annotated[int, Query(ge=1, le=1000, description="Page size (1-1000)")] = 100,
    offset: Annotated[int, Query(ge=0, le=MAX_ID, description="Items to skip")] = 0,
) -> PageParams:
    return PageParams(limit=limit, offset=offset)


Page = Annotated[PageParams, Depends(page_params)]


def set_location(request: Request, response: Response, route: str, **path_params: Any) -> None:
    """Point the response's Location header at the route that reads the created resource."""
    response.headers["Location"] = str(request.app.url_path_for(route, **path_params))


def id_path(label: str) -> Any:
    """A path parameter naming a row by id."""
    return Path(ge=1, le=MAX_ID, description=f"{label} id", examples=[1])


# A NUL can reach us only as the JSON escape \u0000 (one not itself escaped) or as %00.
_JSON_NUL = re.compile(rb"(?<!\\)(?:\\\\)*\\u0000")


async def refuse_nul_characters(request: Request) -> None:
    """Refuse NUL characters anywhere in a request: PostgreSQL cannot store them, and no
    code, name or note needs one."""
    if "\x00" in request.url.path or "%00" in request.url.query:
        raise InvalidInput("NUL characters (%00) are not allowed", field="query")
    if request.method in {"POST", "PUT", "PATCH"}:
        body = await request.body()
        if body.startswith((b"\xff\xfe", b"\xfe\xff")):
            raise InvalidInput("The body is UTF-16 text: save the file as CSV UTF-8", field="body")
        if b"\x00" in body or _JSON_NUL.search(body):
            raise InvalidInput("NUL characters (\\u0000) are not allowed", field="body")


# Filters and path parameters that several resources take.
AgencyFilter = Annotated[str | None, Query(description="Agency code", examples=["DINSOSP3A"])]
UnitFilter = Annotated[str | None, Query(description="Unit code", examples=["BID_PSM"])]
SourceUnitFilter = Annotated[
    str | None, Query(description="Unit code (Sumber Data)", examples=["BID_PSM"])
]
PositionFilter = Annotated[str | None, Query(description="Position code", examples=["KADIS"])]
YearFilter = Annotated[
    int | None, Query(ge=MIN_YEAR, le=MAX_YEAR, description="Year of the SK", examples=[2025])
]
TextFilter = Annotated[
    str | None, Query(max_length=200, description="Text in the code, name or label")
]
DecreeId = Annotated[int, id_path("Decree")]
IndicatorId = Annotated[int, id_path("Indicator")]

# The errors of a create (a code taken) and of a change or delete (missing, or in use).
CREATED = problem_schema_responses(409)
CHANGED = problem_schema_responses(404, 409)
