"""Writing the definitions (agencies to variables) and checking formulas.

Every rule is checked before anything is written, so a refused request leaves the session
as it found it. Services flush, never commit: the route commits after the service returns.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, SQLModel, col, func, select

from app.core.db import utcnow
from app.core.errors import AppError, Conflict, InUse, InvalidFormula, InvalidInput
from app.formula import CheckedFormula, FormulaError, describe, evaluate, parse, to_latex, validate
from app.models import (
    Agency,
    ApiKey,
    ApiKeyUnit,
    DataValue,
    Decree,
    Indicator,
    IndicatorSourceUnit,
    Objective,
    Position,
    Target,
    Unit,
    ValueType,
    Variable,
)
from app.schemas.authoring import (
    AgencyCreate,
    AgencyUpdate,
    DecreeCopy,
    DecreeCreate,
    DecreeUpdate,
    FormulaCheck,
    FormulaCheckResult,
    FormulaTestResult,
    IndicatorCreate,
    IndicatorUpdate,
    ObjectiveCreate,
    ObjectiveUpdate,
    PositionCreate,
    PositionUpdate,
    UnitCreate,
    UnitUpdate,
    VariableCreate,
    VariableUpdate,
)
from app.schemas.definitions import (
    AgencyPublic,
    DecreePublic,
    IndicatorPublic,
    ObjectivePublic,
    PositionPublic,
    UnitPublic,
    VariablePublic,
)
from app.services import definitions
from app.services.definitions import get_or_404, resolve_agency

_NAMES_SHOWN = 5
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")

# Plumbing ------------------------------------------------------------------------------------


@contextmanager
def _savepoint(session: Session, error: AppError) -> Iterator[None]:
    """Write in a savepoint; a constraint that the checks did not foresee (a concurrent
    request) undoes the savepoint and becomes `error` instead of a 500."""
    try:
        with session.begin_nested():
            yield
            session.flush()
    except IntegrityError as exc:
        raise error from exc


def _apply(session: Session, row: SQLModel, changes: Mapping[str, Any], error: AppError) -> None:
    """Set `changes` on `row` (and its updated_at) and flush them."""
    if not changes:
        return
    with _savepoint(session, error):
        for name, value in changes.items():
            setattr(row, name, value)
        setattr(row, "updated_at", utcnow())  # noqa: B010 - every definition table has one
        session.add(row)


def _delete(session: Session, rows: Iterable[SQLModel], label: str) -> None:
    """Delete `rows` in the order given (referring rows first)."""
    with _savepoint(session, InUse(f"{label} is still referred to by other records")):
        for row in rows:
            # Without ORM relationships the unit of work does not order deletes by foreign key.
            session.delete(row)
            session.flush()


def _taken(session: Session, query: Any) -> bool:
    return session.exec(query.limit(1)).first() is not None


# Units, positions and variables: a code unique in its agency.
AgencyScoped = type[Unit] | type[Position] | type[Variable]


def _code_conflict(model: AgencyScoped, agency: Agency, code: str) -> Conflict:
    kind = model.__name__.lower()
    return Conflict(f"Agency {agency.code} already has a {kind} '{code}'", field="code")


def _refuse_taken_code(
    session: Session, model: AgencyScoped, agency: Agency, code: str, row_id: int | None = None
) -> None:
    """409 if another row of `model` in the agency has `code`."""
    query = select(model.id).where(model.agency_id == agency.id, model.code == code)
    if row_id is not None:
        query = query.where(model.id != row_id)
    if _taken(session, query):
        raise _code_conflict(model, agency, code)


def _codes(session: Session, column: Any, *where: Any) -> list[str]:
    """The values of `column` (a code or name) of the rows matching `where`, sorted."""
    return list(session.exec(select(column).where(*where).order_by(column)))


def _names(names: Sequence[str]) -> str:
    shown = ", ".join(names[:_NAMES_SHOWN])
    more = len(names) - _NAMES_SHOWN
    return f"{shown} and {more} more" if more > 0 else shown


def _refuse_if_referred(label: str, references: Mapping[str, Sequence[str]]) -> None:
    """Raise InUse naming what still refers to `label`, if anything does."""
    used = {kind: list(names) for kind, names in references.items() if names}
    if not used:
        return
    parts = "; ".join(f"{kind} ({len(names)}): {_names(names)}" for kind, names in used.items())
    raise InUse(
        f"{label} is still referred to by {parts}. Delete or change those first.",
        references={kind: len(names) for kind, names in used.items()},
    )


def _id(row: SQLModel) -> int:
    ident = getattr(row, "id", None)
    assert ident is not None, "a flushed row has an id"
    return int(ident)


# References by code --------------------------------------------------------------------------


def _units(session: Session, agency: Agency, codes: Sequence[str], field: str) -> list[Unit]:
    """The units of `agency` with these codes, in the order given, each once."""
    wanted = list(dict.fromkeys(codes))
    if not wanted:
        return []
    found = {
        u.code: u
        for u in session.exec(
            select(Unit).where(Unit.agency_id == agency.id, col(Unit.code).in_(wanted))
        )
    }
    missing = [code for code in wanted if code not in found]
    if missing:
        raise InvalidInput(
            f"Unknown unit {_names(missing)} in agency {agency.code}", field=field, units=missing
        )
    return [found[code] for code in wanted]


def _unit_id(session: Session, agency: Agency, code: str, field: str) -> int:
    return _id(_units(session, agency, [code], field)[0])


def _position(session: Session, agency: Agency, code: str, field: str) -> Position:
    position = session.exec(
        select(Position).where(Position.agency_id == agency.id, Position.code == code)
    ).first()
    if position is None:
        raise InvalidInput(f"Unknown position '{code}' in agency {agency.code}", field=field)
    return position


def _agency_of(session: Session, agency_id: int) -> Agency:
    agency = session.get(Agency, agency_id)
    assert agency is not None, "rows refer to existing agencies"
    return agency


# Formulas ------------------------------------------------------------------------------------


def invalid_formula(exc: FormulaError, field: str) -> InvalidFormula:
    """The problem for a refused formula: the engine's code, and where and what is at fault."""
    where = f" (at character {exc.offset + 1} of the formula)" if exc.offset is not None else ""
    return InvalidFormula(
        f"{exc.message}{where}",
        field=field,
        formula_error=exc.code,
        offset=exc.offset,
        name=exc.name,
    )


