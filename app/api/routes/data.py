"""Targets, realisasi (data values), imports and achievements (capaian)."""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import json
from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Header, Path, Query, Request, Response
from fastapi.responses import JSONResponse
from sqlmodel import Session
from starlette.concurrency import run_in_threadpool

from app.api.deps import Page, id_path
from app.core.db import SessionDep, WriteSessionDep
from app.core.errors import InvalidInput, problem, problem_response, problem_schema_responses
from app.core.security import AdminKey, CurrentKey, OperatorKey, Principal
from app.formula import parse
from app.schemas.achievements import AchievementPublic
from app.schemas.common import ListPage
from app.schemas.data_values import DataValuePublic, DataValuesPut, DataValuesWritten
from app.schemas.imports import ImportCreate, ImportSummary
from app.schemas.targets import TargetsPublic, TargetsPut
from app.services import achievements, data_values, definitions, imports, targets
from app.services.data_values import KEEP, Keep

router = APIRouter(responses=problem_schema_responses(401, 403, 422))

IndicatorId = Annotated[int, id_path("Indicator")]
YearPath = Annotated[int, Path(ge=2000, le=2100, description="Year", examples=[2025])]
QuarterPath = Annotated[int, Path(ge=1, le=4, description="Triwulan, 1-4", examples=[1])]
IfMatch = Annotated[
    str | None,
    Header(
        description="ETag of the values as last read; the write is refused (412) if they "
        "changed since"
    ),
]


# Targets -------------------------------------------------------------------------------------


@router.get(
    "/indicators/{indicator_id}/targets/{year}",
    tags=["targets"],
    summary="Get an indicator's targets",
    response_model=TargetsPublic,
    responses=problem_schema_responses(404),
)
def get_targets(
    session: SessionDep, _: CurrentKey, indicator_id: IndicatorId, year: YearPath
) -> TargetsPublic:
    """The annual target and the year-to-date targets per quarter set for a year."""
    return targets.get_targets(session, indicator_id, year)


@router.put(
    "/indicators/{indicator_id}/targets/{year}",
    tags=["targets"],
    summary="Set an indicator's targets",
    response_model=TargetsPublic,
    responses=problem_schema_responses(404),
)
def put_targets(
    session: WriteSessionDep,
    principal: AdminKey,
    indicator_id: IndicatorId,
    year: YearPath,
    body: TargetsPut,
) -> TargetsPublic:
    """Replace the Perjanjian Kinerja targets of an indicator for a year (admin). A quarter
    target is the target for the year to date at that quarter's end; a quarter without one is
    measured against the annual target."""
    result = targets.set_targets(session, principal, indicator_id, year, body.annual, body.quarters)
    return result


# Realisasi of one indicator ------------------------------------------------------------------


@router.get(
    "/indicators/{indicator_id}/realizations/{year}/{quarter}",
    tags=["realizations"],
    summary="Get an indicator's realization for a quarter",
    response_model=AchievementPublic,
    responses=problem_schema_responses(404),
)
def get_realization(
    session: SessionDep,
    _: CurrentKey,
    response: Response,
    indicator_id: IndicatorId,
    year: YearPath,
    quarter: QuarterPath,
) -> AchievementPublic:
    """The indicator's achievement at the quarter, with the values behind it. The ETag
    header is what to send as If-Match when writing this quarter's values."""
    indicator, agency = definitions.indicator_in_year(session, indicator_id, year)
    codes = parse(indicator.formula).variables
    response.headers["ETag"] = data_values.indicator_quarter_etag(
        session, agency, codes, year, quarter
    )
    return achievements.compute_for(session, [indicator], year, [quarter])[0]


@router.put(
    "/indicators/{indicator_id}/realizations/{year}/{quarter}",
    tags=["realizations"],
    summary="Report an indicator's realization for a quarter",
    response_model=AchievementPublic,
    responses=problem_schema_responses(404, 409, 412),
)
def put_realization(
    session: WriteSessionDep,
    principal: OperatorKey,
    response: Response,
    indicator_id: IndicatorId,
    year: YearPath,
    quarter: QuarterPath,
    body: DataValuesPut,
    if_match: IfMatch = None,
) -> AchievementPublic:
    """Write the values of the indicator's variables for the quarter (some or all: values not
    sent stay as they are) and answer the recomputed achievement. Operators may write only the
    variables their units own. Nothing is stored if any value is refused."""
    indicator, agency = definitions.indicator_in_year(session, indicator_id, year)
    codes = parse(indicator.formula).variables
    note, evidence = _note_and_evidence(body)
    etag = data_values.write_indicator_quarter(
        session, principal, agency, codes, year, quarter, body.values, note, evidence, if_match
    )
    result = achievements.compute_for(session, [indicator], year, [quarter])[0]
    response.headers["ETag"] = etag
    return result


