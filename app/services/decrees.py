"""Decrees (SK), their objectives (sasaran) and indicators: read, write, copy."""

from __future__ import annotations

from sqlalchemy import or_
from sqlmodel import Session, col, select
from sqlmodel.sql.expression import SelectOfScalar

from app.core.errors import InvalidInput
from app.models import Agency, Decree, Indicator, IndicatorSourceUnit, Objective, Position, Unit
from app.services.common import get_or_404


def indicator_query(
    agency: str | None = None,
    year: int | None = None,
    position: str | None = None,
    unit: str | None = None,
    q: str | None = None,
    code: str | None = None,
) -> SelectOfScalar[Indicator]:
    """Indicators matching the filters (codes of agency, position, source unit; text search)."""
    query = (
        select(Indicator)
        .join(Decree, Decree.id == Indicator.decree_id)  # type: ignore[arg-type]
        .join(Agency, Agency.id == Decree.agency_id)  # type: ignore[arg-type]
        .join(Objective, Objective.id == Indicator.objective_id)  # type: ignore[arg-type]
    )
    if agency:
        query = query.where(Agency.code == agency)
    if year is not None:
        query = query.where(Decree.year == year)
    if position:
        query = query.join(Position, Position.id == Objective.position_id).where(  # type: ignore[arg-type]
            Position.code == position
        )
    if unit:
        in_unit = (
            select(IndicatorSourceUnit.indicator_id)
            .join(Unit, Unit.id == IndicatorSourceUnit.unit_id)  # type: ignore[arg-type]
            .where(Unit.code == unit)
        )
        query = query.where(col(Indicator.id).in_(in_unit))
    if code:
        query = query.where(Indicator.code == code)
    if q:
        pattern = f"%{q}%"
        query = query.where(
            or_(col(Indicator.code).ilike(pattern), col(Indicator.name).ilike(pattern))
        )
    return query


INDICATOR_ORDER = (
    Agency.code,
    col(Decree.year).desc(),
    Objective.position_id,
    Objective.number,
    Indicator.number,
    Indicator.id,
)


def indicator_in_year(session: Session, indicator_id: int, year: int) -> tuple[Indicator, Agency]:
    """An indicator and its agency, checking that its decree is of `year` (422 otherwise)."""
    indicator = get_or_404(session, Indicator, indicator_id, "Indicator")
    decree = session.get(Decree, indicator.decree_id)
    agency = session.get(Agency, decree.agency_id) if decree else None
    assert decree is not None and agency is not None
    if decree.year != year:
        raise InvalidInput(
            f"Indicator {indicator.code} belongs to the SK of {decree.year}, not {year}",
            field="year",
        )
    return indicator, agency
