"""Isian realisasi: the units a person enters data for (`/isian`), and a unit's quarter as a
form (`/isian/{tahun}/{triwulan}/{unit}`) with its Excel template and its upload.

The form writes through the API's one write path (`data_values.write_quarter`, as `PUT
/api/v1/data-values/{year}/{quarter}`), guarded by the ETag of the agency's data sheet of the
quarter; the upload imports as `POST /api/v1/data-values/import`. Every rule is the
service's: a refusal comes back as the API's problem and is shown beside the fields it names.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import Depends, Query, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy import func
from sqlmodel import Session, col, select
from starlette.datastructures import FormData, UploadFile

from app.api.deps import AgencyOfRequest, QuarterPath, UnitPath, YearPath
from app.api.xlsx import AGGREGATION_LABELS, template_download
from app.core.db import release_connection
from app.core.errors import AppError, Forbidden
from app.core.types import Year
from app.models import Agency, Capability, Decree, PeriodState, Unit, ValueType
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
from app.schemas.data_values import web_link
from app.schemas.workflow import Step
from app.services import data_values, imports, workflow
from app.services.common import resolve_agency, unit_of_path
from app.services.data_values import KEEP, Keep, QuarterValues
from app.services.documents import indonesian_number
from app.services.people import SignedIn
from app.services.queries import periods, require_decree
from app.services.workbooks import RealizationTemplate, TemplateRow, realization_template

router = page_router()

LOCKED = frozenset({PeriodState.submitted, PeriodState.verified})
"""The states in which a quarter's data cannot change (as `queries.locked_periods`)."""
ROMAN = {1: "I", 2: "II", 3: "III", 4: "IV"}
# What a value field accepts: digits, an optional sign and one decimal separator, a comma
# (Indonesian) or a point. Anything else is sent as typed, and refused by the service.
NUMBER = re.compile(r"[+-]?(?:[0-9]+(?:[.,][0-9]*)?|[.,][0-9]+)")


async def _form(request: Request) -> FormData:
    """The posted form (read once: the page route read it for the CSRF check)."""
    return await request.form()


PostedForm = Annotated[FormData, Depends(_form)]


# Numbers as a form shows and reads them ----------------------------------------------------


