"""Agencies, units and positions: list, get, create, change, delete."""

from __future__ import annotations

from collections.abc import Sequence

from sqlmodel import Session, col, select

from app.core.errors import Conflict, InvalidInput
from app.models import (
    Agency,
    ApiKey,
    ApiKeyUnit,
    Decree,
    Indicator,
    IndicatorSourceUnit,
    Objective,
    Position,
    Unit,
    Variable,
)
from app.schemas.common import PageParams
from app.schemas.organization import (
    AgencyCreate,
    AgencyPublic,
    AgencyRef,
    AgencyUpdate,
    PositionCreate,
    PositionPublic,
    PositionRef,
    PositionUpdate,
    UnitCreate,
    UnitPublic,
    UnitRef,
    UnitUpdate,
)
from app.services.common import (
    NewOfAgency,
    agency_of,
    agency_positions,
    agency_units,
    apply_changes,
    by_id,
    closes_loop,
    code_conflict,
    codes_of,
    delete_rows,
    exists,
    get_or_404,
    id_of,
    new_row,
    paginate,
    pick_position,
    pick_units,
    position_by_code,
    refuse_if_referred,
    refuse_taken_code,
    resolve_agency,
    savepoint,
    unit_id,
)

# Agencies ------------------------------------------------------------------------------------


def list_agencies(session: Session, page: PageParams) -> tuple[list[AgencyPublic], int]:
    rows, total = paginate(session, select(Agency), page, Agency.code)
    return [AgencyPublic.model_validate(a) for a in rows], total


def get_agency(session: Session, agency_id: int) -> AgencyPublic:
    return AgencyPublic.model_validate(get_or_404(session, Agency, agency_id, "Agency"))


def _agency_code_conflict(code: str) -> Conflict:
    return Conflict(f"An agency with code '{code}' already exists", field="code")


def create_agency(session: Session, data: AgencyCreate) -> AgencyPublic:
    if exists(session, select(Agency.id).where(Agency.code == data.code)):
        raise _agency_code_conflict(data.code)
    agency = Agency.model_validate(data)
    with savepoint(session, _agency_code_conflict(data.code)):
        session.add(agency)
    return get_agency(session, id_of(agency))


def update_agency(session: Session, agency_id: int, data: AgencyUpdate) -> AgencyPublic:
    agency = get_or_404(session, Agency, agency_id, "Agency")
    changes = data.model_dump(exclude_unset=True)
    code = changes.get("code", agency.code)
    if exists(session, select(Agency.id).where(Agency.code == code, Agency.id != agency_id)):
        raise _agency_code_conflict(code)
    apply_changes(session, agency, changes, _agency_code_conflict(code))
    return get_agency(session, agency_id)


def delete_agency(session: Session, agency_id: int) -> None:
    agency = get_or_404(session, Agency, agency_id, "Agency")
    decrees = session.exec(
        select(Decree.year).where(Decree.agency_id == agency_id).order_by(col(Decree.year))
    )
    refuse_if_referred(
        f"Agency {agency.code}",
        {
            "decrees": [str(year) for year in decrees],
            "units": codes_of(session, Unit.code, Unit.agency_id == agency_id),
            "positions": codes_of(session, Position.code, Position.agency_id == agency_id),
            "variables": codes_of(session, Variable.code, Variable.agency_id == agency_id),
        },
    )
    delete_rows(session, [agency], f"Agency {agency.code}")


# Units ---------------------------------------------------------------------------------------


def _unit_views(session: Session, units: Sequence[Unit]) -> list[UnitPublic]:
    agencies = by_id(session, Agency, {u.agency_id for u in units})
    return [
        UnitPublic.model_validate(
            u, update={"agency": AgencyRef.model_validate(agencies[u.agency_id])}
        )
        for u in units
    ]


def list_units(
    session: Session, page: PageParams, *, agency: str | None = None
) -> tuple[list[UnitPublic], int]:
    query = select(Unit).join(Agency, Agency.id == Unit.agency_id)  # type: ignore[arg-type]
    if agency:
        query = query.where(Agency.code == agency)
    rows, total = paginate(session, query, page, Agency.code, Unit.id)
    return _unit_views(session, rows), total


def get_unit(session: Session, unit_id: int) -> UnitPublic:
    return _unit_views(session, [get_or_404(session, Unit, unit_id, "Unit")])[0]


def create_unit(session: Session, data: UnitCreate) -> UnitPublic:
    new = NewUnits(session, resolve_agency(session, data.agency))
    new.add(data)
    return _unit_views(session, new.write())[0]


class NewUnits(NewOfAgency[UnitCreate, Unit]):
    """New units of one agency (see `NewRows`)."""

    model = Unit

    def check(self, data: UnitCreate) -> tuple[str, Unit, None]:
        self.claim(data.code)
        return data.code, new_row(Unit, data, agency_id=id_of(self.agency)), None


def update_unit(session: Session, unit_id: int, data: UnitUpdate) -> UnitPublic:
    unit = get_or_404(session, Unit, unit_id, "Unit")
    agency = agency_of(session, unit.agency_id)
    changes = data.model_dump(exclude_unset=True)
    code = changes.get("code", unit.code)
    refuse_taken_code(session, Unit, agency, code, unit_id)
    apply_changes(session, unit, changes, code_conflict(Unit, agency, code))
    return get_unit(session, unit_id)


