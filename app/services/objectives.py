"""Objectives (Sasaran Kinerja) of a position in a decree: list, get, create, change, delete."""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from typing import cast

from sqlmodel import Session, col, select

from app.core.errors import Conflict, InvalidInput
from app.models import Agency, Decree, Indicator, Objective, Position
from app.schemas.common import PageParams
from app.schemas.decrees import DecreeRef
from app.schemas.objectives import (
    IndicatorRef,
    ObjectiveCreate,
    ObjectivePublic,
    ObjectiveUpdate,
)
from app.schemas.organization import PositionRef
from app.services.common import (
    NewRows,
    agency_of,
    agency_positions,
    apply_changes,
    by_id,
    codes_of,
    delete_rows,
    exists,
    get_or_404,
    id_of,
    new_row,
    paginate,
    pick_position,
    position_by_code,
    refuse_if_referred,
)


def objective_views(session: Session, objectives: Sequence[Objective]) -> list[ObjectivePublic]:
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
    return objective_views(session, rows), total


def get_objective(session: Session, objective_id: int) -> ObjectivePublic:
    return objective_views(session, [get_or_404(session, Objective, objective_id, "Objective")])[0]


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
    return objective_views(session, new.write())[0]


class NewObjectives(NewRows[ObjectiveCreate, Objective]):
    """New objectives of one decree (see `NewRows`), known by position and number."""

    def __init__(self, session: Session, decree: Decree) -> None:
        taken = session.exec(
            select(Objective.position_id, Objective.number).where(Objective.decree_id == decree.id)
        )
        super().__init__(session, dict.fromkeys(taken))
        self.decree = decree
        self.agency = agency_of(session, decree.agency_id)
        self.positions = agency_positions(session, decree.agency_id)
        self.positions_by_id = {id_of(p): p for p in self.positions.values()}

    def check(self, data: ObjectiveCreate) -> tuple[tuple[int, int], Objective, None]:
        if data.decree_id != self.decree.id:
            raise ValueError(f"objective of decree {data.decree_id} added to {self.decree.id}")
        position = pick_position(
            self.positions.get(data.position), self.agency, data.position, "position"
        )
        key = (id_of(position), data.number)
        self.claim(key)
        return key, new_row(Objective, data, position_id=key[0]), None

    def conflict(self, keys: Sequence[Hashable]) -> Conflict:
        if len(keys) == 1:
            position_id, number = cast(tuple[int, int], keys[0])
            return _objective_conflict(self.positions_by_id[position_id], number)
        return Conflict(f"Decree {self.decree.year} already has one of these objectives")


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
