"""Decrees (SK), their objectives (sasaran) and indicators: list, get, create, change,
delete, and copy a decree for the next year; a position's IKI document.

Every rule is checked before anything is written, so a refused request leaves the session as
it found it. Services flush, never commit: the request's unit of work commits.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import or_
from sqlmodel import Session, SQLModel, col, select
from sqlmodel.sql.expression import SelectOfScalar

from app.core.db import utcnow
from app.core.errors import AppError, Conflict, InvalidInput, NotFound, VerifiedData
from app.formula import describe, parse, to_latex
from app.models import (
    Agency,
    DataValue,
    Decree,
    Indicator,
    IndicatorSourceUnit,
    Objective,
    Position,
    Target,
    Unit,
    Variable,
)
from app.models.decrees import DecreeText, IndicatorBase, ObjectiveBase, Signatory
from app.schemas.common import PageParams
from app.schemas.decrees import (
    DecreeCopy,
    DecreeCreate,
    DecreePublic,
    DecreeRef,
    DecreeUpdate,
    IkiDocument,
    IkiObjective,
    IndicatorCreate,
    IndicatorPublic,
    IndicatorRef,
    IndicatorUpdate,
    ObjectiveCreate,
    ObjectivePublic,
    ObjectiveRef,
    ObjectiveUpdate,
)
from app.schemas.organization import AgencyRef, PositionRef, UnitRef
from app.services import workflow
from app.services.common import (
    agency_of,
    agency_positions,
    agency_units,
    apply_changes,
    by_id,
    codes_of,
    delete_rows,
    exists,
    get_or_404,
    id_of,
    insert_in_order,
    paginate,
    pick_position,
    pick_units,
    position_by_code,
    reaches,
    refuse_if_referred,
    resolve_agency,
    savepoint,
    units_by_code,
)
from app.services.formulas import checked_against, formula_variables, validated, variable_codes
from app.services.organization import position_views
from app.services.variables import agency_variables


def _decree_views(session: Session, decrees: Sequence[Decree]) -> list[DecreePublic]:
    agencies = by_id(session, Agency, {d.agency_id for d in decrees})
    return [
        DecreePublic.model_validate(
            d, update={"agency": AgencyRef.model_validate(agencies[d.agency_id])}
        )
        for d in decrees
    ]


def decree_of_position(session: Session, position: Position, year: int) -> Decree:
    """The decree of `year` of the position's agency; 404 when there is none."""
    decree = session.exec(
        select(Decree).where(Decree.agency_id == position.agency_id, Decree.year == year)
    ).first()
    if decree is None:
        raise NotFound(f"No decree of year {year} for the agency of position {position.code}")
    return decree


def iki_document(session: Session, position_id: int, year: int) -> IkiDocument:
    """A position's IKI for a year: its objectives and their indicators, in SK order."""
    position = get_or_404(session, Position, position_id, "Position")
    decree = decree_of_position(session, position, year)
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
        position=position_views(session, [position])[0],
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
    session: Session, page: PageParams, *, agency: str | None = None, year: int | None = None
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
        ObjectivePublic.model_validate(
            o,
            update={
                "decree": DecreeRef.model_validate(decrees[o.decree_id]),
                "position": PositionRef.model_validate(positions[o.position_id]),
                "indicators": indicators.get(id_of(o), []),
            },
        )
        for o in objectives
    ]


def list_objectives(
    session: Session,
    page: PageParams,
    *,
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
            IndicatorPublic.model_validate(
                ind,
                update={
                    "formula_description": describe(checked, labels),
                    "formula_latex": to_latex(checked, labels),
                    "variables": [known[c] for c in checked.variables if c in known],
                    "objective": ObjectiveRef.model_validate(objective),
                    "position": PositionRef.model_validate(positions[objective.position_id]),
                    "decree": DecreeRef.model_validate(decree),
                    "agency": AgencyRef.model_validate(agencies[decree.agency_id]),
                    "source_units": sources.get(id_of(ind), []),
                    "parent": IndicatorRef.model_validate(parents[ind.parent_id])
                    if ind.parent_id
                    else None,
                },
            )
        )
    return views


