"""The seal checks hold what they read: on PostgreSQL a verification cannot commit between a
writer's check of the sealed quarters and its write."""

import os

import pytest
from sqlalchemy import text
from sqlalchemy.exc import OperationalError
from sqlmodel import Session, select

from app.models import Agency, Unit
from app.services import seals
from app.services.common import lock_agency_data

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
