"""Reported values of variables: write a quarter, list, bulk import (JSON, CSV or Excel)."""

from typing import Annotated

from fastapi import APIRouter, Query, Request, Response
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from app.api.deps import (
    NO_DECREE_OF_AGENCY,
    AgencyFilter,
    AgencyOfRequest,
    CursorQuery,
    IfMatch,
    OwnerUnitFilter,
    Page,
    QuarterFilter,
    QuarterPath,
    Since,
    ValueYearFilter,
    VariableFilter,
    WriteSessionDep,
    YearPath,
    missing,
)
from app.core.db import SessionDep
from app.core.errors import problem_schema_responses
from app.core.jsonbody import JSONRoute
from app.core.security import DataEntry, DataReader
from app.core.types import AgencyCode
from app.schemas.common import CursorPage
from app.schemas.data_values import DataValuePublic, DataValuesPut, DataValuesWritten
from app.schemas.imports import ImportCreate, ImportSummary
from app.services import data_values, imports
from app.services.changes import Cursor
from app.services.data_values import QuarterValues

router = APIRouter(
    route_class=JSONRoute,
    prefix="/data-values",
    tags=["data values"],
    responses=problem_schema_responses(401, 403, 422),
)


@router.put(
    "/{year}/{quarter}",
    summary="Report variables for a quarter",
    response_model=DataValuesWritten,
    responses={**problem_schema_responses(409, 412), **missing(NO_DECREE_OF_AGENCY)},
)
def put_data_values(
    session: WriteSessionDep,
    principal: DataEntry,
    response: Response,
    year: YearPath,
    quarter: QuarterPath,
    body: DataValuesPut,
    agency: AgencyOfRequest = None,
    if_match: IfMatch = None,
) -> DataValuesWritten:
    """Write any variables of one agency for a quarter. Nothing is stored if any value is
    refused. The ETag is that of the agency's data sheet for the quarter (as `GET
    /data-values?year=&quarter=` gives it)."""
    written, etag = data_values.write_quarter(
        session, principal, agency, QuarterValues.of(year, quarter, body), if_match=if_match
    )
    response.headers["ETag"] = etag.header
    return written


@router.get("", summary="List data values", response_model=CursorPage[DataValuePublic])
def list_data_values(
    _: DataReader,
    session: SessionDep,
    response: Response,
    page: Page,
    agency: AgencyFilter = None,
    year: ValueYearFilter = None,
    quarter: QuarterFilter = None,
    unit: OwnerUnitFilter = None,
    variable: VariableFilter = None,
    updated_since: Annotated[
        Since | None, Query(description="Only values changed after this time (ISO 8601)")
    ] = None,
    cursor: CursorQuery = None,
) -> CursorPage[DataValuePublic]:
    """Stored values with who changed them last and when. Filtered to one year and quarter
    (and agency, when there are several), the ETag header is that quarter's data sheet: send
    it as If-Match to `PUT /data-values/{year}/{quarter}`. With the `cursor` of an earlier
    answer, only the values changed since (see `GET /achievements`)."""
    found, etag, resume = data_values.list_values(
        session,
        page,
        agency=agency,
        year=year,
        quarter=quarter,
        unit=unit,
        variable=variable,
        updated_since=updated_since,
        cursor=Cursor.parse(cursor) if cursor is not None else None,
    )
    if etag is not None:
        response.headers["ETag"] = etag.header
    return CursorPage.resuming(found, page, resume.token)


_IMPORT_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {
                "schema": ImportCreate.model_json_schema(),
                "example": {
                    "agency": "DINSOSP3A",
                    "rows": [
                        {"variable": "psks_terdata", "year": 2025, "quarter": 1, "value": 120},
                        {
                            "variable": "psks_diberdayakan",
                            "year": 2025,
                            "quarter": 1,
                            "value": 45,
                            "note": "TW I",
                        },
                    ],
                },
            },
            "text/csv": {
                "schema": {"type": "string"},
                "example": "variable,year,quarter,value,note\npsks_terdata,2025,1,120,\n",
            },
            imports.XLSX_TYPE: {"schema": {"type": "string", "format": "binary"}},
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "properties": {"file": {"type": "string", "format": "binary"}},
                    "required": ["file"],
                }
            },
        },
    }
}


@router.post(
    "/import",
    summary="Import data values (JSON, CSV or Excel)",
    response_model=ImportSummary,
    openapi_extra=_IMPORT_BODY,
    responses=problem_schema_responses(400, 415),
)
async def import_data_values(
    request: Request,
    principal: DataEntry,
    session: SessionDep,
    write_session: WriteSessionDep,
    dry_run: Annotated[bool, Query(description="Validate everything, store nothing")] = False,
    atomic: Annotated[
        bool, Query(description="All or nothing (default); false stores the valid rows")
    ] = True,
    agency: Annotated[
        AgencyCode | None,
        Query(description="Agency code (CSV, Excel); may be left out when there is only one"),
    ] = None,
) -> ImportSummary:
    """Import rows `variable, year, quarter, value, note, evidence` as JSON
    (`{"agency": ..., "rows": [...]}`), as a CSV body (`text/csv`, comma or semicolon
    separated, with a header), as an Excel workbook (`.xlsx`: its sheet named `Realisasi`,
    else its only visible sheet, never a hidden one; the first row naming the columns, e.g.
    the unit's realization template; a blank value skips the row) or as a CSV or `.xlsx`
    file upload (`file`). At most 50,000 rows and 64 columns. Answers the import summary;
    when `atomic` and a row is refused, nothing is stored and the answer is a 422 carrying
    the same summary (its first 50 refused rows, and `errors_total`)."""
    # The body was read before the route ran (RequestGuard), with no connection taken yet.
    upload = await _upload(request)
    # The database work is synchronous: keep it off the event loop.
    return await run_in_threadpool(
        imports.import_upload,
        session,
        write_session,
        principal,
        upload,
        agency=agency,
        dry_run=dry_run,
        atomic=atomic,
    )


async def _upload(request: Request) -> imports.Upload:
    """The bytes of an import: the form's `file`, or the body."""
    media_type = imports.media_type(request.headers.get("content-type"))
    if media_type != imports.FORM_TYPE:
        return imports.Upload(media_type, await request.body())
    file = (await request.form()).get("file")
    if not isinstance(file, UploadFile):
        return imports.Upload(media_type, None)
    return imports.Upload(media_type, await file.read(), file.filename)