def list_indicators(
    session: Session, page: PageParams, **filters: Any
) -> tuple[list[IndicatorPublic], int]:
    rows, total = paginate(session, indicator_query(**filters), page, *INDICATOR_ORDER)
    return indicator_views(session, rows), total


def get_indicator(session: Session, indicator_id: int) -> IndicatorPublic:
    return indicator_views(session, [get_or_404(session, Indicator, indicator_id, "Indicator")])[0]


# Decrees -------------------------------------------------------------------------------------


def _refuse_decree_conflicts(
    session: Session, agency: Agency, year: int, number: str, decree_id: int | None = None
) -> None:
    others = select(Decree).where(Decree.agency_id == agency.id)
    if decree_id is not None:
        others = others.where(Decree.id != decree_id)
    same_year = session.exec(others.where(Decree.year == year).limit(1)).first()
    if same_year is not None:
        raise Conflict(
            f"Agency {agency.code} already has a decree for {year}: {same_year.number} "
            f"(id {same_year.id})",
            field="year",
        )
    if exists(session, others.where(Decree.number == number)):
        raise Conflict(
            f"Agency {agency.code} already has a decree numbered '{number}'", field="number"
        )


def _decree_conflict(agency: Agency) -> Conflict:
    return Conflict(f"Agency {agency.code} already has a decree of that year or number")


def create_decree(session: Session, data: DecreeCreate) -> DecreePublic:
    agency = resolve_agency(session, data.agency)
    _refuse_decree_conflicts(session, agency, data.year, data.number)
    decree = Decree(agency_id=id_of(agency), **data.model_dump(exclude={"agency"}))
    with savepoint(session, _decree_conflict(agency)):
        session.add(decree)
    return get_decree(session, id_of(decree))


def update_decree(session: Session, decree_id: int, data: DecreeUpdate) -> DecreePublic:
    decree = get_or_404(session, Decree, decree_id, "Decree")
    agency = agency_of(session, decree.agency_id)
    changes = data.model_dump(exclude_unset=True)
    year, number = changes.get("year", decree.year), changes.get("number", decree.number)
    _refuse_decree_conflicts(session, agency, year, number, decree_id)
    if year != decree.year:
        # Targets are set per year: moving the decree would detach them from their year's SK.
        targets = session.exec(
            select(Indicator.code, Target.year, Target.quarter)
            .join(Indicator, Indicator.id == Target.indicator_id)  # type: ignore[arg-type]
            .where(Indicator.decree_id == decree_id)
            .order_by(col(Indicator.id), col(Target.quarter))
        )
        refuse_if_referred(
            f"Decree {decree.number} cannot move to {year}: it",
            {"targets": [_target_label(code, y, q) for code, y, q in targets]},
        )
    apply_changes(session, decree, changes, _decree_conflict(agency))
    return get_decree(session, decree_id)


def _target_label(indicator_code: str, year: int, quarter: int) -> str:
    return f"{indicator_code} {year} {f'Q{quarter}' if quarter else 'annual'}"


def delete_decree(session: Session, decree_id: int) -> None:
    decree = get_or_404(session, Decree, decree_id, "Decree")
    objectives = session.exec(
        select(Position.code, Objective.number)
        .join(Position, Position.id == Objective.position_id)  # type: ignore[arg-type]
        .where(Objective.decree_id == decree_id)
        .order_by(col(Objective.position_id), col(Objective.number))
    )
    refuse_if_referred(
        f"Decree {decree.number} ({decree.year})",
        {
            "objectives": [f"{code}.{number}" for code, number in objectives],
            "indicators": codes_of(session, Indicator.code, Indicator.decree_id == decree_id),
        },
    )
    delete_rows(session, [decree], f"Decree {decree.number}")