def _variable_codes(session: Session, agency_id: int) -> set[str]:
    return set(session.exec(select(Variable.code).where(Variable.agency_id == agency_id)))


def _validated(session: Session, agency_id: int, expression: str, field: str) -> CheckedFormula:
    try:
        return validate(expression, _variable_codes(session, agency_id))
    except FormulaError as exc:
        raise invalid_formula(exc, field) from None


def _formula_variables(formula: str) -> set[str]:
    try:
        return set(parse(formula).variables)
    except FormulaError:
        # A stored formula that no longer parses still holds on to every name it mentions.
        return set(_NAME.findall(formula))


def _indicators_using(session: Session, agency_id: int, code: str) -> list[str]:
    """`CODE (year)` of every indicator of the agency whose formula uses variable `code`."""
    rows = session.exec(
        select(Indicator.code, Indicator.formula, Decree.year)
        .join(Decree, Decree.id == Indicator.decree_id)  # type: ignore[arg-type]
        .where(Decree.agency_id == agency_id, col(Indicator.formula).contains(code))
        .order_by(col(Decree.year), col(Indicator.id))
    )
    return [f"{ind} ({year})" for ind, formula, year in rows if code in _formula_variables(formula)]


def check_formula(session: Session, request: FormulaCheck) -> FormulaCheckResult:
    """Check a formula against an agency's variables and, given values, test-evaluate it."""
    agency = resolve_agency(session, request.agency)
    variables = {
        v.code: v for v in session.exec(select(Variable).where(Variable.agency_id == agency.id))
    }
    try:
        checked = validate(request.expression, variables)
    except FormulaError as exc:
        raise invalid_formula(exc, "expression") from None
    result = None
    if request.values is not None:
        unknown = [code for code in request.values if code not in variables]
        if unknown:
            raise InvalidInput(
                f"Values sent for {_names(unknown)}, which are not variables of {agency.code}",
                field="values",
            )
        result = _test_evaluation(checked, request.values)
    labels = {code: v.label for code, v in variables.items()}
    return FormulaCheckResult(
        valid=True,
        variables=list(checked.variables),
        description=describe(checked, labels),
        latex=to_latex(checked, labels),
        result=result,
    )


