"""The indicator page, `/indikator/{id}?tahun=`: an indicator's definition, its formula in
words and as a fraction, its variables' values by quarter, its capaian over the year and the
history of its changes.

Each part is shown to those whose role may read it through the API, and read with the
services the API's routes call:

- the definition and the formula (`GET /indicators/{id}`): `read_definitions`;
- the capaian of quarters 1..4, year to date (`GET /indicators/{id}/achievements`):
  `read_achievements`;
- the variables' values of each quarter (`GET /data-values`, a realization's values):
  `read_data`. A viewer (leadership) reads capaian, not the data values behind them;
- the history of those values, who set each and when (a realization's history):
  `read_data`;
- the history of the definition and the targets: this is the audit trail itself (`GET
  /audit`), so `read_audit` (auditor, verifier, admin). A reader or an operator sees the
  history of the values only.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Path, Query, Request
from fastapi.responses import HTMLResponse, Response
from markupsafe import Markup
from sqlmodel import Session, select

from app.core.security import Principal
from app.core.types import Id, Year
from app.models import Capability, Polarity, Target
from app.pages.web import STATES, Person, ReadSession, need, page_router, render
from app.schemas.achievements import AchievementPublic
from app.schemas.audit import AuditEventPublic
from app.schemas.indicators import IndicatorPublic
from app.services import achievements, audit, indicators
from app.services.documents import (
    REASON_LABELS,
    ROMAN,
    STATUS_LABELS,
    formula_fraction,
    indonesian_number,
    rating_color,
)
from app.services.queries import existing_values, indicator_in_year

router = page_router()

QUARTERS = (1, 2, 3, 4)
HISTORY_LIMIT = 100
"""The newest changes the page lists; it says how many more there are."""

POLARITY_WORDS: dict[str, str] = {
    Polarity.higher_is_better: "semakin tinggi semakin baik",
    Polarity.lower_is_better: "semakin rendah semakin baik",
}
ACTION_WORDS = {
    "create": "dibuat",
    "update": "diubah",
    "delete": "dihapus",
    "import": "diimpor",
}
FIELD_WORDS = {
    "code": "kode",
    "number": "nomor",
    "name": "nama",
    "formula": "formula",
    "unit_of_measure": "satuan",
    "polarity": "polaritas",
    "decimals": "desimal",
    "explanation": "penjelasan",
    "data_source": "sumber data",
    "notes": "catatan",
    "objective_id": "sasaran (id)",
    "parent_id": "indikator induk (id)",
    "parent_inferred": "induk disimpulkan",
    "value": "nilai",
    "note": "keterangan",
    "evidence": "bukti dukung",
}
BOOKKEEPING = frozenset(
    {"id", "created_at", "updated_at", "updated_by", "version", "decree_id", "indicator_id",
     "variable_id", "year", "quarter"}
)  # fmt: skip
"""Fields of a change that say nothing to a reader (ids, times, versions) or that its subject
already names (the year, the quarter)."""
LONGEST_TEXT = 300


@dataclass(frozen=True)
class ValueRow:
    """A variable of the formula and its own value in each quarter."""

    code: str
    label: str
    unit_of_measure: str
    owner_code: str
    owner_name: str
    quarters: list[str]


@dataclass(frozen=True)
class CapaianRow:
    """The capaian up to a quarter (year to date)."""

    quarter: int
    realization: str
    target: str
    achievement: str
    rating: str | None
    color: str | None
    status: str
    reason: str | None
    state: str
    state_words: str


@dataclass(frozen=True)
class Change:
    """One event of the history: when, who, what and how it changed."""

    at: dt.datetime
    actor: str
    role: str | None
    subject: str
    action: str
    details: list[str]


@dataclass(frozen=True)
class History:
    changes: list[Change]
    total: int
    values_only: bool


def _text(value: Any) -> str:
    """A stored value as a person reads it: numbers Indonesian-style, text shortened."""
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "ya" if value else "tidak"
    if isinstance(value, int | float):
        shortest = f"{float(value):.6f}".rstrip("0")  # up to 6 decimals, as many as it has
        return indonesian_number(value, len(shortest.split(".")[1]))
    if isinstance(value, Mapping | list):
        return "…"
    text = str(value)
    return text if len(text) <= LONGEST_TEXT else text[:LONGEST_TEXT] + "…"


def _details(event: AuditEventPublic) -> list[str]:
    """What changed, field by field ("nilai: 30 → 45"); a new or deleted record lists its
    fields."""
    before, after = event.before or {}, event.after or {}
    names = [n for n in dict.fromkeys([*after, *before]) if n not in BOOKKEEPING]
    lines = []
    for name in names:
        label = FIELD_WORDS.get(name, name)
        old, new = _text(before.get(name)), _text(after.get(name))
        if name == "polarity":
            old, new = POLARITY_WORDS.get(old, old), POLARITY_WORDS.get(new, new)
        if name in before and name in after:
            lines.append(f"{label}: {old} → {new}")
        elif (before if event.action == "delete" else after).get(name) is not None:
            lines.append(f"{label}: {old if event.action == 'delete' else new}")
    return lines


def _quarter_words(quarter: int) -> str:
    return "tahunan" if quarter == 0 else f"TW {ROMAN[quarter - 1]}"


def _history(
    session: Session, principal: Principal, view: IndicatorPublic, year: int
) -> History | None:
    """The newest changes of the indicator that the principal may read (see the module's
    docstring), in a fixed number of queries; None when it may read none."""
    if not principal.can(Capability.read_data):
        return None
    full = principal.can(Capability.read_audit)
    variables = {v.id: v for v in view.variables}
    keys = [(ident, year, q) for ident in variables for q in QUARTERS]
    values = {row.id: row for row in existing_values(session, keys).values()}
    records: dict[str, list[int | None]] = {"data_value": list(values)}
    targets: dict[int, int] = {}
    if full:
        rows = session.exec(
            select(Target).where(Target.indicator_id == view.id, Target.year == year)
        )
        targets = {row.id or 0: row.quarter for row in rows}
        records |= {"indicator": [view.id], "target": list(targets)}
    events, total = audit.latest_events_of(session, records, HISTORY_LIMIT)
    changes = []
    for event in events:
        # The events are of the records listed above, so each is found by its id.
        if event.entity == "data_value":
            row = values[int(event.entity_id)]
            label = variables[row.variable_id].label
            subject = f"Nilai {label} ({_quarter_words(row.quarter)})"
        elif event.entity == "target":
            subject = f"Target {_quarter_words(targets[int(event.entity_id)])}"
        else:
            subject = "Definisi indikator"
        changes.append(
            Change(
                at=event.at,
                actor=event.actor or "-",
                role=event.actor_role,
                subject=subject,
                action=ACTION_WORDS.get(event.action, event.action),
                details=_details(event),
            )
        )
    return History(changes, total, values_only=not full)


def _capaian(found: list[AchievementPublic], decimals: int) -> list[CapaianRow]:
    return [
        CapaianRow(
            quarter=a.quarter,
            realization=indonesian_number(a.realization, decimals),
            target=indonesian_number(a.target, decimals),
            achievement=indonesian_number(a.achievement, 2),
            rating=a.rating.label if a.rating else None,
            color=rating_color(a.rating),
            status=STATUS_LABELS.get(a.status, a.status),
            reason=REASON_LABELS.get(a.reason, a.reason) if a.reason else None,
            state=a.verification,
            state_words=STATES.get(a.verification, a.verification),
        )
        for a in found
    ]


def _values(view: IndicatorPublic, found: list[AchievementPublic]) -> list[ValueRow]:
    by_quarter = {a.quarter: a.quarter_values for a in found}
    rows = []
    for variable in view.variables:
        places = 0 if variable.value_type == "integer" else view.decimals
        rows.append(
            ValueRow(
                code=variable.code,
                label=variable.label,
                unit_of_measure=variable.unit_of_measure,
                owner_code=variable.owner_unit.code,
                owner_name=variable.owner_unit.name,
                quarters=[
                    indonesian_number(by_quarter.get(q, {}).get(variable.code), places)
                    for q in QUARTERS
                ],
            )
        )
    return rows


@router.get("/indikator/{indicator_id}", response_class=HTMLResponse)
def indicator_page(
    request: Request,
    session: ReadSession,
    signed_in: Person,
    indicator_id: Annotated[Id, Path()],
    tahun: Annotated[Year | None, Query()] = None,
) -> Response:
    """The indicator of the year `tahun` (by default, the year of its SK); a year of another
    SK is 404, as the API answers it."""
    need(signed_in, Capability.read_definitions)
    principal = signed_in.principal
    view = indicators.get_indicator(session, indicator_id)
    year = tahun or view.decree.year
    indicator_in_year(session, indicator_id, year)
    found = (
        achievements.indicator_year(session, indicator_id, year)
        if principal.can(Capability.read_achievements)
        else None
    )
    return render(
        request,
        "indikator.html",
        title=f"Indikator {view.code}",
        signed_in=signed_in,
        width="72rem",
        indicator=view,
        year=year,
        polarity=POLARITY_WORDS.get(view.polarity, str(view.polarity)),
        # Markup made by the formula engine, each label escaped (as the printed SK uses it).
        fraction=Markup(formula_fraction(view)),
        roman=ROMAN,
        capaian=_capaian(found, view.decimals) if found is not None else None,
        values=(
            _values(view, found)
            if found is not None and principal.can(Capability.read_data)
            else None
        ),
        history=_history(session, principal, view, year),
        history_limit=HISTORY_LIMIT,
    )