def plain_number(value: float) -> str:
    """A stored value as the input shows it: every digit it has, a decimal comma, no
    thousands separator ("1234,5"), so that sent back unchanged it reads as the same value."""
    text = format(Decimal(repr(value)), "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text.replace(".", ",")


def exact_number(value: float | None) -> str:
    """A value as the pages write it ("1.234,5"), with every decimal it has; "-" for none."""
    if value is None:
        return "-"
    return indonesian_number(value, len(plain_number(value).partition(",")[2]))


def read_number(text: str) -> float | str:
    """A value field as typed: a number when it is one by `NUMBER`, else the text itself,
    which the service refuses as `not_a_number` (with every other refusal of the form)."""
    text = text.strip()
    return float(text.replace(",", ".")) if NUMBER.fullmatch(text) else text


def allowed_range(row: TemplateRow) -> str:
    """The values a variable accepts, in words."""
    parts = ["bilangan bulat" if row.value_type == ValueType.integer else "bilangan desimal"]
    low, high = row.min_value, row.max_value
    if low is not None and high is not None:
        parts.append(f"{exact_number(low)} s.d. {exact_number(high)}")
    elif low is not None:
        parts.append(f"paling kecil {exact_number(low)}")
    elif high is not None:
        parts.append(f"paling besar {exact_number(high)}")
    return ", ".join(parts)


def quarter_name(year: int, quarter: int) -> str:
    return f"TW {ROMAN[quarter]} {year}"


# The list of units -------------------------------------------------------------------------


@dataclass(frozen=True)
class UnitQuarters:
    unit: Unit
    agency: Agency
    states: list[tuple[int, PeriodState]]


def _query(**params: Any) -> str:
    """A query string of the params that are set ("" when none is)."""
    given = {k: v for k, v in params.items() if v is not None and v is not False}
    return f"?{urlencode(given)}" if given else ""


@router.get("/isian", response_class=HTMLResponse)
def entry_list(
    request: Request,
    session: ReadSession,
    signed_in: Person,
    tahun: Annotated[Year | None, Query()] = None,
) -> Response:
    need(signed_in, Capability.enter_data)
    principal = signed_in.principal
    years = sorted(set(session.exec(select(Decree.year))), reverse=True)
    year = tahun if tahun is not None else (years[0] if years else None)
    if tahun is not None:
        require_decree(session, tahun)
    rows = session.exec(
        select(Unit, Agency)
        .join(Agency, Agency.id == Unit.agency_id)  # type: ignore[arg-type]
        .order_by(col(Agency.code), col(Unit.code))
    ).all()
    mine = [(unit, agency) for unit, agency in rows if principal.may_write_unit(unit.id or 0)]
    states = periods(session, (u.id or 0 for u, _ in mine), year, (1, 2, 3, 4)) if year else {}
    several = len({agency.id for _, agency in rows}) > 1
    units = [
        UnitQuarters(
            unit,
            agency,
            [
                (q, found.state if (found := states.get((unit.id or 0, q))) else PeriodState.open)
                for q in (1, 2, 3, 4)
            ],
        )
        for unit, agency in mine
    ]
    return render(
        request,
        "isian.html",
        title="Isian realisasi",
        signed_in=signed_in,
        width="60rem",
        year=year,
        years=years,
        units=units,
        several=several,
        states=STATES,
        locked=LOCKED,
        roman=ROMAN,
    )


# A unit's quarter --------------------------------------------------------------------------


@dataclass(frozen=True)
class Sheet:
    """A unit's quarter as the form shows it: the template's rows, the ETag of the data and
    who may do what."""

    agency: Agency
    unit: Unit
    template: RealizationTemplate
    etag: str
    several: bool

    @property
    def locked(self) -> bool:
        return self.template.state in LOCKED

    @property
    def path(self) -> str:
        t = self.template
        return f"/isian/{t.year}/{t.quarter}/{t.unit}"

    def url(self, path: str = "", **params: Any) -> str:
        """The form's URL (+ `path`), naming the agency when the service holds several."""
        agency = self.agency.code if self.several else None
        return f"{self.path}{path}{_query(agency=agency, **params)}"


@dataclass(frozen=True)
class Address:
    """The unit's quarter a URL of the form names (and its agency, when there are several)."""

    year: int
    quarter: int
    unit: str
    agency: str | None


def _address(
    tahun: YearPath, triwulan: QuarterPath, unit_code: UnitPath, agency: AgencyOfRequest = None
) -> Address:
    return Address(tahun, triwulan, unit_code, agency)


At = Annotated[Address, Depends(_address)]


def _sheet(session: Session, at: Address) -> Sheet:
    agency = resolve_agency(session, at.agency)
    unit = unit_of_path(session, agency, at.unit, field="code")
    template = realization_template(session, unit.code, agency.code, at.year, at.quarter)
    etag = data_values.sheet_etag(session, agency, at.year, at.quarter).header
    several = session.exec(select(func.count()).select_from(Agency)).one() > 1
    return Sheet(agency, unit, template, etag, several)


@dataclass(frozen=True)
class Entry:
    """A variable's row of the form: what it is, and what its fields hold and say."""

    row: TemplateRow
    value: str
    note: str
    evidence: str
    error: str | None

    @property
    def aggregation(self) -> str:
        return AGGREGATION_LABELS[self.row.aggregation]

    @property
    def allowed(self) -> str:
        return allowed_range(self.row)

    @property
    def previous(self) -> str:
        return exact_number(self.row.previous) if self.row.previous is not None else "belum ada"

    @property
    def evidence_link(self) -> str | None:
        return web_link(self.row.evidence)


def _entries(
    sheet: Sheet, typed: Mapping[str, Mapping[str, str]], errors: Mapping[str, str]
) -> list[Entry]:
    entries = []
    for row in sheet.template.rows:
        given = typed.get(row.code, {})
        stored = plain_number(row.current) if row.current is not None else ""
        entries.append(
            Entry(
                row,
                value=given.get("nilai", stored),
                note=given.get("catatan", row.note or ""),
                evidence=given.get("bukti", row.evidence or ""),
                error=errors.get(row.code),
            )
        )
    return entries


def _page(
    request: Request,
    signed_in: SignedIn,
    sheet: Sheet,
    *,
    status_code: int = 200,
    typed: Mapping[str, Mapping[str, str]] | None = None,
    words: RefusalWords | None = None,
    etag: str | None = None,
    saved: bool = False,
    imported: Mapping[str, int] | None = None,
) -> Response:
    t = sheet.template
    principal = signed_in.principal
    unit_id = sheet.unit.id or 0
    submit = workflow.TRANSITIONS[Step.submit]
    previous = quarter_name(*t.previous) if t.previous else "triwulan sebelumnya"
    return render(
        request,
        "isian_unit.html",
        status_code=status_code,
        title=f"Isian realisasi {t.unit} {quarter_name(t.year, t.quarter)}",
        signed_in=signed_in,
        width="72rem",
        sheet=sheet,
        entries=_entries(sheet, typed or {}, words.fields if words else {}),
        words=words,
        etag=etag if etag is not None else sheet.etag,
        state=STATES.get(t.state.value, t.state.value),
        may_write=principal.may_write_unit(unit_id) and not sheet.locked,
        may_submit=principal.may_submit_unit(unit_id) and t.state in submit.sources,
        submit_url=f"/verifikasi/{t.year}/{t.quarter}/{t.unit}/ajukan"
        + _query(agency=sheet.agency.code if sheet.several else None),
        previous_name=previous,
        saved=saved,
        imported=imported,
    )


def _refuse_other_units(signed_in: SignedIn, sheet: Sheet) -> None:
    """An operator opens only the forms of its units (the service's `may_write_unit`)."""
    if not signed_in.principal.may_write_unit(sheet.unit.id or 0):
        raise Forbidden(f"You may not enter data for {sheet.unit.code}: not one of your units")


IMPORT_COUNTS = {"dibuat": "created", "diubah": "updated", "tetap": "unchanged"}
"""The import's counts, as the form's URL carries them after an upload."""


@router.get("/isian/{tahun}/{triwulan}/{unit_code}", response_class=HTMLResponse)
def entry_form(
    request: Request,
    session: ReadSession,
    signed_in: Person,
    at: At,
    tersimpan: bool = False,
    diimpor: bool = False,
    dibuat: Annotated[int, Query(ge=0)] = 0,
    diubah: Annotated[int, Query(ge=0)] = 0,
    tetap: Annotated[int, Query(ge=0)] = 0,
    dilewati: Annotated[int, Query(ge=0)] = 0,
) -> Response:
    need(signed_in, Capability.enter_data)
    sheet = _sheet(session, at)
    _refuse_other_units(signed_in, sheet)
    imported = (
        {"dibuat": dibuat, "diubah": diubah, "tetap": tetap, "dilewati": dilewati}
        if diimpor
        else None
    )
    return _page(request, signed_in, sheet, saved=tersimpan, imported=imported)


def _typed(form: FormData) -> dict[str, dict[str, str]]:
    """The form's fields of variables (`nilai:<code>`, `catatan:<code>`, `bukti:<code>`),
    by variable code: every one sent, the unit's or not (the service judges them)."""
    typed: dict[str, dict[str, str]] = {}
    for key, value in form.multi_items():
        part, colon, code = key.partition(":")
        if colon and part in ("nilai", "catatan", "bukti") and isinstance(value, str):
            typed.setdefault(code, {})[part] = value
    return typed


def _text(given: Mapping[str, str], part: str, stored: str | None) -> str | Keep | None:
    """A note or evidence as typed: KEEP when not sent or as stored (line breaks as a browser
    sends them, CR LF, are read as LF), else the text (None when emptied)."""
    if part not in given:
        return KEEP
    text = given[part].replace("\r\n", "\n").strip()
    if text == (stored or "").replace("\r\n", "\n").strip():
        return KEEP
    return text or None


def quarter_values(
    year: int, quarter: int, rows: list[TemplateRow], typed: Mapping[str, Mapping[str, str]]
) -> QuarterValues:
    """What a posted form writes. A variable whose value field is blank is not sent (its
    stored value stays), unless its note or evidence changed: then it is sent without a
    value, which the service refuses (a note is kept with its value). A note or evidence
    left as it was is not sent, so it changes nothing; the service leaves a value sent as
    it was unchanged (no new version)."""
    by_code = {row.code: row for row in rows}
    values: dict[str, Any] = {}
    notes: dict[str, str | Keep | None] = {}
    evidences: dict[str, str | Keep | None] = {}
    for code, given in typed.items():
        row = by_code.get(code)
        note = _text(given, "catatan", row.note if row else None)
        evidence = _text(given, "bukti", row.evidence if row else None)
        text = given.get("nilai", "").strip()
        if not text and note is KEEP and evidence is KEEP:
            continue
        values[code] = read_number(text) if text else None
        notes[code], evidences[code] = note, evidence
    return QuarterValues(year, quarter, values, notes=notes, evidences=evidences)


@router.post("/isian/{tahun}/{triwulan}/{unit_code}", response_class=HTMLResponse)
def entry_save(
    request: Request,
    session: PageWrite,
    signed_in: Person,
    form: PostedForm,
    at: At,
) -> Response:
    need(signed_in, Capability.enter_data)
    sheet = _sheet(session, at)
    typed = _typed(form)
    sent = quarter_values(at.year, at.quarter, sheet.template.rows, typed)
    etag = form.get("etag")
    if_match = etag if isinstance(etag, str) and etag else None
    try:
        data_values.write_quarter(
            session, signed_in.principal, sheet.agency.code, sent, if_match=if_match
        )
    except AppError as error:
        if error.status_code not in (409, 412, 422):
            raise  # a refusal of the person (403) or of the address (404): a page of its own
        session.rollback()  # nothing of the refused write stays
        return _page(
            request,
            signed_in,
            sheet,
            status_code=error.status_code,
            typed=typed,
            words=refusal_words(error),
            etag=if_match,
        )
    return see_other(sheet.url(tersimpan=1))


@router.get("/isian/{tahun}/{triwulan}/{unit_code}/templat.xlsx")
def entry_template(session: ReadSession, signed_in: Person, at: At) -> Response:
    """The workbook of the API's `GET /units/{code}/realization-template.xlsx`."""
    need(signed_in, Capability.read_data)
    template = realization_template(session, at.unit, at.agency, at.year, at.quarter)
    release_connection(session)
    return template_download(template)


UPLOAD_UNREADABLE = (
    "Berkas tidak dapat dibaca sebagai isian realisasi. Unggah templat Excel (.xlsx) dari "
    "halaman ini yang sudah diisi, atau CSV dengan kolom variable, year, quarter, value."
)


@router.post("/isian/{tahun}/{triwulan}/{unit_code}/unggah", response_class=HTMLResponse)
def entry_upload(
    request: Request,
    read: ReadSession,
    session: PageWrite,
    signed_in: Person,
    form: PostedForm,
    at: At,
) -> Response:
    """Import a filled-in template as `POST /api/v1/data-values/import` does (all or
    nothing), as the signed-in person."""
    need(signed_in, Capability.enter_data)
    sheet = _sheet(read, at)
    file = form.get("berkas")
    content = file.file.read() if isinstance(file, UploadFile) and file.filename else None
    upload = imports.Upload(
        imports.FORM_TYPE, content, file.filename if isinstance(file, UploadFile) else None
    )
    try:
        summary = imports.import_upload(
            read,
            session,
            signed_in.principal,
            upload,
            agency=sheet.agency.code,
            dry_run=False,
            atomic=True,
        )
    except AppError as error:
        if error.code not in ("import_rejected", "invalid_input", "unsupported_media_type"):
            raise
        session.rollback()
        words = refusal_words(error)
        if error.code != "import_rejected":
            words = RefusalWords(error.status_code, error.code, words.title, [UPLOAD_UNREADABLE])
        return _page(request, signed_in, sheet, status_code=error.status_code, words=words)
    counts = {name: getattr(summary, count) for name, count in IMPORT_COUNTS.items()}
    return see_other(sheet.url(diimpor=1, dilewati=summary.skipped, **counts))
