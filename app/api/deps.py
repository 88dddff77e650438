"""Helpers shared by the routes: pagination, the list envelope and the Location of new rows."""

from typing import Annotated, Any

from fastapi import Depends, Path, Query, Request, Response

from app.models.base import MAX_ID
from app.services.definitions import PageParams


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