def _test_evaluation(checked: CheckedFormula, values: Mapping[str, float]) -> FormulaTestResult:
    missing = [code for code in checked.variables if code not in values]
    if missing:
        return FormulaTestResult(
            value=None,
            status="missing_values",
            reason="missing_value",
            detail="No value for " + ", ".join(f"'{code}'" for code in missing),
            missing=missing,
        )
    evaluation = evaluate(checked, values)
    return FormulaTestResult(
        value=evaluation.value,
        status=evaluation.status,
        reason=evaluation.reason,
        detail=evaluation.detail,
    )


# Agencies ------------------------------------------------------------------------------------


def _agency_code_conflict(code: str) -> Conflict:
    return Conflict(f"An agency with code '{code}' already exists", field="code")


def create_agency(session: Session, data: AgencyCreate) -> AgencyPublic:
    if _taken(session, select(Agency.id).where(Agency.code == data.code)):
        raise _agency_code_conflict(data.code)
    agency = Agency(**data.model_dump())
    with _savepoint(session, _agency_code_conflict(data.code)):
        session.add(agency)
    return definitions.get_agency(session, _id(agency))


def update_agency(session: Session, agency_id: int, data: AgencyUpdate) -> AgencyPublic:
    agency = get_or_404(session, Agency, agency_id, "Agency")
    changes = data.model_dump(exclude_unset=True)
    code = changes.get("code", agency.code)
    if _taken(session, select(Agency.id).where(Agency.code == code, Agency.id != agency_id)):
        raise _agency_code_conflict(code)
    _apply(session, agency, changes, _agency_code_conflict(code))
    return definitions.get_agency(session, agency_id)


def delete_agency(session: Session, agency_id: int) -> None:
    agency = get_or_404(session, Agency, agency_id, "Agency")
    decrees = session.exec(
        select(Decree.year).where(Decree.agency_id == agency_id).order_by(col(Decree.year))
    )
    _refuse_if_referred(
        f"Agency {agency.code}",
        {
            "decrees": [str(year) for year in decrees],
            "units": _codes(session, Unit.code, Unit.agency_id == agency_id),
            "positions": _codes(session, Position.code, Position.agency_id == agency_id),
            "variables": _codes(session, Variable.code, Variable.agency_id == agency_id),
        },
    )
    _delete(session, [agency], f"Agency {agency.code}")


# Units ---------------------------------------------------------------------------------------


def create_unit(session: Session, data: UnitCreate) -> UnitPublic:
    agency = resolve_agency(session, data.agency)
    _refuse_taken_code(session, Unit, agency, data.code)
    unit = Unit(agency_id=_id(agency), code=data.code, name=data.name)
    with _savepoint(session, _code_conflict(Unit, agency, data.code)):
        session.add(unit)
    return definitions.get_unit(session, _id(unit))


def update_unit(session: Session, unit_id: int, data: UnitUpdate) -> UnitPublic:
    unit = get_or_404(session, Unit, unit_id, "Unit")
    agency = _agency_of(session, unit.agency_id)
    changes = data.model_dump(exclude_unset=True)
    code = changes.get("code", unit.code)
    _refuse_taken_code(session, Unit, agency, code, unit_id)
    _apply(session, unit, changes, _code_conflict(Unit, agency, code))
    return definitions.get_unit(session, unit_id)


