"""Reading the definitions: agencies, units, positions, decrees, variables and indicators."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import or_
from sqlmodel import Session, col, select

from app.core.errors import NotFound
from app.formula import describe, parse, to_latex
from app.models import (
    Agency,
    Decree,
    Indicator,
    IndicatorSourceUnit,
    Objective,
    Position,
    Unit,
    Variable,
)
from app.schemas.common import PageParams
from app.schemas.definitions import (
    AgencyPublic,
    AgencyRef,
    DecreePublic,
    DecreeRef,
    IkiDocument,
    IkiObjective,
    IndicatorPublic,
    IndicatorRef,
    ObjectivePublic,
    ObjectiveRef,
    PositionPublic,
    PositionRef,
    UnitPublic,
    UnitRef,
    VariablePublic,
)
from app.services.common import by_id, find_agency, get_or_404, paginate, resolve_agency  # noqa: F401
from app.services.decrees import INDICATOR_ORDER, indicator_in_year, indicator_query  # noqa: F401

# Agencies, units -----------------------------------------------------------------------------


def list_agencies(session: Session, page: PageParams) -> tuple[list[AgencyPublic], int]:
    rows, total = paginate(session, select(Agency), page, Agency.code)
    return [AgencyPublic.model_validate(a) for a in rows], total


def get_agency(session: Session, agency_id: int) -> AgencyPublic:
    return AgencyPublic.model_validate(get_or_404(session, Agency, agency_id, "Agency"))


def _unit_views(session: Session, units: Sequence[Unit]) -> list[UnitPublic]:
    agencies = by_id(session, Agency, {u.agency_id for u in units})
    return [
        UnitPublic(
            id=u.id or 0,
            code=u.code,
            name=u.name,
            agency=AgencyRef.model_validate(agencies[u.agency_id]),
        )
        for u in units
    ]


def list_units(
    session: Session, page: PageParams, agency: str | None = None
) -> tuple[list[UnitPublic], int]:
    query = select(Unit).join(Agency, Agency.id == Unit.agency_id)  # type: ignore[arg-type]
    if agency:
        query = query.where(Agency.code == agency)
    rows, total = paginate(session, query, page, Agency.code, Unit.id)
    return _unit_views(session, rows), total


def get_unit(session: Session, unit_id: int) -> UnitPublic:
    return _unit_views(session, [get_or_404(session, Unit, unit_id, "Unit")])[0]


# Positions -----------------------------------------------------------------------------------


def _position_views(session: Session, positions: Sequence[Position]) -> list[PositionPublic]:
    agencies = by_id(session, Agency, {p.agency_id for p in positions})
    units = by_id(session, Unit, {p.unit_id for p in positions if p.unit_id})
    superiors = by_id(session, Position, {p.superior_id for p in positions if p.superior_id})
    return [
        PositionPublic(
            id=p.id or 0,
            code=p.code,
            title=p.title,
            echelon=p.echelon,
            agency=AgencyRef.model_validate(agencies[p.agency_id]),
            unit=UnitRef.model_validate(units[p.unit_id]) if p.unit_id else None,
            superior=PositionRef.model_validate(superiors[p.superior_id])
            if p.superior_id
            else None,
            duties=p.duties,
            functions=p.functions,
            activities=p.activities,
        )
        for p in positions
    ]


def list_positions(
    session: Session, page: PageParams, agency: str | None = None, unit: str | None = None
) -> tuple[list[PositionPublic], int]:
    query = select(Position).join(Agency, Agency.id == Position.agency_id)  # type: ignore[arg-type]
    if agency:
        query = query.where(Agency.code == agency)
    if unit:
        query = query.join(Unit, Unit.id == Position.unit_id).where(  # type: ignore[arg-type]
            Unit.code == unit
        )
    rows, total = paginate(session, query, page, Agency.code, Position.id)
    return _position_views(session, rows), total


def get_position(session: Session, position_id: int) -> PositionPublic:
    return _position_views(session, [get_or_404(session, Position, position_id, "Position")])[0]


def _decree_views(session: Session, decrees: Sequence[Decree]) -> list[DecreePublic]:
    agencies = by_id(session, Agency, {d.agency_id for d in decrees})
    return [
        DecreePublic.model_validate(
            {**d.model_dump(), "agency": AgencyRef.model_validate(agencies[d.agency_id])}
        )
        for d in decrees
    ]


def iki_document(session: Session, position_id: int, year: int) -> IkiDocument:
    """A position's IKI for a year: its objectives and their indicators, in SK order."""
    position = get_or_404(session, Position, position_id, "Position")
    decree = session.exec(
        select(Decree).where(Decree.agency_id == position.agency_id, Decree.year == year)
    ).first()
    if decree is None:
        raise NotFound(f"No decree of year {year} for the agency of position {position.code}")
    objectives = list(
        session.exec(
            select(Objective)
            .where(Objective.decree_id == decree.id, Objective.position_id == position.id)
            .order_by(col(Objective.number))
        )
    )
    indicators = list(
        session.exec(
            select(Indicator)
            .where(col(Indicator.objective_id).in_([o.id for o in objectives]))
            .order_by(col(Indicator.number))
        )
    )
    views = indicator_views(session, indicators)
    by_objective: dict[int, list[IndicatorPublic]] = {}
    for view in views:
        by_objective.setdefault(view.objective.id, []).append(view)
    return IkiDocument(
        position=_position_views(session, [position])[0],
        decree=_decree_views(session, [decree])[0],
        objectives=[
            IkiObjective(
                id=o.id or 0,
                number=o.number,
                statement=o.statement,
                indicators=by_objective.get(o.id or 0, []),
            )
            for o in objectives
        ],
    )