def copy_decree(session: Session, decree_id: int, data: DecreeCopy) -> DecreePublic:
    """A new decree of the same agency with copies of this one's objectives and indicators
    (codes, formulas, texts, source units, cascade links), but none of its targets or data."""
    source = get_or_404(session, Decree, decree_id, "Decree")
    agency = agency_of(session, source.agency_id)
    _refuse_decree_conflicts(session, agency, data.year, data.number)
    given = data.model_dump(exclude_unset=True)
    carried = {*Signatory.model_fields, *DecreeText.model_fields}  # the SK's own text
    header = {name: given.get(name, getattr(source, name)) for name in carried}
    title = given["title"] if "title" in given else _retitled(source, data.year)
    objectives = list(
        session.exec(
            select(Objective).where(Objective.decree_id == decree_id).order_by(col(Objective.id))
        )
    )
    indicators = list(
        session.exec(
            select(Indicator).where(Indicator.decree_id == decree_id).order_by(col(Indicator.id))
        )
    )
    links = list(
        session.exec(
            select(IndicatorSourceUnit).where(
                col(IndicatorSourceUnit.indicator_id).in_([id_of(i) for i in indicators])
            )
        )
    )
    with savepoint(session, _decree_conflict(agency)):
        decree = Decree(
            agency_id=source.agency_id,
            number=data.number,
            title=title,
            date=data.date,
            year=data.year,
            **header,
        )
        session.add(decree)
        session.flush()
        new_objectives = {
            id_of(o): Objective(
                decree_id=id_of(decree), position_id=o.position_id, **_fields(o, ObjectiveBase)
            )
            for o in objectives
        }
        session.add_all(new_objectives.values())
        session.flush()
        new_indicators = {
            id_of(i): Indicator(
                decree_id=id_of(decree),
                objective_id=id_of(new_objectives[i.objective_id]),
                **_fields(i, IndicatorBase),
            )
            for i in indicators
        }
        session.add_all(new_indicators.values())
        session.flush()
        for old in indicators:
            if old.parent_id in new_indicators:
                new_indicators[id_of(old)].parent_id = id_of(new_indicators[old.parent_id])
        session.add_all(
            IndicatorSourceUnit(
                indicator_id=id_of(new_indicators[link.indicator_id]), unit_id=link.unit_id
            )
            for link in links
        )
    return get_decree(session, id_of(decree))


def _fields(row: SQLModel, base: type[SQLModel]) -> dict[str, Any]:
    """The values of the fields that `base` declares (an entity's own, not its keys)."""
    return row.model_dump(include=set(base.model_fields))


def _retitled(source: Decree, year: int) -> str | None:
    if source.title is None:
        return None
    return source.title.replace(str(source.year), str(year))


# Objectives ----------------------------------------------------------------------------------


def _objective_conflict(position: Position, number: int) -> Conflict:
    return Conflict(
        f"Position {position.code} already has objective {number} in this decree", field="number"
    )


def _refuse_objective_conflict(
    session: Session, decree_id: int, position: Position, number: int, objective_id: int = 0
) -> None:
    same = select(Objective.id).where(
        Objective.decree_id == decree_id,
        Objective.position_id == position.id,
        Objective.number == number,
        Objective.id != objective_id,
    )
    if exists(session, same):
        raise _objective_conflict(position, number)


def create_objective(session: Session, data: ObjectiveCreate) -> ObjectivePublic:
    decree = session.get(Decree, data.decree_id)
    if decree is None:
        raise InvalidInput(f"Decree {data.decree_id} does not exist", field="decree_id")
    new = NewObjectives(session, decree)
    new.add(data)
    return _objective_views(session, new.write())[0]