# Data values ---------------------------------------------------------------------------------


def _note_and_evidence(body: DataValuesPut) -> tuple[str | Keep | None, str | Keep | None]:
    """What to store as note and evidence: not sent keeps the stored ones, null clears them."""
    sent = body.model_fields_set
    return (
        body.note if "note" in sent else KEEP,
        body.evidence if "evidence" in sent else KEEP,
    )


@router.put(
    "/data-values/{year}/{quarter}",
    tags=["data values"],
    summary="Report variables for a quarter",
    response_model=DataValuesWritten,
    responses=problem_schema_responses(404, 409, 412),
)
def put_data_values(
    session: WriteSessionDep,
    principal: OperatorKey,
    response: Response,
    year: YearPath,
    quarter: QuarterPath,
    body: DataValuesPut,
    agency: Annotated[
        str | None, Query(description="Agency code; optional when only one agency exists")
    ] = None,
    if_match: IfMatch = None,
) -> DataValuesWritten:
    """Write any variables of one agency for a quarter. Nothing is stored if any value is
    refused. The ETag is that of the agency's data sheet for the quarter (as `GET
    /data-values?year=&quarter=` gives it)."""
    note, evidence = _note_and_evidence(body)
    items, outcome, etag = data_values.write_quarter(
        session, principal, agency, year, quarter, body.values, note, evidence, if_match
    )
    response.headers["ETag"] = etag
    return DataValuesWritten(
        items=items, created=outcome.created, updated=outcome.updated, unchanged=outcome.unchanged
    )


@router.get(
    "/data-values",
    tags=["data values"],
    summary="List data values",
    response_model=ListPage[DataValuePublic],
)
def list_data_values(
    session: SessionDep,
    response: Response,
    page: Page,
    agency: Annotated[str | None, Query(description="Agency code")] = None,
    year: Annotated[int | None, Query(ge=2000, le=2100)] = None,
    quarter: Annotated[int | None, Query(ge=1, le=4)] = None,
    unit: Annotated[str | None, Query(description="Owner unit code")] = None,
    variable: Annotated[str | None, Query(description="Variable code")] = None,
    updated_since: Annotated[
        dt.datetime | None, Query(description="Only values changed after this time (ISO 8601)")
    ] = None,
) -> ListPage[DataValuePublic]:
    """Stored values with who changed them last and when. Filtered to one year and quarter
    (and agency, when there are several), the ETag header is that quarter's data sheet: send
    it as If-Match to `PUT /data-values/{year}/{quarter}`."""
    if year is not None and quarter is not None:
        sheet_agency = definitions.find_agency(session, agency)
        if sheet_agency is not None:
            response.headers["ETag"] = data_values.sheet_etag(session, sheet_agency, year, quarter)
    items, total = data_values.list_values(
        session,
        page,
        agency=agency,
        year=year,
        quarter=quarter,
        unit=unit,
        variable=variable,
        updated_since=_aware(updated_since),
    )
    return ListPage(items=items, total=total, limit=page.limit, offset=page.offset)


def _aware(moment: dt.datetime | None) -> dt.datetime | None:
    if moment is None or moment.tzinfo is not None:
        return moment
    return moment.replace(tzinfo=dt.UTC)


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
    "/data-values/import",
    tags=["data values"],
    summary="Import data values (JSON or CSV)",
    response_model=ImportSummary,
    openapi_extra=_IMPORT_BODY,
    responses=problem_schema_responses(400, 415),
)
async def import_data_values(
    request: Request,
    principal: OperatorKey,
    session: WriteSessionDep,
    dry_run: Annotated[bool, Query(description="Validate everything, store nothing")] = False,
    atomic: Annotated[
        bool, Query(description="All or nothing (default); false stores the valid rows")
    ] = True,
    agency: Annotated[
        str | None, Query(description="Agency code (CSV); optional when only one")
    ] = None,
) -> Any:
    """Import rows `variable, year, quarter, value, note, evidence` as JSON
    (`{"agency": ..., "rows": [...]}`), as a CSV body (`text/csv`, comma or semicolon
    separated, with a header) or as a CSV file upload (`file`). Answers the import summary;
    when `atomic` and a row is refused, nothing is stored and the answer is a 422 carrying
    the same summary."""
    rows, from_csv, agency = await _read_import(request, agency)
    # The database work is synchronous: keep it off the event loop.
    return await run_in_threadpool(
        _import, request, principal, session, rows, from_csv, agency, dry_run, atomic
    )


