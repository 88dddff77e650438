"""The checks of a unit's quarter read what the session holds: their statements run by the
Core, which does not flush, so a change made in the same transaction and not yet flushed
must still be what they check (a workflow step checks right after its own writes)."""

from sqlmodel import Session, select

from app.models import DataValue, Unit, Variable
from app.services import quality


def test_the_checks_read_a_value_not_yet_flushed(session: Session) -> None:
    unit = session.exec(select(Unit).where(Unit.code == "BID_PSM")).one()
    variable = session.exec(
        select(Variable).where(Variable.owner_unit_id == unit.id).order_by(Variable.code)
    ).first()
    assert unit.id is not None and variable is not None and variable.id is not None
    session.add(DataValue(variable_id=variable.id, year=2025, quarter=1, value=4321.0))

    quarters = quality.unit_quarters(session, [unit.id], 2025, [1])

    observed = quarters[(unit.id, 1)].values[variable.code][1]
    assert observed.value == 4321.0
