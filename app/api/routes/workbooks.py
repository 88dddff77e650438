"""Spreadsheets: the achievements workbook and a unit's realization template (Excel)."""

from typing import Annotated, Any

from fastapi import APIRouter, Query, Response

from app.api import xlsx
from app.api.deps import (
    NO_DECREE_AT_ALL,
    NO_DECREE_OF_AGENCY,
    NO_SUCH_UNIT,
    AgencyFilter,
    AgencyOfRequest,
    SourceUnitFilter,
    UnitPath,
    VerifiedOnly,
    YearQuery,
    missing,
)
from app.core.db import SessionDep, release_connection
from app.core.errors import problem_schema_responses
from app.core.jsonbody import JSONRoute
from app.core.security import AchievementsReader, DataReader
from app.core.types import Quarter
from app.services import workbooks
from app.services.achievements import AchievementFilters
from app.services.imports import XLSX_TYPE

router = APIRouter(
    route_class=JSONRoute, tags=["reports"], responses=problem_schema_responses(401, 403, 422)
)


def _workbook(description: str) -> dict[int | str, dict[str, Any]]:
    return {
        200: {
            "description": description,
            "content": {XLSX_TYPE: {"schema": {"type": "string", "format": "binary"}}},
        }
    }


QuarterQuery = Annotated[Quarter, Query(description="s.d. triwulan (1-4)")]


@router.get(
    "/reports/achievements.xlsx",
    summary="Achievements as an Excel workbook",
    response_class=Response,
    responses={
        **_workbook("A summary sheet per unit, then a sheet per position"),
        **missing(NO_DECREE_AT_ALL),
    },
)
def achievements_workbook(
    _: AchievementsReader,
    session: SessionDep,
    year: YearQuery,
    quarter: QuarterQuery = 4,
    agency: AgencyFilter = None,
    unit: SourceUnitFilter = None,
    verified_only: VerifiedOnly = False,
) -> Response:
    """The achievements of the year up to a quarter, as `GET /achievements` computes them:
    a *Ringkasan* sheet (per Sumber Data unit, how many indicators are computed, lack data,
    lack some data, are undefined or lack a target, and the average capaian of the computed
    ones), then one sheet per position (titled by its code) with a row per indicator in SK
    order: target, each quarter's realization, the year-to-date realization, capaian, the
    rating in its colour, status and verification."""
    filters = AchievementFilters(year=year, agency=agency, unit=unit, verified_only=verified_only)
    return xlsx.achievements_attachment(session, filters, quarter)


@router.get(
    "/units/{code}/realization-template.xlsx",
    summary="A unit's realization template (Excel)",
    response_class=Response,
    responses={
        **_workbook("The sheet to fill in, then the instructions"),
        **missing(NO_SUCH_UNIT, NO_DECREE_OF_AGENCY),
    },
)
def realization_template(
    _: DataReader,
    session: SessionDep,
    code: UnitPath,
    year: YearQuery,
    quarter: Annotated[Quarter, Query(description="Triwulan (1-4)")],
    agency: AgencyOfRequest = None,
) -> Response:
    """The sheet a unit fills in for a quarter: a row per variable it owns with the columns
    the import reads (`variable, year, quarter, value, note, evidence`; the value cell
    checks the variable's type and range) and read-only context (label, unit of measure,
    aggregation, the indicators using it, last quarter's value, the value stored now).
    Filled in, it is posted back as is to `POST /data-values/import`. Any key that reads
    data values may download it: it shows nothing such a key cannot read already."""
    template = workbooks.realization_template(session, code, agency, year, quarter)
    release_connection(session)
    return xlsx.template_download(template)
