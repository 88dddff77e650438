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


def test_every_enum_check_constraint_allows_exactly_its_enum(databases):
    """A member added to an enum (a role, an aggregation ...) without the migration of its
    CHECK constraint would be refused by the database at the first write."""
    import re

    from sqlalchemy import Enum as SAEnum

    engine = make_engine(databases.new_url("checks"))
    try:
        upgrade(engine)
        inspector = inspect(engine)
        compared = []
        for table in SQLModel.metadata.sorted_tables:
            constraints = {
                c["name"]: c["sqltext"] for c in inspector.get_check_constraints(table.name)
            }
            for column in table.columns:
                if not isinstance(column.type, SAEnum):
                    continue
                name = f"ck_{table.name}_{column.type.name}"
                assert name in constraints, f"{table.name}.{column.name}: no CHECK {name}"
                allowed = set(re.findall(r"'([^']*)'", constraints[name]))
                assert allowed == set(column.type.enums), (table.name, column.name)
                compared.append(name)
        assert len(compared) >= 6  # role (twice), polarity, value type, aggregation, state
    finally:
        engine.dispose()