class NewObjectives:
    """New objectives of one decree: each checked as it is added, all written by `write`,
    with a fixed number of queries whatever their count."""

    def __init__(self, session: Session, decree: Decree) -> None:
        self.session = session
        self.decree = decree
        self.agency = agency_of(session, decree.agency_id)
        self.positions = agency_positions(session, decree.agency_id)
        self.taken = set(
            session.exec(
                select(Objective.position_id, Objective.number).where(
                    Objective.decree_id == decree.id
                )
            ).all()
        )
        self.pending: list[tuple[Objective, Position]] = []

    def add(self, data: ObjectiveCreate) -> Objective:
        """Check an objective of the decree; the row that `write` will insert."""
        if data.decree_id != self.decree.id:
            raise ValueError(f"objective of decree {data.decree_id} added to {self.decree.id}")
        position = pick_position(
            self.positions.get(data.position), self.agency, data.position, "position"
        )
        if (id_of(position), data.number) in self.taken:
            raise _objective_conflict(position, data.number)
        objective = Objective(
            decree_id=id_of(self.decree),
            position_id=id_of(position),
            number=data.number,
            statement=data.statement,
        )
        self.taken.add((id_of(position), data.number))
        self.pending.append((objective, position))
        return objective

    def write(self) -> list[Objective]:
        """Insert the objectives added since the last write; the flushed rows."""
        rows, self.pending = self.pending, []
        error = (
            _objective_conflict(rows[0][1], rows[0][0].number)
            if len(rows) == 1
            else Conflict(f"Decree {self.decree.year} already has one of these objectives")
        )
        with savepoint(self.session, error):
            self.session.add_all(objective for objective, _ in rows)
        return [objective for objective, _ in rows]


def update_objective(session: Session, objective_id: int, data: ObjectiveUpdate) -> ObjectivePublic:
    objective = get_or_404(session, Objective, objective_id, "Objective")
    decree = get_or_404(session, Decree, objective.decree_id, "Decree")
    changes = data.model_dump(exclude_unset=True)
    if "position" in changes:
        agency = agency_of(session, decree.agency_id)
        position = position_by_code(session, agency, changes.pop("position"), "position")
        changes["position_id"] = id_of(position)
    else:
        position = get_or_404(session, Position, objective.position_id, "Position")
    number = changes.get("number", objective.number)
    _refuse_objective_conflict(session, id_of(decree), position, number, objective_id)
    apply_changes(session, objective, changes, _objective_conflict(position, number))
    return get_objective(session, objective_id)


def delete_objective(session: Session, objective_id: int) -> None:
    objective = get_or_404(session, Objective, objective_id, "Objective")
    position = get_or_404(session, Position, objective.position_id, "Position")
    decree = get_or_404(session, Decree, objective.decree_id, "Decree")
    label = f"Objective {position.code}.{objective.number} ({decree.year})"
    indicators = codes_of(session, Indicator.code, Indicator.objective_id == objective_id)
    refuse_if_referred(label, {"indicators": indicators})
    delete_rows(session, [objective], label)


# Indicators ----------------------------------------------------------------------------------


def _indicator_code_conflict(decree: Decree, code: str) -> Conflict:
    return Conflict(f"Decree {decree.year} already has an indicator '{code}'", field="code")


def _refuse_indicator_code_conflict(
    session: Session, decree: Decree, code: str, indicator_id: int = 0
) -> None:
    same = select(Indicator.id).where(
        Indicator.decree_id == decree.id, Indicator.code == code, Indicator.id != indicator_id
    )
    if exists(session, same):
        raise _indicator_code_conflict(decree, code)


def _parent_id(session: Session, decree: Decree, code: str | None) -> int | None:
    if code is None:
        return None
    parent = session.exec(
        select(Indicator.id).where(Indicator.decree_id == decree.id, Indicator.code == code)
    ).first()
    if parent is None:
        raise _unknown_parent(decree, code)
    return parent


def _unknown_parent(decree: Decree, code: str) -> InvalidInput:
    return InvalidInput(
        f"No indicator '{code}' in decree {decree.year}: a parent must be in the same decree",
        field="parent",
    )


def create_indicator(session: Session, data: IndicatorCreate) -> IndicatorPublic:
    objective = _objective_of(session, data)
    new = NewIndicators(session, get_or_404(session, Decree, objective.decree_id, "Decree"))
    new.add(data)
    return indicator_views(session, new.write())[0]


def _objective_of(session: Session, data: IndicatorCreate) -> Objective:
    objective = session.get(Objective, data.objective_id)
    if objective is None:
        raise InvalidInput(f"Objective {data.objective_id} does not exist", field="objective_id")
    return objective


