"""The seal checks hold what they read: on PostgreSQL a verification cannot commit between a
writer's check of the sealed quarters and its write."""

import os

import pytest
from sqlalchemy import text
from sqlalchemy.exc import OperationalError
from sqlmodel import Session, select

from app.core.security import Principal, PrincipalKind
from app.models import Agency, Role, Unit
from app.schemas.targets import IndicatorTargetsPut
from app.services import seals
from app.services.common import lock_agency_data
from app.services.targets import set_many_targets

pytestmark = pytest.mark.skipif(
    not os.environ.get("TEST_DATABASE_URL", "").startswith("postgresql"),
    reason="SQLite writers hold the database's write lock from BEGIN IMMEDIATE",
)


def _reads(session: Session, agency: Agency, unit: Unit) -> dict:
    return {
        "periods of the agency": lambda: seals.held_periods(session, agency_ids=[agency.id]),
        "periods of a unit": lambda: seals.held_periods(session, unit_ids=[unit.id]),
        "quarters under a formula": lambda: seals.held_quarters(
            session, agency.id, "psks_diberdayakan / psks_terdata * 100", 2025
        ),
    }


@pytest.mark.parametrize(
    "read", ["periods of the agency", "periods of a unit", "quarters under a formula"]
)
def test_a_seal_check_waits_for_a_workflow_step_in_progress(committed_engine, read):
    with Session(committed_engine) as step, Session(committed_engine) as writer:
        agency = step.exec(select(Agency).where(Agency.code == "DINSOSP3A")).one()
        unit = step.exec(select(Unit).where(Unit.code == "BID_PSM")).one()
        lock_agency_data(step, agency)  # what submit, verify, return and reopen take first

        writer.exec(text("SET lock_timeout = '200ms'"))  # type: ignore[call-overload]
        with pytest.raises(OperationalError, match="lock timeout"):
            _reads(writer, agency, unit)[read]()
        writer.rollback()

        step.rollback()  # the step ends: the check goes on
        assert _reads(writer, agency, unit)[read]() == []


def test_a_target_write_waits_for_a_workflow_step_in_progress(committed_engine):
    """The window of a verification committing between the target write's check of the
    verified quarters and its write is closed: the write waits for the step's lock."""
    admin = Principal(PrincipalKind.key, 0, "admin", Role.admin)
    item = IndicatorTargetsPut.model_validate({"indicator": "KADIS.1.1", "annual": 81})
    with Session(committed_engine) as step, Session(committed_engine) as writer:
        agency = step.exec(select(Agency).where(Agency.code == "DINSOSP3A")).one()
        lock_agency_data(step, agency)  # what submit, verify, return and reopen take first

        writer.exec(text("SET lock_timeout = '200ms'"))  # type: ignore[call-overload]
        with pytest.raises(OperationalError, match="lock timeout"):
            set_many_targets(writer, admin, 2025, [item])
        writer.rollback()
        step.rollback()
