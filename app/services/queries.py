"""Queries that several services share: which indicators, in which order; a quarter's
workflow state and locks, who wrote a quarter, what is verified; an agency's variables and
their stored values; the audit events of records.

This module imports models, schemas and core only, never a service, so that any service (the
one write path of data values, the workflow, targets, definitions, reports) can use it
without importing another service for a query.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, and_, or_
from sqlmodel import Session, col, select
from sqlmodel.sql.expression import SelectOfScalar

from app.core.errors import NoDecree, NotFound
from app.core.plans import in_order
from app.formula import names_in
from app.models import (
    Agency,
    AuditEvent,
    DataValue,
    Decree,
    Indicator,
    IndicatorSourceUnit,
    Objective,
    Period,
    PeriodState,
    Position,
    Unit,
    Variable,
)

# Indicators ----------------------------------------------------------------------------------


def indicator_query(
    agency: str | None = None,
    year: int | None = None,
    position: str | None = None,
    unit: str | None = None,
    q: str | None = None,
    code: str | None = None,
) -> SelectOfScalar[Indicator]:
    """Indicators matching the filters (codes of agency, position, source unit; text search)."""
    # Agency by agency, their decrees, then the decrees' indicators through the indexes
    # named: the same plan whatever statistics SQLite holds (see app/core/plans.py).
    tables = [
        (Decree, col(Decree.agency_id) == col(Agency.id), "ix_decree_agency_id"),
        (Indicator, col(Indicator.decree_id) == col(Decree.id), "ix_indicator_decree_id"),
        (Objective, col(Objective.id) == col(Indicator.objective_id)),
    ]
    if position:
        tables.append((Position, col(Position.id) == col(Objective.position_id)))
    query = select(Indicator).select_from(in_order(Agency, *tables))
    if agency:
        query = query.where(Agency.code == agency)
    if year is not None:
        query = query.where(Decree.year == year)
    if position:
        query = query.where(Position.code == position)
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


INDICATOR_ORDER: tuple[Any, ...] = (
    Agency.code,
    col(Decree.year).desc(),
    Objective.position_id,
    Objective.number,
    Indicator.number,
    Indicator.id,
)


# Years: the one rule --------------------------------------------------------------------------


def no_decree(year: int, years: Iterable[int], whose: str) -> NoDecree:
    """The refusal of a year that no decree (SK) of `whose` defines: 404
    `year_not_in_decree`, naming the years there are. Every route that is of a year (in
    its path, or the `year` a list, document or report is of) answers it alike."""
    known = sorted(set(years))
    listed = ", ".join(str(y) for y in known) or "none"
    return NoDecree(
        f"No decree (SK) of {year} for {whose} (years: {listed})", field="year", years=known
    )


def require_decree(session: Session, year: int, agency: Agency | None = None) -> None:
    """404 `year_not_in_decree` unless there is a decree of `year`: of `agency` when the
    route is of one agency, else of any agency."""
    query = select(Decree.year)
    if agency is not None:
        query = query.where(Decree.agency_id == agency.id)
    if session.exec(query.where(Decree.year == year).limit(1)).first() is None:
        years = session.exec(query.distinct())
        raise no_decree(year, years, f"agency {agency.code}" if agency else "any agency")


def indicator_in_year(session: Session, indicator_id: int, year: int) -> tuple[Indicator, Agency]:
    """An indicator and its agency, checking that its decree is of `year` (404
    `year_not_in_decree` otherwise)."""
    found = session.exec(
        select(Indicator, Decree.year, Agency)
        .join(Decree, Decree.id == Indicator.decree_id)  # type: ignore[arg-type]
        .join(Agency, Agency.id == Decree.agency_id)  # type: ignore[arg-type]
        .where(Indicator.id == indicator_id)
    ).first()
    if found is None:
        raise NotFound(f"Indicator {indicator_id} does not exist")
    indicator, decree_year, agency = found
    refused = not_of_year(indicator, decree_year, year)
    if refused is not None:
        raise refused
    return indicator, agency


def not_of_year(indicator: Indicator, decree_year: int, year: int) -> NoDecree | None:
    """The refusal of an indicator whose decree is of another year than `year`, if it is."""
    if decree_year == year:
        return None
    return NoDecree(
        f"Indicator {indicator.code} belongs to the SK of {decree_year}, not {year}",
        field="year",
        years=[decree_year],
    )


# Variables and their values ------------------------------------------------------------------


@dataclass(frozen=True)
class AgencyVariables:
    """An agency's variables by code, with their owner units."""

    agency: Agency
    variables: dict[str, Variable]
    units: dict[int, Unit]

    @property
    def variables_by_id(self) -> dict[int, Variable]:
        return {v.id or 0: v for v in self.variables.values()}