class NewIndicators:
    """New indicators of one decree, with their source units: each checked as it is added
    (its parent exists or was added before it), all written by `write`, with a fixed number
    of queries whatever their count."""

    def __init__(self, session: Session, decree: Decree) -> None:
        self.session = session
        self.decree = decree
        self.agency = agency_of(session, decree.agency_id)
        self.indicators = {
            i.code: i
            for i in session.exec(select(Indicator).where(Indicator.decree_id == decree.id))
        }
        self.variables = variable_codes(session, id_of(self.agency))
        self.units = agency_units(session, self.agency)
        self.pending: list[tuple[Indicator, Indicator | None, list[Unit]]] = []

    def add(self, data: IndicatorCreate) -> Indicator:
        """Check an indicator of the decree; the row that `write` will insert."""
        decree = self.decree
        if _objective_of(self.session, data).decree_id != decree.id:
            raise ValueError(f"indicator of objective {data.objective_id} added to {decree.id}")
        if data.code in self.indicators:
            raise _indicator_code_conflict(decree, data.code)
        checked_against(data.formula, self.variables, "formula")
        units = pick_units(self.units, self.agency, data.source_units, "source_units")
        parent = None
        if data.parent is not None:
            parent = self.indicators.get(data.parent)
            if parent is None:
                raise _unknown_parent(decree, data.parent)
        indicator = Indicator(
            decree_id=id_of(decree), **data.model_dump(exclude={"source_units", "parent"})
        )
        self.indicators[indicator.code] = indicator
        self.pending.append((indicator, parent, units))
        return indicator

    def write(self) -> list[Indicator]:
        """Insert the indicators added since the last write and their source units; the
        flushed rows."""
        rows, self.pending = self.pending, []
        error = (
            _indicator_code_conflict(self.decree, rows[0][0].code)
            if len(rows) == 1
            else Conflict(f"Decree {self.decree.year} already has one of these indicators")
        )
        with savepoint(self.session, error):
            insert_in_order(self.session, [(row, parent) for row, parent, _ in rows], "parent_id")
            self.session.add_all(
                IndicatorSourceUnit(indicator_id=id_of(row), unit_id=id_of(unit))
                for row, _, units in rows
                for unit in units
            )
        return [row for row, _, _ in rows]


def update_indicator(session: Session, indicator_id: int, data: IndicatorUpdate) -> IndicatorPublic:
    indicator = get_or_404(session, Indicator, indicator_id, "Indicator")
    decree = get_or_404(session, Decree, indicator.decree_id, "Decree")
    agency = agency_of(session, decree.agency_id)
    changes = data.model_dump(exclude_unset=True)
    if "objective_id" in changes:
        objective = session.get(Objective, changes["objective_id"])
        if objective is None or objective.decree_id != decree.id:
            raise InvalidInput(
                f"Objective {changes['objective_id']} is not an objective of decree "
                f"{decree.year}; an indicator stays in its decree",
                field="objective_id",
            )
    code = changes.get("code", indicator.code)
    _refuse_indicator_code_conflict(session, decree, code, indicator_id)
    if "formula" in changes:
        validated(session, id_of(agency), changes["formula"], "formula")
    _refuse_rewriting_verified(session, indicator, decree, changes)
    units = None
    if "source_units" in changes:
        units = units_by_code(session, agency, changes.pop("source_units"), "source_units")
    if "parent" in changes:
        parent_id = _parent_id(session, decree, changes.pop("parent"))
        if parent_id is not None:
            _refuse_parent_cycle(session, indicator, parent_id)
        changes["parent_id"] = parent_id
    error = _indicator_code_conflict(decree, code)
    apply_changes(session, indicator, changes, error)
    if units is not None:
        _replace_source_units(session, indicator, [id_of(u) for u in units], error)
    return get_indicator(session, indicator_id)


