"""Perjanjian Kinerja targets: annual and year-to-date per quarter."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from sqlmodel import Session, select

from app.core.db import utcnow
from app.core.errors import VerifiedData, WriteConflict
from app.core.security import Principal
from app.models import Agency, Indicator, Target
from app.schemas.targets import TargetsPublic, TargetsPut
from app.services import workflow
from app.services.common import savepoint
from app.services.decrees import indicator_in_year

ANNUAL = 0  # Target.quarter of the annual target


def get_targets(session: Session, indicator_id: int, year: int) -> TargetsPublic:
    indicator, _ = indicator_in_year(session, indicator_id, year)
    rows = session.exec(
        select(Target).where(Target.indicator_id == indicator.id, Target.year == year)
    ).all()
    return _view(indicator, year, rows)


def set_targets(
    session: Session,
    principal: Principal,
    indicator_id: int,
    year: int,
    body: TargetsPut,
) -> TargetsPublic:
    """Replace an indicator's targets for a year (those not given are removed)."""
    indicator, agency = indicator_in_year(session, indicator_id, year)
    wanted = dict(body.quarters)
    if body.annual is not None:
        wanted[ANNUAL] = body.annual
    now = utcnow()
    current = {
        t.quarter: t
        for t in session.exec(
            select(Target).where(Target.indicator_id == indicator.id, Target.year == year)
        )
    }
    _refuse_rewriting_verified(session, indicator, agency, year, current, wanted)
    removed = [row for quarter, row in current.items() if quarter not in wanted]
    for row in removed:
        session.delete(row)
    if removed:
        # A removed target leaves no row to carry the change: mark it on the indicator, so
        # that `updated_since` pulls notice it.
        indicator.updated_at = now
        session.add(indicator)
    created: list[Target] = []
    for quarter, value in wanted.items():
        existing = current.get(quarter)
        if existing is not None and existing.value == value:
            continue
        row = existing or Target(
            indicator_id=indicator.id or 0, year=year, quarter=quarter, value=value
        )
        if existing is None:
            created.append(row)
        row.value = value
        row.updated_at = now
        row.updated_by = principal.name
    # A concurrent writer may create the same target first.
    conflict = WriteConflict(
        "These targets were set by someone else at the same time; read them and retry"
    )
    with savepoint(session, conflict):
        session.add_all(created)
    rows = session.exec(
        select(Target).where(Target.indicator_id == indicator.id, Target.year == year)
    ).all()
    return _view(indicator, year, rows)


def _effective(targets: Mapping[int, float | None], quarter: int) -> float | None:
    """The target a quarter is measured against: its own, else the annual one."""
    own = targets.get(quarter)
    return own if own is not None else targets.get(ANNUAL)


def _refuse_rewriting_verified(
    session: Session,
    indicator: Indicator,
    agency: Agency,
    year: int,
    current: Mapping[int, Target],
    wanted: Mapping[int, float],
) -> None:
    """409 when the target a verified quarter is measured against would change."""
    before = {q: t.value for q, t in current.items()}
    changed = [q for q in (1, 2, 3, 4) if _effective(before, q) != _effective(wanted, q)]
    if not changed:
        return
    verified = workflow.verified_quarters(session, agency.id or 0, indicator.formula, year)
    hit = [q for q in changed if q in verified]
    if hit:
        raise VerifiedData(
            f"The targets of {indicator.code} for {year} "
            f"{', '.join(f'Q{q}' for q in hit)} are those of verified capaian: reopen those "
            "quarters first",
            quarters=hit,
        )


def _view(indicator: Indicator, year: int, rows: Sequence[Target]) -> TargetsPublic:
    annual = next((t for t in rows if t.quarter == ANNUAL), None)
    return TargetsPublic(
        indicator_id=indicator.id or 0,
        indicator_code=indicator.code,
        year=year,
        annual=annual.value if annual else None,
        quarters={t.quarter: t.value for t in sorted(rows, key=lambda t: t.quarter) if t.quarter},
        updated_at=max((t.updated_at for t in rows), default=None),
        updated_by=max(rows, key=lambda t: t.updated_at).updated_by if rows else None,
    )
