"""Variables (komponen data): list, get, create, change, delete.

A variable's code is the name formulas and quality rules use: it cannot change while one
uses it, nor can its range or type change in a way that values already reported would break.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import or_
from sqlmodel import Session, col, func, select

from app.core.errors import Conflict, InvalidInput
from app.models import Agency, DataValue, Unit, ValueType, Variable
from app.schemas.common import PageParams
from app.schemas.organization import UnitRef
from app.schemas.variables import VariableCreate, VariablePublic, VariableUpdate
from app.services import seals
from app.services.common import (
    NewOfAgency,
    agency_of,
    agency_units,
    apply_changes,
    by_id,
    code_conflict,
    delete_rows,
    get_or_404,
    id_of,
    new_row,
    paginate,
    pick_units,
    refuse_if_referred,
    refuse_taken_code,
    resolve_agency,
    unit_id,
)
from app.services.formulas import indicators_using
from app.services.quality_rules import rules_using


def _variable_views(session: Session, variables: Sequence[Variable]) -> list[VariablePublic]:
    units = by_id(session, Unit, {v.owner_unit_id for v in variables})
    return [variable_view(v, units[v.owner_unit_id]) for v in variables]


def variable_view(variable: Variable, owner: Unit) -> VariablePublic:
    """The public view of a variable and its owner unit."""
    return VariablePublic.model_validate(
        variable, update={"owner_unit": UnitRef.model_validate(owner)}
    )


def list_variables(
    session: Session,
    page: PageParams,
    *,
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


def create_variable(session: Session, data: VariableCreate) -> VariablePublic:
    new = NewVariables(session, resolve_agency(session, data.agency))
    new.add(data)
    return _variable_views(session, new.write())[0]


class NewVariables(NewOfAgency[VariableCreate, Variable]):
    """New variables of one agency (see `NewRows`)."""

    model = Variable

    def __init__(self, session: Session, agency: Agency) -> None:
        super().__init__(session, agency)
        self.units = agency_units(session, agency)

    def check(self, data: VariableCreate) -> tuple[str, Variable, None]:
        self.claim(data.code)
        owner = pick_units(self.units, self.agency, [data.owner_unit], "owner_unit")[0]
        variable = new_row(Variable, data, agency_id=id_of(self.agency), owner_unit_id=id_of(owner))
        return variable.code, variable, None


def update_variable(session: Session, variable_id: int, data: VariableUpdate) -> VariablePublic:
    variable = get_or_404(session, Variable, variable_id, "Variable")
    agency = agency_of(session, variable.agency_id)
    changes = data.model_dump(exclude_unset=True)
    code = changes.get("code", variable.code)
    if code != variable.code:
        refuse_taken_code(session, Variable, agency, code, variable_id)
        refuse_if_referred(
            f"Variable {variable.code} cannot be renamed: it",
            {
                "formulas": indicators_using(session, id_of(agency), variable.code),
                "quality rules": rules_using(session, id_of(agency), variable.code),
            },
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
        changes["owner_unit_id"] = unit_id(session, agency, changes.pop("owner_unit"), "owner_unit")
    _refuse_changing_sealed(session, variable, changes)
    apply_changes(session, variable, changes, code_conflict(Variable, agency, code))
    return get_variable(session, variable_id)


SEALED_FIELDS = ("aggregation", "value_type", "min_value", "max_value", "owner_unit_id")
"""What a variable's figures rest on: how its quarters aggregate, what it counts, which
values it admits and whose data it is."""


def _refuse_changing_sealed(session: Session, variable: Variable, changes: dict[str, Any]) -> None:
    """409 when a field that figures rest on would change while a quarter of its owner unit
    (or of the unit it moves to) is submitted or verified in a year that uses it."""
    changed = [f for f in SEALED_FIELDS if f in changes and changes[f] != getattr(variable, f)]
    if not changed:
        return
    units = {variable.owner_unit_id, changes.get("owner_unit_id", variable.owner_unit_id)}
    held = seals.held_for_variable(session, variable, units)
    field = changed[0].removesuffix("_id")
    seals.refuse_under_seal(f"The {field} of {variable.code}", held, field=field)


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
    refuse_if_referred(
        f"Variable {variable.code}",
        {
            "formulas": indicators_using(session, variable.agency_id, variable.code),
            "quality rules": rules_using(session, variable.agency_id, variable.code),
            "data values": [f"{year} Q{quarter}" for year, quarter in reported],
        },
    )
    delete_rows(session, [variable], f"Variable {variable.code}")


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