def _refuse_rewriting_verified(
    session: Session, indicator: Indicator, decree: Decree, changes: dict[str, Any]
) -> None:
    """409 when a change would rewrite capaian already verified: the formula (and so the
    variables) or the polarity of an indicator with verified quarters in its decree's year."""
    rewritten = [
        name
        for name in ("formula", "polarity")
        if name in changes and changes[name] != getattr(indicator, name)
    ]
    if not rewritten:
        return
    verified = workflow.verified_quarters(session, decree.agency_id, indicator.formula, decree.year)
    if verified:
        raise VerifiedData(
            f"{indicator.code} has verified capaian in {decree.year} "
            f"({', '.join(f'Q{q}' for q in verified)}): its {' and '.join(rewritten)} cannot "
            f"change. Start the next SK with POST /api/v1/decrees/{decree.id}/copy, or reopen "
            "those quarters",
            field=rewritten[0],
            quarters=verified,
        )


def _refuse_parent_cycle(session: Session, indicator: Indicator, parent_id: int) -> None:
    parents = dict(
        session.exec(
            select(Indicator.id, Indicator.parent_id).where(
                Indicator.decree_id == indicator.decree_id
            )
        ).all()
    )
    if reaches(parents, parent_id, id_of(indicator)):
        raise InvalidInput(
            f"Indicator {indicator.code} cannot cascade to itself or to one of the "
            "indicators cascading to it",
            field="parent",
        )


def _replace_source_units(
    session: Session, indicator: Indicator, unit_ids: list[int], error: AppError
) -> None:
    current = {
        link.unit_id: link
        for link in session.exec(
            select(IndicatorSourceUnit).where(IndicatorSourceUnit.indicator_id == indicator.id)
        )
    }
    if list(current) == unit_ids:
        return
    with savepoint(session, error):
        for unit_id, link in current.items():
            if unit_id not in unit_ids:
                session.delete(link)
        session.add_all(
            IndicatorSourceUnit(indicator_id=id_of(indicator), unit_id=unit_id)
            for unit_id in unit_ids
            if unit_id not in current
        )
        indicator.updated_at = utcnow()
        session.add(indicator)


def delete_indicator(session: Session, indicator_id: int) -> None:
    indicator = get_or_404(session, Indicator, indicator_id, "Indicator")
    decree = get_or_404(session, Decree, indicator.decree_id, "Decree")
    targets = session.exec(
        select(Target.year, Target.quarter)
        .where(Target.indicator_id == indicator_id)
        .order_by(col(Target.year), col(Target.quarter))
    )
    data = session.exec(
        select(Variable.code, DataValue.quarter)
        .join(Variable, Variable.id == DataValue.variable_id)  # type: ignore[arg-type]
        .where(
            Variable.agency_id == decree.agency_id,
            col(Variable.code).in_(formula_variables(indicator.formula)),
            DataValue.year == decree.year,
        )
        .order_by(col(DataValue.quarter), col(Variable.code))
    )
    refuse_if_referred(
        f"Indicator {indicator.code} ({decree.year})",
        {
            "targets": [_target_label(indicator.code, year, q) for year, q in targets],
            "data values": [f"{code} {decree.year} Q{q}" for code, q in data],
            "child indicators": codes_of(
                session, Indicator.code, Indicator.parent_id == indicator_id
            ),
        },
    )
    links = session.exec(
        select(IndicatorSourceUnit).where(IndicatorSourceUnit.indicator_id == indicator_id)
    )
    delete_rows(session, [*links, indicator], f"Indicator {indicator.code}")


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


INDICATOR_ORDER: tuple[Any, ...] = (
    Agency.code,
    col(Decree.year).desc(),
    Objective.position_id,
    Objective.number,
    Indicator.number,
    Indicator.id,
)


def indicator_in_year(session: Session, indicator_id: int, year: int) -> tuple[Indicator, Agency]:
    """An indicator and its agency, checking that its decree is of `year` (422 otherwise)."""
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


def not_of_year(indicator: Indicator, decree_year: int, year: int) -> InvalidInput | None:
    """The refusal of an indicator whose decree is of another year than `year`, if it is."""
    if decree_year == year:
        return None
    return InvalidInput(
        f"Indicator {indicator.code} belongs to the SK of {decree_year}, not {year}",
        field="year",
    )