def delete_unit(session: Session, unit_id: int) -> None:
    unit = get_or_404(session, Unit, unit_id, "Unit")
    sourced = session.exec(
        select(Indicator.code, Decree.year)
        .join(IndicatorSourceUnit, IndicatorSourceUnit.indicator_id == Indicator.id)  # type: ignore[arg-type]
        .join(Decree, Decree.id == Indicator.decree_id)  # type: ignore[arg-type]
        .where(IndicatorSourceUnit.unit_id == unit_id)
        .order_by(col(Decree.year), col(Indicator.id))
    )
    _refuse_if_referred(
        f"Unit {unit.code}",
        {
            "variables": _codes(session, Variable.code, Variable.owner_unit_id == unit_id),
            "positions": _codes(session, Position.code, Position.unit_id == unit_id),
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
    _delete(session, [unit], f"Unit {unit.code}")


# Positions -----------------------------------------------------------------------------------


def create_position(session: Session, data: PositionCreate) -> PositionPublic:
    agency = resolve_agency(session, data.agency)
    _refuse_taken_code(session, Position, agency, data.code)
    position = Position(
        agency_id=_id(agency),
        unit_id=_unit_id(session, agency, data.unit, "unit") if data.unit else None,
        superior_id=_id(_position(session, agency, data.superior, "superior"))
        if data.superior
        else None,
        **data.model_dump(exclude={"agency", "unit", "superior"}),
    )
    with _savepoint(session, _code_conflict(Position, agency, data.code)):
        session.add(position)
    return definitions.get_position(session, _id(position))


def update_position(session: Session, position_id: int, data: PositionUpdate) -> PositionPublic:
    position = get_or_404(session, Position, position_id, "Position")
    agency = _agency_of(session, position.agency_id)
    changes = data.model_dump(exclude_unset=True)
    code = changes.get("code", position.code)
    _refuse_taken_code(session, Position, agency, code, position_id)
    if "unit" in changes:
        unit_code = changes.pop("unit")
        changes["unit_id"] = _unit_id(session, agency, unit_code, "unit") if unit_code else None
    if "superior" in changes:
        superior_code = changes.pop("superior")
        superior_id = None
        if superior_code is not None:
            superior_id = _id(_position(session, agency, superior_code, "superior"))
            _refuse_superior_cycle(session, position, superior_id)
        changes["superior_id"] = superior_id
    _apply(session, position, changes, _code_conflict(Position, agency, code))
    return definitions.get_position(session, position_id)


def _reaches(links: Mapping[int | None, int | None], start: int, target: int) -> bool:
    """Whether following `links` (child -> parent) from `start` arrives at `target`."""
    seen: set[int] = set()
    current: int | None = start
    while current is not None and current not in seen:
        if current == target:
            return True
        seen.add(current)
        current = links.get(current)
    return False


def _refuse_superior_cycle(session: Session, position: Position, superior_id: int) -> None:
    superiors = dict(
        session.exec(
            select(Position.id, Position.superior_id).where(
                Position.agency_id == position.agency_id
            )
        ).all()
    )
    if _reaches(superiors, superior_id, _id(position)):
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
    _refuse_if_referred(
        f"Position {position.code}",
        {
            "objectives": [f"{position.code}.{n} ({year})" for n, year in objectives],
            "subordinate positions": _codes(
                session, Position.code, Position.superior_id == position_id
            ),
        },
    )
    _delete(session, [position], f"Position {position.code}")


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
    if _taken(session, others.where(Decree.number == number)):
        raise Conflict(
            f"Agency {agency.code} already has a decree numbered '{number}'", field="number"
        )


def _decree_conflict(agency: Agency) -> Conflict:
    return Conflict(f"Agency {agency.code} already has a decree of that year or number")


def create_decree(session: Session, data: DecreeCreate) -> DecreePublic:
    agency = resolve_agency(session, data.agency)
    _refuse_decree_conflicts(session, agency, data.year, data.number)
    decree = Decree(agency_id=_id(agency), **data.model_dump(exclude={"agency"}))
    with _savepoint(session, _decree_conflict(agency)):
        session.add(decree)
    return definitions.get_decree(session, _id(decree))


def update_decree(session: Session, decree_id: int, data: DecreeUpdate) -> DecreePublic:
    decree = get_or_404(session, Decree, decree_id, "Decree")
    agency = _agency_of(session, decree.agency_id)
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
        _refuse_if_referred(
            f"Decree {decree.number} cannot move to {year}: it",
            {"targets": [_target_label(code, y, q) for code, y, q in targets]},
        )
    _apply(session, decree, changes, _decree_conflict(agency))
    return definitions.get_decree(session, decree_id)


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
    _refuse_if_referred(
        f"Decree {decree.number} ({decree.year})",
        {
            "objectives": [f"{code}.{number}" for code, number in objectives],
            "indicators": _codes(session, Indicator.code, Indicator.decree_id == decree_id),
        },
    )
    _delete(session, [decree], f"Decree {decree.number}")


def copy_decree(session: Session, decree_id: int, data: DecreeCopy) -> DecreePublic:
    """A new decree of the same agency with copies of this one's objectives and indicators
    (codes, formulas, texts, source units, cascade links), but none of its targets or data."""
    source = get_or_404(session, Decree, decree_id, "Decree")
    agency = _agency_of(session, source.agency_id)
    _refuse_decree_conflicts(session, agency, data.year, data.number)
    given = data.model_dump(exclude_unset=True)
    header = {
        name: given.get(name, getattr(source, name))
        for name in ("signatory", "signatory_title", "signatory_rank", "signatory_nip")
    }
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
                col(IndicatorSourceUnit.indicator_id).in_([_id(i) for i in indicators])
            )
        )
    )
    with _savepoint(session, _decree_conflict(agency)):
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
            _id(o): Objective(
                decree_id=_id(decree),
                position_id=o.position_id,
                number=o.number,
                statement=o.statement,
            )
            for o in objectives
        }
        session.add_all(new_objectives.values())
        session.flush()
        new_indicators = {
            _id(i): Indicator(
                decree_id=_id(decree),
                objective_id=_id(new_objectives[i.objective_id]),
                **i.model_dump(
                    exclude={
                        "id",
                        "decree_id",
                        "objective_id",
                        "parent_id",
                        "created_at",
                        "updated_at",
                    }
                ),
            )
            for i in indicators
        }
        session.add_all(new_indicators.values())
        session.flush()
        for old in indicators:
            if old.parent_id in new_indicators:
                new_indicators[_id(old)].parent_id = _id(new_indicators[old.parent_id])
        session.add_all(
            IndicatorSourceUnit(
                indicator_id=_id(new_indicators[link.indicator_id]), unit_id=link.unit_id
            )
            for link in links
        )
    return definitions.get_decree(session, _id(decree))


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
    if _taken(session, same):
        raise _objective_conflict(position, number)


