"""Dependencies shared by the routes: pagination and the list envelope."""

from typing import Annotated

from fastapi import Depends, Query

from app.services.definitions import PageParams


def page_params(
    limit: Annotated[int, Query(ge=1, le=1000, description="Page size (1-1000)")] = 100,
    offset: Annotated[int, Query(ge=0, description="Items to skip")] = 0,
) -> PageParams:
    return PageParams(limit=limit, offset=offset)


Page = Annotated[PageParams, Depends(page_params)]