# Decrees -------------------------------------------------------------------------------------


def list_decrees(
    session: Session, page: PageParams, agency: str | None = None, year: int | None = None
) -> tuple[list[DecreePublic], int]:
    query = select(Decree).join(Agency, Agency.id == Decree.agency_id)  # type: ignore[arg-type]
    if agency:
        query = query.where(Agency.code == agency)
    if year is not None:
        query = query.where(Decree.year == year)
    rows, total = paginate(session, query, page, Agency.code, col(Decree.year).desc())
    return _decree_views(session, rows), total


def get_decree(session: Session, decree_id: int) -> DecreePublic:
    return _decree_views(session, [get_or_404(session, Decree, decree_id, "Decree")])[0]


# Objectives ----------------------------------------------------------------------------------


def _objective_views(session: Session, objectives: Sequence[Objective]) -> list[ObjectivePublic]:
    decrees = by_id(session, Decree, {o.decree_id for o in objectives})
    positions = by_id(session, Position, {o.position_id for o in objectives})
    indicators: dict[int, list[IndicatorRef]] = {}
    if objectives:
        rows = session.exec(
            select(Indicator)
            .where(col(Indicator.objective_id).in_([o.id for o in objectives]))
            .order_by(col(Indicator.number), col(Indicator.id))
        )
        for ind in rows:
            indicators.setdefault(ind.objective_id, []).append(IndicatorRef.model_validate(ind))
    return [
        ObjectivePublic(
            id=o.id or 0,
            number=o.number,
            statement=o.statement,
            decree=DecreeRef.model_validate(decrees[o.decree_id]),
            position=PositionRef.model_validate(positions[o.position_id]),
            indicators=indicators.get(o.id or 0, []),
        )
        for o in objectives
    ]


def list_objectives(
    session: Session,
    page: PageParams,
    decree_id: int | None = None,
    agency: str | None = None,
    year: int | None = None,
    position: str | None = None,
) -> tuple[list[ObjectivePublic], int]:
    query = (
        select(Objective)
        .join(Decree, Decree.id == Objective.decree_id)  # type: ignore[arg-type]
        .join(Agency, Agency.id == Decree.agency_id)  # type: ignore[arg-type]
        .join(Position, Position.id == Objective.position_id)  # type: ignore[arg-type]
    )
    if decree_id is not None:
        query = query.where(Objective.decree_id == decree_id)
    if agency:
        query = query.where(Agency.code == agency)
    if year is not None:
        query = query.where(Decree.year == year)
    if position:
        query = query.where(Position.code == position)
    order = (Agency.code, col(Decree.year).desc(), Objective.position_id, Objective.number)
    rows, total = paginate(session, query, page, *order)
    return _objective_views(session, rows), total


def get_objective(session: Session, objective_id: int) -> ObjectivePublic:
    return _objective_views(session, [get_or_404(session, Objective, objective_id, "Objective")])[0]


# Variables -----------------------------------------------------------------------------------


def _variable_views(session: Session, variables: Sequence[Variable]) -> list[VariablePublic]:
    units = by_id(session, Unit, {v.owner_unit_id for v in variables})
    return [variable_view(v, units[v.owner_unit_id]) for v in variables]


def variable_view(variable: Variable, owner: Unit) -> VariablePublic:
    return VariablePublic.model_validate(
        {**variable.model_dump(), "owner_unit": UnitRef.model_validate(owner)}
    )