def create_objective(session: Session, data: ObjectiveCreate) -> ObjectivePublic:
    decree = session.get(Decree, data.decree_id)
    if decree is None:
        raise InvalidInput(f"Decree {data.decree_id} does not exist", field="decree_id")
    agency = _agency_of(session, decree.agency_id)
    position = _position(session, agency, data.position, "position")
    _refuse_objective_conflict(session, _id(decree), position, data.number)
    objective = Objective(
        decree_id=_id(decree),
        position_id=_id(position),
        number=data.number,
        statement=data.statement,
    )
    with _savepoint(session, _objective_conflict(position, data.number)):
        session.add(objective)
    return definitions.get_objective(session, _id(objective))


def update_objective(session: Session, objective_id: int, data: ObjectiveUpdate) -> ObjectivePublic:
    objective = get_or_404(session, Objective, objective_id, "Objective")
    decree = get_or_404(session, Decree, objective.decree_id, "Decree")
    changes = data.model_dump(exclude_unset=True)
    if "position" in changes:
        agency = _agency_of(session, decree.agency_id)
        position = _position(session, agency, changes.pop("position"), "position")
        changes["position_id"] = _id(position)
    else:
        position = get_or_404(session, Position, objective.position_id, "Position")
    number = changes.get("number", objective.number)
    _refuse_objective_conflict(session, _id(decree), position, number, objective_id)
    _apply(session, objective, changes, _objective_conflict(position, number))
    return definitions.get_objective(session, objective_id)


def delete_objective(session: Session, objective_id: int) -> None:
    objective = get_or_404(session, Objective, objective_id, "Objective")
    position = get_or_404(session, Position, objective.position_id, "Position")
    decree = get_or_404(session, Decree, objective.decree_id, "Decree")
    label = f"Objective {position.code}.{objective.number} ({decree.year})"
    indicators = _codes(session, Indicator.code, Indicator.objective_id == objective_id)
    _refuse_if_referred(label, {"indicators": indicators})
    _delete(session, [objective], label)


