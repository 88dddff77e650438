"""Decrees, indicators and variables."""

from typing import Annotated

from fastapi import APIRouter, Path, Query

from app.api.deps import Page
from app.core.db import SessionDep
from app.core.errors import problem_schema_responses
from app.models import ListPage
from app.schemas.definitions import DecreePublic, IndicatorPublic, VariablePublic
from app.services import definitions

router = APIRouter(responses=problem_schema_responses(401, 403, 422))

AgencyFilter = Annotated[str | None, Query(description="Agency code", examples=["DINSOSP3A"])]
UnitFilter = Annotated[
    str | None, Query(description="Unit code (Sumber Data)", examples=["BID_PSM"])
]
YearFilter = Annotated[int | None, Query(ge=2000, le=2100, description="Year of the SK")]
TextFilter = Annotated[
    str | None, Query(max_length=200, description="Text in the code, name or label")
]


@router.get(
    "/decrees", tags=["decrees"], summary="List decrees", response_model=ListPage[DecreePublic]
)
def list_decrees(
    session: SessionDep, page: Page, agency: AgencyFilter = None, year: YearFilter = None
) -> ListPage[DecreePublic]:
    """SKs of IKI, newest year first."""
    items, total = definitions.list_decrees(session, page, agency=agency, year=year)
    return ListPage(items=items, total=total, limit=page.limit, offset=page.offset)


@router.get(
    "/decrees/{decree_id}",
    tags=["decrees"],
    summary="Get a decree",
    response_model=DecreePublic,
    responses=problem_schema_responses(404),
)
def get_decree(
    session: SessionDep, decree_id: Annotated[int, Path(description="Decree id")]
) -> DecreePublic:
    """One SK by id."""
    return definitions.get_decree(session, decree_id)


@router.get(
    "/indicators",
    tags=["indicators"],
    summary="List indicators",
    response_model=ListPage[IndicatorPublic],
)
def list_indicators(
    session: SessionDep,
    page: Page,
    agency: AgencyFilter = None,
    year: YearFilter = None,
    position: Annotated[str | None, Query(description="Position code", examples=["KADIS"])] = None,
    unit: UnitFilter = None,
    q: TextFilter = None,
) -> ListPage[IndicatorPublic]:
    """Indicators in SK order, with their formulas, variables and place in the SK."""
    items, total = definitions.list_indicators(
        session, page, agency=agency, year=year, position=position, unit=unit, q=q
    )
    return ListPage(items=items, total=total, limit=page.limit, offset=page.offset)


@router.get(
    "/indicators/{indicator_id}",
    tags=["indicators"],
    summary="Get an indicator",
    response_model=IndicatorPublic,
    responses=problem_schema_responses(404),
)
def get_indicator(
    session: SessionDep, indicator_id: Annotated[int, Path(description="Indicator id")]
) -> IndicatorPublic:
    """One indicator by id."""
    return definitions.get_indicator(session, indicator_id)


@router.get(
    "/variables",
    tags=["variables"],
    summary="List variables",
    response_model=ListPage[VariablePublic],
)
def list_variables(
    session: SessionDep,
    page: Page,
    agency: AgencyFilter = None,
    unit: Annotated[str | None, Query(description="Owner unit code")] = None,
    q: TextFilter = None,
) -> ListPage[VariablePublic]:
    """Reported quantities (komponen data), by code."""
    items, total = definitions.list_variables(session, page, agency=agency, unit=unit, q=q)
    return ListPage(items=items, total=total, limit=page.limit, offset=page.offset)


@router.get(
    "/variables/{variable_id}",
    tags=["variables"],
    summary="Get a variable",
    response_model=VariablePublic,
    responses=problem_schema_responses(404),
)
def get_variable(
    session: SessionDep, variable_id: Annotated[int, Path(description="Variable id")]
) -> VariablePublic:
    """One variable by id."""
    return definitions.get_variable(session, variable_id)