def list_variables(
    session: Session,
    page: PageParams,
    agency: str | None = None,
    unit: str | None = None,
    q: str | None = None,
) -> tuple[list[VariablePublic], int]:
    query = select(Variable).join(Agency, Agency.id == Variable.agency_id)  # type: ignore[arg-type]
    if agency:
        query = query.where(Agency.code == agency)
    if unit:
        query = query.join(Unit, Unit.id == Variable.owner_unit_id).where(  # type: ignore[arg-type]
            Unit.code == unit
        )
    if q:
        pattern = f"%{q}%"
        query = query.where(
            or_(col(Variable.code).ilike(pattern), col(Variable.label).ilike(pattern))
        )
    rows, total = paginate(session, query, page, Agency.code, Variable.code)
    return _variable_views(session, rows), total


def get_variable(session: Session, variable_id: int) -> VariablePublic:
    return _variable_views(session, [get_or_404(session, Variable, variable_id, "Variable")])[0]


# Indicators ----------------------------------------------------------------------------------


def indicator_views(session: Session, indicators: Sequence[Indicator]) -> list[IndicatorPublic]:
    """Full views of `indicators`, with a fixed number of queries whatever their count."""
    if not indicators:
        return []
    objectives = by_id(session, Objective, {i.objective_id for i in indicators})
    decrees = by_id(session, Decree, {i.decree_id for i in indicators})
    positions = by_id(session, Position, {o.position_id for o in objectives.values()})
    agencies = by_id(session, Agency, {d.agency_id for d in decrees.values()})
    parents = by_id(session, Indicator, {i.parent_id for i in indicators if i.parent_id})
    source_rows = session.exec(
        select(IndicatorSourceUnit.indicator_id, Unit)
        .join(Unit, Unit.id == IndicatorSourceUnit.unit_id)  # type: ignore[arg-type]
        .where(col(IndicatorSourceUnit.indicator_id).in_([i.id for i in indicators]))
        .order_by(col(Unit.id))
    )
    sources: dict[int, list[UnitRef]] = {}
    for indicator_id, unit in source_rows:
        sources.setdefault(indicator_id, []).append(UnitRef.model_validate(unit))
    variables = agency_variables(session, set(agencies))
    views = []
    for ind in indicators:
        objective = objectives[ind.objective_id]
        decree = decrees[ind.decree_id]
        known = variables.get(decree.agency_id, {})
        checked = parse(ind.formula)
        labels = {code: v.label for code, v in known.items()}
        views.append(
            IndicatorPublic(
                id=ind.id or 0,
                code=ind.code,
                number=ind.number,
                name=ind.name,
                formula=ind.formula,
                formula_description=describe(checked, labels),
                formula_latex=to_latex(checked, labels),
                variables=[known[c] for c in checked.variables if c in known],
                unit_of_measure=ind.unit_of_measure,
                polarity=ind.polarity,
                decimals=ind.decimals,
                objective=ObjectiveRef.model_validate(objective),
                position=PositionRef.model_validate(positions[objective.position_id]),
                decree=DecreeRef.model_validate(decree),
                agency=AgencyRef.model_validate(agencies[decree.agency_id]),
                explanation=ind.explanation,
                data_source=ind.data_source,
                source_units=sources.get(ind.id or 0, []),
                parent=IndicatorRef.model_validate(parents[ind.parent_id])
                if ind.parent_id
                else None,
                notes=ind.notes,
            )
        )
    return views


def agency_variables(
    session: Session, agency_ids: set[int]
) -> dict[int, dict[str, VariablePublic]]:
    """The variables of these agencies, by agency id and code, with their owner units."""
    if not agency_ids:
        return {}
    rows = session.exec(
        select(Variable, Unit)
        .join(Unit, Unit.id == Variable.owner_unit_id)  # type: ignore[arg-type]
        .where(col(Variable.agency_id).in_(agency_ids))
    )
    result: dict[int, dict[str, VariablePublic]] = {}
    for variable, unit in rows:
        result.setdefault(variable.agency_id, {})[variable.code] = variable_view(variable, unit)
    return result


def list_indicators(
    session: Session, page: PageParams, **filters: Any
) -> tuple[list[IndicatorPublic], int]:
    rows, total = paginate(session, indicator_query(**filters), page, *INDICATOR_ORDER)
    return indicator_views(session, rows), total


def get_indicator(session: Session, indicator_id: int) -> IndicatorPublic:
    return indicator_views(session, [get_or_404(session, Indicator, indicator_id, "Indicator")])[0]