# Indicators ----------------------------------------------------------------------------------


def _indicator_code_conflict(decree: Decree, code: str) -> Conflict:
    return Conflict(f"Decree {decree.year} already has an indicator '{code}'", field="code")


def _refuse_indicator_code_conflict(
    session: Session, decree: Decree, code: str, indicator_id: int = 0
) -> None:
    same = select(Indicator.id).where(
        Indicator.decree_id == decree.id, Indicator.code == code, Indicator.id != indicator_id
    )
    if _taken(session, same):
        raise _indicator_code_conflict(decree, code)


def _parent_id(session: Session, decree: Decree, code: str | None) -> int | None:
    if code is None:
        return None
    parent = session.exec(
        select(Indicator.id).where(Indicator.decree_id == decree.id, Indicator.code == code)
    ).first()
    if parent is None:
        raise InvalidInput(
            f"No indicator '{code}' in decree {decree.year}: a parent must be in the same decree",
            field="parent",
        )
    return parent


def create_indicator(session: Session, data: IndicatorCreate) -> IndicatorPublic:
    objective = session.get(Objective, data.objective_id)
    if objective is None:
        raise InvalidInput(f"Objective {data.objective_id} does not exist", field="objective_id")
    decree = get_or_404(session, Decree, objective.decree_id, "Decree")
    agency = _agency_of(session, decree.agency_id)
    _refuse_indicator_code_conflict(session, decree, data.code)
    _validated(session, _id(agency), data.formula, "formula")
    units = _units(session, agency, data.source_units, "source_units")
    indicator = Indicator(
        decree_id=_id(decree),
        parent_id=_parent_id(session, decree, data.parent),
        **data.model_dump(exclude={"source_units", "parent"}),
    )
    with _savepoint(session, _indicator_code_conflict(decree, data.code)):
        session.add(indicator)
        session.flush()
        session.add_all(
            IndicatorSourceUnit(indicator_id=_id(indicator), unit_id=_id(u)) for u in units
        )
    return definitions.get_indicator(session, _id(indicator))


def update_indicator(session: Session, indicator_id: int, data: IndicatorUpdate) -> IndicatorPublic:
    indicator = get_or_404(session, Indicator, indicator_id, "Indicator")
    decree = get_or_404(session, Decree, indicator.decree_id, "Decree")
    agency = _agency_of(session, decree.agency_id)
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
        _validated(session, _id(agency), changes["formula"], "formula")
    units = None
    if "source_units" in changes:
        units = _units(session, agency, changes.pop("source_units"), "source_units")
    if "parent" in changes:
        parent_id = _parent_id(session, decree, changes.pop("parent"))
        if parent_id is not None:
            _refuse_parent_cycle(session, indicator, parent_id)
        changes["parent_id"] = parent_id
    error = _indicator_code_conflict(decree, code)
    _apply(session, indicator, changes, error)
    if units is not None:
        _replace_source_units(session, indicator, [_id(u) for u in units], error)
    return definitions.get_indicator(session, indicator_id)


def _refuse_parent_cycle(session: Session, indicator: Indicator, parent_id: int) -> None:
    parents = dict(
        session.exec(
            select(Indicator.id, Indicator.parent_id).where(
                Indicator.decree_id == indicator.decree_id
            )
        ).all()
    )
    if _reaches(parents, parent_id, _id(indicator)):
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
    with _savepoint(session, error):
        for unit_id, link in current.items():
            if unit_id not in unit_ids:
                session.delete(link)
        session.add_all(
            IndicatorSourceUnit(indicator_id=_id(indicator), unit_id=unit_id)
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
            col(Variable.code).in_(_formula_variables(indicator.formula)),
            DataValue.year == decree.year,
        )
        .order_by(col(DataValue.quarter), col(Variable.code))
    )
    _refuse_if_referred(
        f"Indicator {indicator.code} ({decree.year})",
        {
            "targets": [_target_label(indicator.code, year, q) for year, q in targets],
            "data values": [f"{code} {decree.year} Q{q}" for code, q in data],
            "child indicators": _codes(
                session, Indicator.code, Indicator.parent_id == indicator_id
            ),
        },
    )
    links = session.exec(
        select(IndicatorSourceUnit).where(IndicatorSourceUnit.indicator_id == indicator_id)
    )
    _delete(session, [*links, indicator], f"Indicator {indicator.code}")