def _import(
    request: Request,
    principal: Principal,
    session: Session,
    rows: list[Any],
    from_csv: bool,
    agency: str | None,
    dry_run: bool,
    atomic: bool,
) -> Any:
    summary = imports.run_import(
        session, principal, agency, rows, from_csv=from_csv, dry_run=dry_run, atomic=atomic
    )
    if summary.rejected and atomic:
        session.rollback()
        body = problem(
            422,
            "import_rejected",
            "Import rejected",
            f"{summary.rejected} row(s) refused; nothing was stored",
            request.url.path,
            **summary.model_dump(mode="json"),
        )
        return problem_response(body)
    if dry_run:
        session.rollback()
    else:
        session.commit()
    return summary


async def _read_import(request: Request, agency: str | None) -> tuple[list[Any], bool, str | None]:
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type == "multipart/form-data":
        form = await request.form()
        upload = form.get("file")
        if upload is None or isinstance(upload, str):
            raise InvalidInput("Send the CSV as the form field `file`", field="file")
        return imports.parse_csv(_decode(await upload.read())), True, agency
    raw = await request.body()
    if content_type in {"text/csv", "application/csv", "text/plain"}:
        return imports.parse_csv(_decode(raw)), True, agency
    if content_type in {"application/json", ""}:
        try:
            data = json.loads(raw)
        except (ValueError, RecursionError) as exc:  # UnicodeDecodeError is a ValueError
            raise InvalidInput(f"The body is not valid JSON: {exc}", field="body") from exc
        if not isinstance(data, dict) or not isinstance(data.get("rows"), list):
            raise InvalidInput('The body must be {"agency": ..., "rows": [...]}', field="rows")
        extra = sorted(set(data) - {"agency", "rows"})
        if extra:
            raise InvalidInput(f"Unknown members: {', '.join(extra)}", field=extra[0])
        body_agency = data.get("agency")
        if body_agency is not None and not isinstance(body_agency, str):
            raise InvalidInput("agency must be an agency code", field="agency")
        return data["rows"], False, body_agency or agency
    raise UnsupportedMedia(content_type)


class UnsupportedMedia(InvalidInput):
    status_code = 415
    code = "unsupported_media_type"
    title = "Unsupported media type"

    def __init__(self, content_type: str) -> None:
        super().__init__(
            f"Send application/json, text/csv or multipart/form-data, not '{content_type}'"
        )


def _decode(raw: bytes) -> str:
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        pass
    try:
        return raw.decode("cp1252")  # Excel on Windows saves CSV in the ANSI code page
    except UnicodeDecodeError as exc:
        raise InvalidInput(
            "The file is not text: save it as CSV (UTF-8 or Windows-1252)", field="file"
        ) from exc


# Achievements --------------------------------------------------------------------------------


def _pairs(values: dict[str, float | None]) -> str:
    return ";".join(f"{code}={_num(value)}" for code, value in values.items())


# One CSV row per achievement: the JSON item flattened, column by column.
CSV_FIELDS: tuple[tuple[str, Callable[[AchievementPublic], object]], ...] = (
    ("agency", lambda a: a.agency),
    ("indicator_id", lambda a: a.indicator.id),
    ("indicator_code", lambda a: a.indicator.code),
    ("indicator_name", lambda a: a.indicator.name),
    ("position_code", lambda a: a.position.code),
    ("position_title", lambda a: a.position.title),
    ("year", lambda a: a.year),
    ("quarter", lambda a: a.quarter),
    ("unit_of_measure", lambda a: a.indicator.unit_of_measure),
    ("polarity", lambda a: a.indicator.polarity),
    ("decimals", lambda a: a.indicator.decimals),
    ("values", lambda a: _pairs(a.values)),
    ("quarter_values", lambda a: _pairs(a.quarter_values)),
    ("quarter_realization", lambda a: _num(a.quarter_realization)),
    ("realization", lambda a: _num(a.realization)),
    ("target", lambda a: _num(a.target)),
    ("achievement", lambda a: _num(a.achievement)),
    ("rating_code", lambda a: a.rating.code if a.rating else ""),
    ("rating_label", lambda a: a.rating.label if a.rating else ""),
    ("rating_color", lambda a: (a.rating.color or "") if a.rating else ""),
    ("status", lambda a: a.status),
    ("reason", lambda a: a.reason or ""),
    ("missing_variables", lambda a: ";".join(a.missing_variables)),
    ("verified", lambda a: str(a.verified).lower()),
    ("updated_at", lambda a: a.updated_at.isoformat() if a.updated_at else ""),
)


