"""Meja verifikasi: the verification desk.

`/verifikasi` is a grid of the agency's units by the quarters of a year with each quarter's
workflow state; `/verifikasi/{tahun}/{triwulan}/{unit}` is one unit's quarter: its values
beside the quarter before, notes and evidence, the data-quality findings with their
explanations, the history of each value, and the steps the signed-in person may take
(Ajukan, Verifikasi, Kembalikan, Buka kembali). Each step posts to
`.../{langkah}`, which calls the workflow service the API calls; a refusal shows the quarter
again with the refusal in words and the problem's status.

Operators see their own units only (the rule of the API's data-quality checks); everyone
else with `read_data` sees every unit.
"""

from __future__ import annotations

import datetime as dt
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import Depends, Path, Query, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import ValidationError
from sqlmodel import Session, col, select
from starlette.datastructures import FormData

from app.core.errors import AppError, NotFound
from app.core.types import MAX_TEXT, AgencyCode, Quarter, UnitCode, Year
from app.models import Agency, Capability, Decree
from app.pages.web import (
    STATES,
    PageWrite,
    Person,
    ReadSession,
    RefusalWords,
    need,
    page_router,
    refusal_words,
    render,
    see_other,
)
from app.schemas.common import PageParams
from app.schemas.data_values import web_link
from app.schemas.workflow import PeriodPublic, PeriodStep, Step
from app.services import quality, workflow
from app.services.common import resolve_agency, unit_of_path
from app.services.data_values import unit_quarter_values
from app.services.documents import indonesian_date, indonesian_number
from app.services.people import SignedIn
from app.services.queries import require_decree

router = page_router()

LANGKAH = {
    "ajukan": Step.submit,
    "verifikasi": Step.verify,
    "kembalikan": Step.return_,
    "buka-kembali": Step.reopen,
}
"""The steps by the last segment of their page's URL."""
NAMES = {step: name for name, step in LANGKAH.items()}
BUTTONS = {
    Step.submit: "Ajukan",
    Step.verify: "Verifikasi",
    Step.return_: "Kembalikan",
    Step.reopen: "Buka kembali",
}
DONE = {
    "ajukan": "Triwulan ini telah diajukan untuk diverifikasi.",
    "verifikasi": "Triwulan ini telah diverifikasi.",
    "kembalikan": "Triwulan ini telah dikembalikan kepada operator unit.",
    "buka-kembali": "Triwulan ini telah dibuka kembali.",
}
SEVERITIES = {"error": "galat", "warning": "peringatan", "info": "info"}
ROMAN = {1: "I", 2: "II", 3: "III", 4: "IV"}
EXPLANATION = "penjelasan:"
"""The prefix of a form field explaining a finding: `penjelasan:<finding key>`."""

YearPath = Annotated[Year, Path()]
QuarterPath = Annotated[Quarter, Path()]
UnitPath = Annotated[UnitCode, Path()]
AgencyQuery = Annotated[AgencyCode | None, Query()]


# Shown as the pages write them ----------------------------------------------------------------


def moment(at: dt.datetime | None) -> str:
    """A stored time as a person reads it: "3 Januari 2025 07.05 UTC"."""
    if at is None:
        return "-"
    return f"{indonesian_date(at)} {at:%H.%M} UTC"


def figure(value: float | None) -> str:
    """A stored value Indonesian-style, with the decimals it has (at most six)."""
    if value is None:
        return "-"
    decimals = len(f"{value:.6f}".rstrip("0").split(".")[1])
    return indonesian_number(value, decimals)


def quarter_name(quarter: int) -> str:
    return f"TW {ROMAN[quarter]}"


def _query(**params: Any) -> str:
    given = {k: v for k, v in params.items() if v is not None}
    return f"?{urlencode(given)}" if given else ""


SHOWN: dict[str, Any] = {
    "moment": moment,
    "figure": figure,
    "quarter_name": quarter_name,
    "web_link": web_link,
}
"""What the desk's templates call to write times, numbers, quarters and evidence links."""


# The grid -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class GridRow:
    agency: str
    unit: str
    unit_name: str
    quarters: list[PeriodPublic]


def _years(session: Session, agency: Agency | None) -> list[int]:
    query = select(Decree.year).distinct()
    if agency is not None:
        query = query.where(Decree.agency_id == agency.id)
    return sorted(session.exec(query), reverse=True)


def _agency_of_year(session: Session, year: int) -> Agency | None:
    query = select(Agency).join(Decree, col(Decree.agency_id) == col(Agency.id))
    return session.exec(query.where(Decree.year == year).order_by(col(Agency.code))).first()