# Variables -----------------------------------------------------------------------------------


def create_variable(session: Session, data: VariableCreate) -> VariablePublic:
    agency = resolve_agency(session, data.agency)
    _refuse_taken_code(session, Variable, agency, data.code)
    variable = Variable(
        agency_id=_id(agency),
        owner_unit_id=_unit_id(session, agency, data.owner_unit, "owner_unit"),
        **data.model_dump(exclude={"agency", "owner_unit"}),
    )
    with _savepoint(session, _code_conflict(Variable, agency, data.code)):
        session.add(variable)
    return definitions.get_variable(session, _id(variable))


def update_variable(session: Session, variable_id: int, data: VariableUpdate) -> VariablePublic:
    variable = get_or_404(session, Variable, variable_id, "Variable")
    agency = _agency_of(session, variable.agency_id)
    changes = data.model_dump(exclude_unset=True)
    code = changes.get("code", variable.code)
    if code != variable.code:
        _refuse_taken_code(session, Variable, agency, code, variable_id)
        _refuse_if_referred(
            f"Variable {variable.code} cannot be renamed: it",
            {"formulas": _indicators_using(session, _id(agency), variable.code)},
        )
    low = changes.get("min_value", variable.min_value)
    high = changes.get("max_value", variable.max_value)
    if low is not None and high is not None and low > high:
        raise InvalidInput(
            f"min_value ({low:g}) must not be greater than max_value ({high:g})",
            field="min_value" if "min_value" in changes else "max_value",
        )
    _refuse_invalidating_data(session, variable, low, high, changes.get("value_type"))
    if "owner_unit" in changes:
        changes["owner_unit_id"] = _unit_id(
            session, agency, changes.pop("owner_unit"), "owner_unit"
        )
    _apply(session, variable, changes, _code_conflict(Variable, agency, code))
    return definitions.get_variable(session, variable_id)


def _refuse_invalidating_data(
    session: Session,
    variable: Variable,
    low: float | None,
    high: float | None,
    value_type: ValueType | None,
) -> None:
    """Refuse a range or type that values already reported would break."""
    values = select(func.count()).where(DataValue.variable_id == variable.id)
    bounds = []
    if low is not None:
        bounds.append(("min_value", low, col(DataValue.value) < low))
    if high is not None:
        bounds.append(("max_value", high, col(DataValue.value) > high))
    for field, bound, outside in bounds:
        count = session.exec(values.where(outside)).one()
        if count:
            raise Conflict(
                f"{count} value(s) already reported for {variable.code} fall outside the new "
                f"range ({field} {bound:g}); correct them first",
                field=field,
            )
    if value_type == ValueType.integer and variable.value_type != ValueType.integer:
        reported = session.exec(
            select(DataValue.value).where(DataValue.variable_id == variable.id)
        ).all()
        fractional = sum(1 for value in reported if not float(value).is_integer())
        if fractional:
            raise Conflict(
                f"{fractional} value(s) already reported for {variable.code} are not whole "
                "numbers; correct them first",
                field="value_type",
            )


def delete_variable(session: Session, variable_id: int) -> None:
    variable = get_or_404(session, Variable, variable_id, "Variable")
    reported = session.exec(
        select(DataValue.year, DataValue.quarter)
        .where(DataValue.variable_id == variable_id)
        .order_by(col(DataValue.year), col(DataValue.quarter))
    )
    _refuse_if_referred(
        f"Variable {variable.code}",
        {
            "formulas": _indicators_using(session, variable.agency_id, variable.code),
            "data values": [f"{year} Q{quarter}" for year, quarter in reported],
        },
    )
    _delete(session, [variable], f"Variable {variable.code}")