def delete_unit(session: Session, unit_id: int) -> None:
    unit = get_or_404(session, Unit, unit_id, "Unit")
    sourced = session.exec(
        select(Indicator.code, Decree.year)
        .join(IndicatorSourceUnit, IndicatorSourceUnit.indicator_id == Indicator.id)  # type: ignore[arg-type]
        .join(Decree, Decree.id == Indicator.decree_id)  # type: ignore[arg-type]
        .where(IndicatorSourceUnit.unit_id == unit_id)
        .order_by(col(Decree.year), col(Indicator.id))
    )
    refuse_if_referred(
        f"Unit {unit.code}",
        {
            "variables": codes_of(session, Variable.code, Variable.owner_unit_id == unit_id),
            "positions": codes_of(session, Position.code, Position.unit_id == unit_id),
            "indicators (Sumber Data)": [f"{code} ({year})" for code, year in sourced],
            "API keys": list(
                session.exec(
                    select(ApiKey.name)
                    .join(ApiKeyUnit, ApiKeyUnit.api_key_id == ApiKey.id)  # type: ignore[arg-type]
                    .where(ApiKeyUnit.unit_id == unit_id)
                    .order_by(col(ApiKey.name))
                )
            ),
        },
    )
    delete_rows(session, [unit], f"Unit {unit.code}")


# Positions -----------------------------------------------------------------------------------


def position_views(session: Session, positions: Sequence[Position]) -> list[PositionPublic]:
    """Full views of `positions`, with a fixed number of queries whatever their count."""
    agencies = by_id(session, Agency, {p.agency_id for p in positions})
    units = by_id(session, Unit, {p.unit_id for p in positions if p.unit_id})
    superiors = by_id(session, Position, {p.superior_id for p in positions if p.superior_id})
    return [
        PositionPublic.model_validate(
            p,
            update={
                "agency": AgencyRef.model_validate(agencies[p.agency_id]),
                "unit": UnitRef.model_validate(units[p.unit_id]) if p.unit_id else None,
                "superior": PositionRef.model_validate(superiors[p.superior_id])
                if p.superior_id
                else None,
            },
        )
        for p in positions
    ]


def list_positions(
    session: Session, page: PageParams, *, agency: str | None = None, unit: str | None = None
) -> tuple[list[PositionPublic], int]:
    query = select(Position).join(Agency, Agency.id == Position.agency_id)  # type: ignore[arg-type]
    if agency:
        query = query.where(Agency.code == agency)
    if unit:
        query = query.join(Unit, Unit.id == Position.unit_id).where(  # type: ignore[arg-type]
            Unit.code == unit
        )
    rows, total = paginate(session, query, page, Agency.code, Position.id)
    return position_views(session, rows), total


def get_position(session: Session, position_id: int) -> PositionPublic:
    return position_views(session, [get_or_404(session, Position, position_id, "Position")])[0]


def create_position(session: Session, data: PositionCreate) -> PositionPublic:
    new = NewPositions(session, resolve_agency(session, data.agency))
    new.add(data)
    return position_views(session, new.write())[0]


class NewPositions(NewOfAgency[PositionCreate, Position]):
    """New positions of one agency (see `NewRows`), each reporting to a position that exists
    or was added before it."""

    model = Position
    reference = "superior_id"

    def __init__(self, session: Session, agency: Agency) -> None:
        super().__init__(session, agency, agency_positions(session, id_of(agency)))
        self.units = agency_units(session, agency)

    def check(self, data: PositionCreate) -> tuple[str, Position, Position | None]:
        agency = self.agency
        self.claim(data.code)
        unit = pick_units(self.units, agency, [data.unit], "unit")[0] if data.unit else None
        superior = None
        if data.superior:
            known = self.known.get(data.superior)
            superior = pick_position(
                known if isinstance(known, Position) else None, agency, data.superior, "superior"
            )
        position = new_row(
            Position, data, agency_id=id_of(agency), unit_id=id_of(unit) if unit else None
        )
        return position.code, position, superior


def update_position(session: Session, position_id: int, data: PositionUpdate) -> PositionPublic:
    position = get_or_404(session, Position, position_id, "Position")
    agency = agency_of(session, position.agency_id)
    changes = data.model_dump(exclude_unset=True)
    code = changes.get("code", position.code)
    refuse_taken_code(session, Position, agency, code, position_id)
    if "unit" in changes:
        unit_code = changes.pop("unit")
        changes["unit_id"] = unit_id(session, agency, unit_code, "unit") if unit_code else None
    if "superior" in changes:
        superior_code = changes.pop("superior")
        superior_id = None
        if superior_code is not None:
            superior_id = id_of(position_by_code(session, agency, superior_code, "superior"))
            _refuse_superior_cycle(session, position, superior_id)
        changes["superior_id"] = superior_id
    apply_changes(session, position, changes, code_conflict(Position, agency, code))
    return get_position(session, position_id)


def _refuse_superior_cycle(session: Session, position: Position, superior_id: int) -> None:
    scope = Position.agency_id == position.agency_id
    if closes_loop(session, Position, Position.superior_id, scope, superior_id, position):
        raise InvalidInput(
            f"Position {position.code} cannot report to itself or to one of its subordinates",
            field="superior",
        )


def delete_position(session: Session, position_id: int) -> None:
    position = get_or_404(session, Position, position_id, "Position")
    objectives = session.exec(
        select(Objective.number, Decree.year)
        .join(Decree, Decree.id == Objective.decree_id)  # type: ignore[arg-type]
        .where(Objective.position_id == position_id)
        .order_by(col(Decree.year), col(Objective.number))
    )
    refuse_if_referred(
        f"Position {position.code}",
        {
            "objectives": [f"{position.code}.{n} ({year})" for n, year in objectives],
            "subordinate positions": codes_of(
                session, Position.code, Position.superior_id == position_id
            ),
        },
    )
    delete_rows(session, [position], f"Position {position.code}")
