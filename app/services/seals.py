"""Official figures stay official: which quarters are under review (submitted) or sealed
(verified), and the refusal of every change that would move a figure resting on them.

A change of what feeds a unit's quarter (its values, its variables' aggregation, type,
range or owner, the formula or polarity of an indicator over them, the target it is
measured against, the rating scale, an indicator added to or removed from the decree) is
refused with 409 `verified_data` while the quarter is submitted or verified, naming the
quarters: the ways to change it are a return (submitted) or a reopen (verified).

This module reads periods and definitions only. Every answer is held until the transaction
ends: on PostgreSQL it locks the agencies it reads (as a workflow step does before it changes a
quarter's state), so a verification cannot commit between the check and the write it allows.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import select as sa_select
from sqlmodel import Session, col, select

from app.core.errors import VerifiedData
from app.models import Period, PeriodState, Unit, Variable
from app.services.common import lock_agencies
from app.services.formulas import formula_variables
from app.services.queries import indicators_over

UNDER_SEAL = (PeriodState.submitted, PeriodState.verified)
"""The states in which a quarter's figures may not move: under review, or official."""


@dataclass(frozen=True, order=True)
class Held:
    """A unit's quarter that is submitted or verified."""

    year: int
    quarter: int
    unit: str
    state: PeriodState

    def __str__(self) -> str:
        return f"{self.unit} {self.year} Q{self.quarter} ({self.state.value})"


def held_periods(
    session: Session,
    *,
    unit_ids: Iterable[int] | None = None,
    agency_ids: Iterable[int] | None = None,
    year: int | None = None,
) -> list[Held]:
    """The submitted or verified quarters of these units (or agencies), in one query."""
    if agency_ids is not None:
        agency_ids = set(agency_ids)
    if unit_ids is not None:
        unit_ids = set(unit_ids)
    lock_agencies(session, agency_ids or (), unit_ids=unit_ids)
    query = (
        select(Period.year, Period.quarter, Unit.code, Period.state)
        .join(Unit, col(Unit.id) == col(Period.unit_id))
        .where(col(Period.state).in_(UNDER_SEAL))
    )
    if unit_ids is not None:
        query = query.where(col(Period.unit_id).in_(unit_ids))
    if agency_ids is not None:
        query = query.where(col(Period.agency_id).in_(agency_ids))
    if year is not None:
        query = query.where(Period.year == year)
    return sorted(Held(y, q, code, PeriodState(state)) for y, q, code, state in session.exec(query))


def held_quarters_of(
    session: Session, formulas: Iterable[tuple[int, str]], year: int
) -> dict[tuple[int, str], list[Held]]:
    """For each (agency id, formula), the submitted or verified quarters of `year` of the
    units owning its variables: what a change of the formula, polarity or targets would
    rewrite. One query for them all."""
    codes = {key: formula_variables(key[1]) for key in set(formulas)}
    lock_agencies(session, {agency_id for agency_id, _ in codes})
    wanted = set().union(*codes.values())
    if not wanted:
        return {key: [] for key in codes}
    rows = session.execute(
        sa_select(
            col(Variable.agency_id),
            col(Variable.code),
            col(Period.quarter),
            col(Unit.code),
            col(Period.state),
        )
        .join(Period, col(Period.unit_id) == col(Variable.owner_unit_id))
        .join(Unit, col(Unit.id) == col(Period.unit_id))
        .where(
            col(Variable.agency_id).in_({agency_id for agency_id, _ in codes}),
            col(Variable.code).in_(wanted),
            col(Period.year) == year,
            col(Period.state).in_(UNDER_SEAL),
        )
        .distinct()
    ).all()
    held: dict[tuple[int, str], set[Held]] = {}
    for agency_id, code, quarter, unit, state in rows:
        held.setdefault((agency_id, code), set()).add(Held(year, quarter, unit, PeriodState(state)))
    return {
        key: sorted(set().union(*(held.get((key[0], code), set()) for code in used)))
        for key, used in codes.items()
    }


def held_quarters(session: Session, agency_id: int, formula: str, year: int) -> list[Held]:
    """`held_quarters_of` for one formula."""
    return held_quarters_of(session, [(agency_id, formula)], year)[(agency_id, formula)]


def held_for_variable(session: Session, variable: Variable, unit_ids: Iterable[int]) -> list[Held]:
    """The submitted or verified quarters of these units (a variable's owner, before and
    after a move) in the years whose decree has an indicator over the variable."""
    years = {year for _, year, _ in indicators_over(session, variable.agency_id, [variable.code])}
    return [h for h in held_periods(session, unit_ids=unit_ids) if h.year in years]


def quarters(held: Iterable[Held]) -> list[int]:
    return sorted({h.quarter for h in held})


def under_seal(
    subject: str,
    held: list[Held],
    *,
    field: str | None = None,
    what: str = "cannot change",
    otherwise: str | None = None,
) -> VerifiedData:
    """The 409 for a change of `subject` that figures of the `held` quarters rest on."""
    shown = ", ".join(str(h) for h in held[:20]) + (" ..." if len(held) > 20 else "")
    return VerifiedData(
        f"{subject} {what}: the capaian of {shown} rest on it. Return a submitted quarter or "
        f"reopen a verified one first{f', or {otherwise}' if otherwise else ''}",
        field=field,
        quarters=quarters(held),
        periods=[str(h) for h in held[:50]],
    )


def refuse_under_seal(
    subject: str,
    held: list[Held],
    *,
    field: str | None = None,
    what: str = "cannot change",
    otherwise: str | None = None,
) -> None:
    if held:
        raise under_seal(subject, held, field=field, what=what, otherwise=otherwise)
