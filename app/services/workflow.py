"""The verification workflow of a unit's quarter: submit, verify, return, reopen.

    open --submit--> submitted --verify--> verified --reopen--> open
                     submitted --return--> returned --submit--> submitted

While a quarter is submitted or verified, the unit's data of that quarter is locked
(`queries.locked_periods`, checked by the one write path of data values). Every step is audited with
its note (`audit.action`).
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlmodel import Session, col, select

from app.core.db import utcnow
from app.core.errors import Forbidden, InvalidInput, InvalidTransition, SelfVerification
from app.core.security import Principal
from app.models import (
    Agency,
    Period,
    PeriodState,
    Role,
    Unit,
)
from app.schemas.common import PageParams
from app.schemas.workflow import PeriodPublic, PeriodStep, Step
from app.services import audit
from app.services.common import lock_agency_data, resolve_agency
from app.services.queries import writers

# What each step does: the states it leaves from, the state it leads to, who may take it.
TRANSITIONS: dict[Step, tuple[frozenset[PeriodState], PeriodState]] = {
    Step.submit: (frozenset({PeriodState.open, PeriodState.returned}), PeriodState.submitted),
    Step.verify: (frozenset({PeriodState.submitted}), PeriodState.verified),
    Step.return_: (frozenset({PeriodState.submitted}), PeriodState.returned),
    Step.reopen: (frozenset({PeriodState.verified}), PeriodState.open),
}
NOTE_REQUIRED = {Step.return_: "what to fix", Step.reopen: "why it is reopened"}


@dataclass(frozen=True)
class PeriodKey:
    """A unit's quarter."""

    unit_id: int
    year: int
    quarter: int


def _unit(session: Session, agency: Agency, code: str) -> Unit:
    unit = session.exec(select(Unit).where(Unit.agency_id == agency.id, Unit.code == code)).first()
    if unit is None:
        raise InvalidInput(f"Unknown unit '{code}' in agency {agency.code}", field="unit")
    return unit


def _view(agency: Agency, unit: Unit, year: int, quarter: int, row: Period | None) -> PeriodPublic:
    """A unit's quarter as answered: its row's fields, or (never moved) open and no more."""
    stored = row.model_dump() if row is not None else {"state": PeriodState.open}
    where = {"agency": agency.code, "unit": unit.code, "unit_name": unit.name, "year": year}
    return PeriodPublic.model_validate(
        dict.fromkeys(PeriodPublic.model_fields) | stored | where | {"quarter": quarter}
    )


def _authorize(principal: Principal, step: Step, unit: Unit) -> None:
    if step == Step.submit:
        if not principal.may_write_unit(unit.id or 0):
            raise Forbidden(f"Only an operator of {unit.code} (or an admin) may submit its quarter")
    elif not principal.has_role(Role.verifier):
        raise Forbidden(f"Only a verifier or an admin may {step.value} a quarter")


def take_step(
    session: Session,
    principal: Principal,
    step: Step,
    *,
    agency_code: str | None,
    unit_code: str,
    year: int,
    quarter: int,
    body: PeriodStep,
) -> PeriodPublic:
    """Move a unit's quarter one step through the workflow, or refuse with nothing changed."""
    agency = resolve_agency(session, agency_code)
    unit = _unit(session, agency, unit_code)
    _authorize(principal, step, unit)
    if step in NOTE_REQUIRED and not body.note:
        raise InvalidInput(f"Say {NOTE_REQUIRED[step]} in `note`", field="note")
    lock_agency_data(session, agency)  # no value is written while the state changes
    row = session.exec(
        select(Period).where(
            Period.unit_id == unit.id, Period.year == year, Period.quarter == quarter
        )
    ).first()
    current = row.state if row else PeriodState.open
    sources, target = TRANSITIONS[step]
    if current not in sources:
        allowed = sorted(s.value for s, (froms, _) in TRANSITIONS.items() if current in froms)
        raise InvalidTransition(
            f"{unit.code} {year} Q{quarter} is {current.value}: it cannot be "
            f"{step.past} (allowed now: {', '.join(allowed) or 'none'})",
            state=current.value,
            allowed=allowed,
        )
    if step == Step.verify:
        wrote = writers(session, unit, year, quarter)
        if principal.name in wrote:
            raise SelfVerification(
                f"Four eyes: {principal.name} wrote data of {unit.code} {year} Q{quarter}, so "
                "another verifier must verify it",
                writers=wrote,
            )
    with audit.action(session, step.value):
        if row is None:
            row = Period(
                agency_id=agency.id or 0,
                unit_id=unit.id or 0,
                year=year,
                quarter=quarter,
                state=target,
                changed_at=utcnow(),
                changed_by=principal.name,
            )
        row.state = target
        row.note = body.note
        row.changed_at = utcnow()
        row.changed_by = principal.name
        row.changed_by_role = principal.role
        session.add(row)
    return _view(agency, unit, year, quarter, row)


def list_periods(
    session: Session,
    page: PageParams,
    *,
    year: int,
    quarter: int | None = None,
    agency: str | None = None,
    unit: str | None = None,
    state: PeriodState | None = None,
) -> tuple[list[PeriodPublic], int]:
    """Every unit's quarters of a year (or one quarter) with their state, by agency, unit
    and quarter; a quarter that never moved is open."""
    query = select(Unit, Agency).join(Agency, Agency.id == Unit.agency_id)  # type: ignore[arg-type]
    if agency:
        query = query.where(Agency.code == agency)
    if unit:
        query = query.where(Unit.code == unit)
    units = session.exec(query.order_by(col(Agency.code), col(Unit.code))).all()
    quarters = [quarter] if quarter else [1, 2, 3, 4]
    rows = {
        (r.unit_id, r.quarter): r
        for r in session.exec(
            select(Period).where(
                col(Period.unit_id).in_([u.id for u, _ in units]),
                Period.year == year,
                col(Period.quarter).in_(quarters),
            )
        )
    }
    views = [_view(a, u, year, q, rows.get((u.id or 0, q))) for u, a in units for q in quarters]
    if state is not None:
        views = [v for v in views if v.state == state]
    return views[page.offset : page.offset + page.limit], len(views)