def _csv(items: list[AchievementPublic]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(name for name, _ in CSV_FIELDS)
    for item in items:
        writer.writerow(get(item) for _, get in CSV_FIELDS)
    return buffer.getvalue()


def _num(value: float | None) -> str:
    return "" if value is None else f"{value:.12g}"


def _wants_csv(request: Request, format_: str | None) -> bool:
    if format_ is not None:
        return format_ == "csv"
    accept = request.headers.get("accept", "")
    return "text/csv" in accept and "application/json" not in accept


@router.get(
    "/achievements",
    tags=["achievements"],
    summary="List achievements (capaian)",
    response_model=ListPage[AchievementPublic],
    responses={
        200: {"content": {"text/csv": {"schema": {"type": "string"}}}},
        304: {"description": "Not modified since the ETag given as If-None-Match"},
    },
)
def list_achievements(
    request: Request,
    session: SessionDep,
    page: Page,
    year: Annotated[int, Query(ge=2000, le=2100, description="Year", examples=[2025])],
    quarter: Annotated[
        int, Query(ge=1, le=4, description="s.d. triwulan; 4 (default) is the annual view")
    ] = 4,
    agency: Annotated[str | None, Query(description="Agency code")] = None,
    unit: Annotated[str | None, Query(description="Data-source unit code")] = None,
    position: Annotated[str | None, Query(description="Position code")] = None,
    indicator: Annotated[str | None, Query(description="Indicator code")] = None,
    updated_since: Annotated[
        dt.datetime | None,
        Query(
            description="Only indicators whose definition, targets or data changed after "
            "this time (ISO 8601)"
        ),
    ] = None,
    verified_only: Annotated[bool, Query(description="Compute only from verified data")] = False,
    format: Annotated[
        str | None, Query(pattern="^(json|csv)$", description="json or csv; overrides Accept")
    ] = None,
) -> Any:
    """Achievements of the year up to a quarter, in SK order: the quarter and year-to-date
    realization, the target, the achievement in percent by polarity, the rating and an
    explicit status, with the variable values behind each. Answers a weak ETag; send it back
    as If-None-Match to get 304 when nothing behind the page changed. `Accept: text/csv` (or
    `format=csv`) gives the same rows as CSV."""
    filters = achievements.AchievementFilters(
        year=year,
        agency=agency,
        unit=unit,
        position=position,
        indicator=indicator,
        updated_since=_aware(updated_since),
        verified_only=verified_only,
    )
    items, total = achievements.list_achievements(session, filters, quarter, page)
    as_csv = _wants_csv(request, format)
    envelope = ListPage[AchievementPublic](
        items=items, total=total, limit=page.limit, offset=page.offset
    )
    content = envelope.model_dump(mode="json")
    digest = hashlib.sha256(json.dumps([as_csv, content], sort_keys=True).encode()).hexdigest()
    etag = f'W/"{digest[:32]}"'
    headers = {"ETag": etag, "Cache-Control": "no-cache", "Vary": "Accept"}
    if _etag_matches(request.headers.get("if-none-match"), etag):
        return Response(status_code=304, headers=headers)
    if as_csv:
        headers["X-Total-Count"] = str(total)
        return Response(_csv(items), media_type="text/csv; charset=utf-8", headers=headers)
    return JSONResponse(content, headers=headers)


def _etag_matches(header: str | None, etag: str) -> bool:
    if not header:
        return False
    tags = {t.strip().removeprefix("W/") for t in header.split(",")}
    return "*" in tags or etag.removeprefix("W/") in tags


@router.get(
    "/indicators/{indicator_id}/achievements",
    tags=["achievements"],
    summary="An indicator's achievements for the four quarters",
    response_model=list[AchievementPublic],
    responses=problem_schema_responses(404),
)
def indicator_achievements(
    session: SessionDep,
    _: CurrentKey,
    indicator_id: IndicatorId,
    year: Annotated[int, Query(ge=2000, le=2100, description="Year", examples=[2025])],
    verified_only: Annotated[bool, Query(description="Compute only from verified data")] = False,
) -> list[AchievementPublic]:
    """Quarters 1 to 4 of one indicator's year, each year to date."""
    indicator, _agency = definitions.indicator_in_year(session, indicator_id, year)
    return achievements.indicator_year(session, indicator, year, verified_only=verified_only)