@router.get("/verifikasi", response_class=HTMLResponse)
def grid(
    request: Request,
    signed_in: Person,
    session: ReadSession,
    tahun: Annotated[Year | None, Query()] = None,
    agency: AgencyQuery = None,
) -> Response:
    need(signed_in, Capability.read_data)
    agencies = list(session.exec(select(Agency).order_by(col(Agency.code))))
    own = quality.units_read_by(signed_in.principal)
    chosen: Agency | None = None
    if agency is not None:
        chosen = resolve_agency(session, agency)
    elif len(agencies) == 1:
        chosen = agencies[0]
    years = _years(session, chosen)
    year = tahun or (years[0] if years else dt.date.today().year)
    if chosen is None and own is None and agencies:
        # Several agencies, none asked for: the first with a decree of the year. (Those
        # who read only their units see all of them, of whichever agency.)
        chosen = _agency_of_year(session, year) or agencies[0]
        years = _years(session, chosen)
    if chosen is not None:
        require_decree(session, year, chosen)
    found, _ = workflow.list_periods(
        session,
        PageParams(limit=sys.maxsize),
        year=year,
        agency=chosen.code if chosen else None,
        unit_ids=own,
    )
    rows: dict[tuple[str, str], GridRow] = {}
    for period in found:
        key = (period.agency, period.unit)
        rows.setdefault(key, GridRow(period.agency, period.unit, period.unit_name, []))
        rows[key].quarters.append(period)
    several = len(agencies) > 1
    return render(
        request,
        "verifikasi.html",
        title="Meja verifikasi",
        signed_in=signed_in,
        width="72rem",
        rows=list(rows.values()),
        year=year,
        years=years,
        agencies=agencies if several else [],
        agency=chosen.code if chosen else None,
        states=STATES,
        link_query=(lambda code: _query(agency=code)) if several else (lambda code: ""),
        **SHOWN,
    )


# One unit's quarter -------------------------------------------------------------------------


@dataclass(frozen=True)
class Action:
    """A step the signed-in person may take, as its form shows it."""

    step: Step
    name: str  # the URL's last segment
    button: str
    note_required: bool
    explain: list[dict[str, Any]]  # the findings it asks an explanation of


def _actions(
    signed_in: SignedIn, unit_id: int, period: PeriodPublic, findings: list[dict[str, Any]]
) -> list[Action]:
    errors = [f for f in findings if f["severity"] == "error"]
    explain = {
        # A submit sends every error's explanation again (those of the last submit filled in);
        # a verify explains only the errors nobody explained.
        Step.submit: errors,
        Step.verify: [f for f in errors if not f["explanation"]],
    }
    return [
        Action(
            step,
            NAMES[step],
            BUTTONS[step],
            step in workflow.NOTE_REQUIRED,
            explain.get(step, []),
        )
        for step in workflow.steps_open_to(signed_in.principal, unit_id, period.state)
    ]


def unit_page(
    request: Request,
    signed_in: SignedIn,
    session: Session,
    year: int,
    quarter: int,
    unit_code: str,
    agency_code: str | None,
    *,
    done: str | None = None,
    words: RefusalWords | None = None,
    posted: str | None = None,
    sent: Mapping[str, Any] | None = None,
) -> Response:
    """The page of a unit's quarter; with `words`, a refusal of the step `posted` (whose
    form is filled again with what was `sent`), answered with the refusal's status."""
    need(signed_in, Capability.read_data)
    # The checks refuse what the API refuses: another unit of an operator's, an unknown
    # unit or agency, a year without a decree.
    report = quality.unit_checks(
        session,
        signed_in.principal,
        agency_code=agency_code,
        unit_code=unit_code,
        year=year,
        quarter=quarter,
    )
    agency = resolve_agency(session, report.agency)
    unit = unit_of_path(session, agency, report.unit)
    (period,), _ = workflow.list_periods(
        session, PageParams(limit=1), year=year, quarter=quarter, unit_ids=[unit.id or 0]
    )
    findings = [f.model_dump(mode="json") for f in report.findings]
    values = unit_quarter_values(session, unit, year, quarter)
    back = _query(tahun=year, agency=agency_code)
    return render(
        request,
        "verifikasi_unit.html",
        status_code=words.status if words else 200,
        title=f"{unit.code} · {quarter_name(quarter)} {year}",
        signed_in=signed_in,
        width="72rem",
        unit=unit,
        agency=agency,
        year=year,
        quarter=quarter,
        period=period,
        states=STATES,
        report=report,
        findings=findings,
        severities=SEVERITIES,
        values=values,
        actions=_actions(signed_in, unit.id or 0, period, findings),
        action_url=lambda name: (
            f"/verifikasi/{year}/{quarter}/{unit.code}/{name}{_query(agency=agency_code)}"
        ),
        grid_url=f"/verifikasi{back}",
        done=DONE.get(done or ""),
        words=words,
        posted=posted,
        sent=sent or {},
        explanation_field=EXPLANATION,
        max_text=MAX_TEXT,
        **SHOWN,
    )


