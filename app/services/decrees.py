"""Decrees (SK): list, get, create, change, delete, and copy a decree for the next year with
its objectives and indicators."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlmodel import Session, SQLModel, col, select

from app.core.errors import Conflict
from app.models import Agency, Decree, Indicator, IndicatorSourceUnit, Objective, Position, Target
from app.models.decrees import DecreeText, Signatory
from app.models.indicators import IndicatorBase
from app.models.objectives import ObjectiveBase
from app.schemas.common import PageParams
from app.schemas.decrees import DecreeCopy, DecreeCreate, DecreePublic, DecreeUpdate
from app.schemas.organization import AgencyRef
from app.services.common import (
    agency_of,
    apply_changes,
    by_id,
    codes_of,
    delete_rows,
    exists,
    get_or_404,
    id_of,
    paginate,
    refuse_if_referred,
    resolve_agency,
    savepoint,
    target_label,
)
from app.services.queries import no_decree


def decree_views(session: Session, decrees: Sequence[Decree]) -> list[DecreePublic]:
    agencies = by_id(session, Agency, {d.agency_id for d in decrees})
    return [
        DecreePublic.model_validate(
            d, update={"agency": AgencyRef.model_validate(agencies[d.agency_id])}
        )
        for d in decrees
    ]


def decree_of_position(session: Session, position: Position, year: int) -> Decree:
    """The decree of `year` of the position's agency; 404 `year_not_in_decree` when there
    is none."""
    decrees = session.exec(select(Decree).where(Decree.agency_id == position.agency_id)).all()
    decree = next((d for d in decrees if d.year == year), None)
    if decree is None:
        whose = f"the agency of position {position.code}"
        raise no_decree(year, (d.year for d in decrees), whose)
    return decree


def list_decrees(
    session: Session, page: PageParams, *, agency: str | None = None, year: int | None = None
) -> tuple[list[DecreePublic], int]:
    query = select(Decree).join(Agency, Agency.id == Decree.agency_id)  # type: ignore[arg-type]
    if agency:
        query = query.where(Agency.code == agency)
    if year is not None:
        query = query.where(Decree.year == year)
    rows, total = paginate(session, query, page, Agency.code, col(Decree.year).desc())
    return decree_views(session, rows), total


def get_decree(session: Session, decree_id: int) -> DecreePublic:
    return decree_views(session, [get_or_404(session, Decree, decree_id, "Decree")])[0]


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
            {"targets": [target_label(code, y, q) for code, y, q in targets]},
        )
    apply_changes(session, decree, changes, _decree_conflict(agency))
    return get_decree(session, decree_id)


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
