"""The schema exists only through Alembic: upgrade from empty, match the models, downgrade."""

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect
from sqlmodel import SQLModel

from app.core.db import make_engine
from app.core.migrations import current_revision, downgrade, head_revision, upgrade


def test_upgrade_from_empty_matches_models_and_downgrades_to_empty(databases):
    engine = make_engine(databases.new_url("migrations"))
    try:
        upgrade(engine)
        with engine.connect() as conn:
            assert current_revision(conn) == head_revision()
            diff = compare_metadata(
                MigrationContext.configure(conn, opts={"compare_type": True}), SQLModel.metadata
            )
            assert diff == []
            tables = set(inspect(conn).get_table_names())
        assert set(SQLModel.metadata.tables) <= tables

        downgrade(engine, "base")
        with engine.connect() as conn:
            assert set(inspect(conn).get_table_names()) <= {"alembic_version"}

        upgrade(engine)  # and up again from a downgraded database
        with engine.connect() as conn:
            assert current_revision(conn) == head_revision()
    finally:
        engine.dispose()


def test_foreign_keys_are_enforced(session):
    from sqlalchemy.exc import IntegrityError

    from app.models import Unit

    session.add(Unit(agency_id=999_999, code="X", name="Nowhere"))
    try:
        session.flush()
    except IntegrityError:
        session.rollback()
    else:  # pragma: no cover - the assertion below reports it
        raise AssertionError("a unit of a missing agency was stored")