def load_agency_variables(
    session: Session, agency: Agency, codes: Iterable[str] | None = None
) -> AgencyVariables:
    """The agency's variables (those with `codes` only, if given) and their owner units."""
    query = (
        select(Variable, Unit)
        .join(Unit, Unit.id == Variable.owner_unit_id)  # type: ignore[arg-type]
        .where(Variable.agency_id == agency.id)
    )
    if codes is not None:
        query = query.where(col(Variable.code).in_(set(codes)))
    rows = session.exec(query).all()
    return AgencyVariables(
        agency, {v.code: v for v, _ in rows}, {u.id: u for _, u in rows if u.id is not None}
    )


def existing_values(
    session: Session, keys: Iterable[tuple[int, int, int]]
) -> dict[tuple[int, int, int], DataValue]:
    """Stored values by (variable_id, year, quarter), in one query."""
    keys = set(keys)
    if not keys:
        return {}
    variable_ids = {k[0] for k in keys}
    years = {k[1] for k in keys}
    query = select(DataValue).where(
        col(DataValue.variable_id).in_(variable_ids), col(DataValue.year).in_(years)
    )
    rows = session.exec(query)
    found = {(r.variable_id, r.year, r.quarter): r for r in rows}
    return {k: v for k, v in found.items() if k in keys}


# The workflow: states and locks ----------------------------------------------------------------


def periods(
    session: Session, unit_ids: Iterable[int], year: int, quarters: Iterable[int]
) -> dict[tuple[int, int], Period]:
    """The periods of these units' quarters of `year` that left open at least once, by
    (unit id, quarter), in one query (a quarter without one is open)."""
    unit_ids, quarters = set(unit_ids), set(quarters)
    if not unit_ids or not quarters:
        return {}
    rows = session.exec(
        select(Period).where(
            col(Period.unit_id).in_(unit_ids),
            Period.year == year,
            col(Period.quarter).in_(quarters),
        )
    )
    return {(row.unit_id, row.quarter): row for row in rows}


def locked_periods(session: Session, agency_id: int) -> dict[tuple[int, int, int], PeriodState]:
    """The agency's locked quarters (submitted or verified) by (unit id, year, quarter)."""
    rows = session.exec(
        select(Period).where(
            Period.agency_id == agency_id,
            col(Period.state).in_([PeriodState.submitted, PeriodState.verified]),
        )
    )
    return {(r.unit_id, r.year, r.quarter): r.state for r in rows}


def events_of(session: Session, entity: str, ids: Iterable[int]) -> list[AuditEvent]:
    """The events of these records of one kind, oldest first."""
    return events_of_records(session, {entity: ids})


def events_condition(records: Mapping[str, Iterable[int | None]]) -> ColumnElement[bool] | None:
    """The condition on audit events of these records (ids by kind); None if there is none."""
    wanted = {entity: [str(i) for i in ids if i is not None] for entity, ids in records.items()}
    conditions = [
        and_(col(AuditEvent.entity) == entity, col(AuditEvent.entity_id).in_(ids))
        for entity, ids in wanted.items()
        if ids
    ]
    return or_(*conditions) if conditions else None


def events_of_records(
    session: Session, records: Mapping[str, Iterable[int | None]]
) -> list[AuditEvent]:
    """The events of these records (ids by kind), oldest first, in one query."""
    condition = events_condition(records)
    if condition is None:
        return []
    return list(session.exec(select(AuditEvent).where(condition).order_by(col(AuditEvent.id))))


def indicators_over(
    session: Session, agency_id: int, codes: Iterable[str], year: int | None = None
) -> list[tuple[int, int, set[str]]]:
    """The indicators of an agency's decrees (of `year`, if given) whose formulas use one of
    the variable `codes`: (id, year, the variables each uses), read from each formula's
    names (never a search of the text), in one query."""
    wanted = set(codes)
    query = (
        select(Indicator.id, Decree.year, Indicator.formula)
        .join(Decree, col(Decree.id) == col(Indicator.decree_id))
        .where(Decree.agency_id == agency_id)
    )
    if year is not None:
        query = query.where(Decree.year == year)
    found = []
    for ident, in_year, formula in session.exec(query.order_by(col(Indicator.id))):
        used = names_in(formula)
        if ident is not None and used & wanted:
            found.append((ident, in_year, used))
    return found