@router.get("/verifikasi/{tahun}/{triwulan}/{unit_code}", response_class=HTMLResponse)
def unit_quarter(
    request: Request,
    signed_in: Person,
    session: ReadSession,
    tahun: YearPath,
    triwulan: QuarterPath,
    unit_code: UnitPath,
    agency: AgencyQuery = None,
    selesai: Annotated[str | None, Query(max_length=20)] = None,
) -> Response:
    return unit_page(request, signed_in, session, tahun, triwulan, unit_code, agency, done=selesai)


# A step -------------------------------------------------------------------------------------


async def _form(request: Request) -> FormData:
    return await request.form()  # read (and cached) by the page route's CSRF check


_FIELD_WORDS = {
    "string_too_long": "terlalu panjang (paling banyak {max_length} karakter)",
    "string_too_short": "tidak boleh kosong",
    "value_error": "tidak boleh kosong atau memuat karakter kendali",
    "string_pattern_mismatch": "bukan kunci temuan",
}


def _field_name(loc: tuple[Any, ...]) -> str:
    """A field of `PeriodStep` as the form names it."""
    if loc[:1] == ("note",):
        return "catatan"
    if loc[:1] == ("explanations",) and len(loc) > 1:
        return f"{EXPLANATION}{loc[1]}"
    return "penjelasan"


def _field_words(found: Mapping[str, Any]) -> str:
    kind, context = found["type"], found.get("ctx") or {}
    if kind == "too_long" and tuple(found["loc"]) == ("explanations",):
        return f"terlalu banyak penjelasan (paling banyak {context.get('max_length')})"
    if kind == "too_long":  # a text's characters
        kind = "string_too_long"
    return _FIELD_WORDS.get(kind, "tidak valid").format(**context)


def invalid_words(error: ValidationError) -> RefusalWords:
    """A step's form that the schema refuses (a note too long, an explanation holding a
    control character), in words, as the API's 422 names the fields."""
    fields = {_field_name(tuple(found["loc"])): _field_words(found) for found in error.errors()}
    return RefusalWords(
        422, "validation_error", "Isian tidak valid", ["Isian formulir tidak valid."], fields=fields
    )


def _step_words(error: AppError, step: Step) -> RefusalWords:
    """A refusal of the workflow service, in words; a missing or unknown field named as the
    form names it."""
    words = refusal_words(error)
    field = str(error.extra.get("field") or "")
    if error.code != "invalid_input" or not (field == "note" or field.startswith("explanations")):
        return words
    if field == "note":
        fields = {"catatan": f"wajib diisi untuk langkah {BUTTONS[step]}"}
    elif field.startswith("explanations."):
        key = field.removeprefix("explanations.")
        said = (  # the service names the keys that no finding has
            "tidak ada temuan dengan kunci ini pada triwulan ini (muat ulang halamannya)"
            if "keys" in error.extra
            else "sudah dijelaskan saat diajukan"
        )
        fields = {f"{EXPLANATION}{key}": said}
    else:
        fields = {"penjelasan": "hanya dapat diberikan saat mengajukan atau memverifikasi"}
    return RefusalWords(
        words.status, words.code, words.title, ["Isian formulir belum lengkap."], fields=fields
    )


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""


@router.post("/verifikasi/{tahun}/{triwulan}/{unit_code}/{langkah}", response_class=HTMLResponse)
def take_step(
    request: Request,
    signed_in: Person,
    session: PageWrite,
    read: ReadSession,
    form: Annotated[FormData, Depends(_form)],
    tahun: YearPath,
    triwulan: QuarterPath,
    unit_code: UnitPath,
    langkah: Annotated[str, Path(max_length=20)],
    agency: AgencyQuery = None,
) -> Response:
    step = LANGKAH.get(langkah)
    if step is None:
        raise NotFound("No such step")
    note = _text(form.get("catatan"))
    explanations = {
        name.removeprefix(EXPLANATION): _text(value)
        for name, value in form.multi_items()
        if name.startswith(EXPLANATION) and _text(value).strip()
    }
    words: RefusalWords
    try:
        body = PeriodStep(note=note if note.strip() else None, explanations=explanations or None)
        workflow.take_step(
            session,
            signed_in.principal,
            step,
            agency_code=agency,
            unit_code=unit_code,
            year=tahun,
            quarter=triwulan,
            body=body,
        )
    except ValidationError as error:
        words = invalid_words(error)
    except AppError as error:
        words = _step_words(error, step)
    else:
        return see_other(
            f"/verifikasi/{tahun}/{triwulan}/{unit_code}{_query(agency=agency, selesai=langkah)}"
        )
    session.rollback()  # nothing of a refused step is kept
    return unit_page(
        request,
        signed_in,
        read,
        tahun,
        triwulan,
        unit_code,
        agency,
        words=words,
        posted=langkah,
        sent=dict(form.multi_items()),
    )
