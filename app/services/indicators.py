"""Indicators (Indikator Kinerja Individu): list, get, create, change, delete."""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from typing import Any

from sqlmodel import Session, col, select

from app.core.db import utcnow
from app.core.errors import AppError, Conflict, InvalidInput
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
from app.schemas.common import PageParams
from app.schemas.decrees import DecreeRef
from app.schemas.indicators import IndicatorCreate, IndicatorPublic, IndicatorUpdate
from app.schemas.objectives import IndicatorRef, ObjectiveRef
from app.schemas.organization import AgencyRef, PositionRef, UnitRef
from app.services import seals
from app.services.common import (
    NewRows,
    agency_of,
    agency_units,
    apply_changes,
    by_id,
    closes_loop,
    codes_of,
    delete_rows,
    exists,
    get_or_404,
    id_of,
    new_row,
    paginate,
    pick_units,
    refuse_if_referred,
    savepoint,
    target_label,
    units_by_code,
)
from app.services.formulas import checked_against, formula_variables, validated, variable_codes
from app.services.queries import INDICATOR_ORDER, indicator_query
from app.services.variables import agency_variables


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


class NewIndicators(NewRows[IndicatorCreate, Indicator]):
    """New indicators of one decree, known by code, with their source units (see `NewRows`),
    each cascading to an indicator that exists or was added before it."""

    reference = "parent_id"

    def __init__(self, session: Session, decree: Decree) -> None:
        indicators = session.exec(select(Indicator).where(Indicator.decree_id == decree.id))
        super().__init__(session, {i.code: i for i in indicators})
        self.decree = decree
        self.agency = agency_of(session, decree.agency_id)
        self.variables = variable_codes(session, id_of(self.agency))
        self.units = agency_units(session, self.agency)
        self.sources: dict[int, list[Unit]] = {}  # by id() of the new row
        # No indicator joins a decree whose quarters it would rest on are under review or
        # sealed (the seed's new indicators included): read once for the whole batch.
        self.held: dict[str, list[seals.Held]] = {}
        for held in seals.held_periods(session, agency_ids=[id_of(self.agency)], year=decree.year):
            self.held.setdefault(held.unit, []).append(held)
        self.owners = (
            dict(
                session.exec(
                    select(Variable.code, Unit.code)
                    .join(Unit, col(Unit.id) == col(Variable.owner_unit_id))
                    .where(Variable.agency_id == id_of(self.agency))
                ).all()
            )
            if self.held
            else {}
        )

    def check(self, data: IndicatorCreate) -> tuple[str, Indicator, Indicator | None]:
        decree = self.decree
        if _objective_of(self.session, data).decree_id != decree.id:
            raise ValueError(f"indicator of objective {data.objective_id} added to {decree.id}")
        self.claim(data.code)
        checked = checked_against(data.formula, self.variables, "formula")
        owners = {self.owners[c] for c in checked.variables if c in self.owners}
        seals.refuse_under_seal(
            f"Indicator {data.code}",
            sorted(h for unit in owners for h in self.held.get(unit, [])),
            what=f"cannot join the SK of {decree.year}",
        )
        units = pick_units(self.units, self.agency, data.source_units, "source_units")
        parent: Indicator | None = None
        if data.parent is not None:
            found = self.known.get(data.parent)
            if not isinstance(found, Indicator):
                raise _unknown_parent(decree, data.parent)
            parent = found
        indicator = new_row(Indicator, data, decree_id=id_of(decree))
        self.sources[id(indicator)] = units
        return indicator.code, indicator, parent

    def conflict(self, keys: Sequence[Hashable]) -> Conflict:
        if len(keys) == 1:
            return _indicator_code_conflict(self.decree, str(keys[0]))
        return Conflict(f"Decree {self.decree.year} already has one of these indicators")

    def inserted(self, rows: Sequence[Indicator]) -> None:
        self.session.add_all(
            IndicatorSourceUnit(indicator_id=id_of(row), unit_id=id_of(unit))
            for row in rows
            for unit in self.sources.pop(id(row))
        )


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
    """409 when a change would rewrite capaian under review or verified: the formula (and
    so the variables) or the polarity of an indicator with submitted or verified quarters in
    its decree's year."""
    rewritten = [
        name
        for name in ("formula", "polarity")
        if name in changes and changes[name] != getattr(indicator, name)
    ]
    if not rewritten:
        return
    held = seals.held_quarters(session, decree.agency_id, indicator.formula, decree.year)
    seals.refuse_under_seal(
        f"The {' and '.join(rewritten)} of {indicator.code}",
        held,
        field=rewritten[0],
        otherwise=f"start the next SK with POST /api/v1/decrees/{decree.id}/copy",
    )


def _refuse_parent_cycle(session: Session, indicator: Indicator, parent_id: int) -> None:
    scope = Indicator.decree_id == indicator.decree_id
    if closes_loop(session, Indicator, Indicator.parent_id, scope, parent_id, indicator):
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
    held = seals.held_quarters(session, decree.agency_id, indicator.formula, decree.year)
    seals.refuse_under_seal(f"Indicator {indicator.code}", held, what="cannot be deleted")
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
            "targets": [target_label(indicator.code, year, q) for year, q in targets],
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
