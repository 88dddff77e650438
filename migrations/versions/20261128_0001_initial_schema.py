"""Initial schema: organisation, definitions, data values, targets, rating scales, API keys

Revision ID: 0001
Revises:
Create Date: 2026-11-28 16:11:32.307655
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import app.core.db

revision: str = "0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "api_key",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
        sa.Column(
            "role",
            sa.Enum(
                "reader",
                "operator",
                "verifier",
                "admin",
                name="role",
                native_enum=False,
                create_constraint=True,
            ),
            nullable=False,
        ),
        sa.Column("prefix", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("secret_hash", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("created_at", app.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("last_used_at", app.core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("revoked_at", app.core.db.UTCDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_key")),
    )
    with op.batch_alter_table("api_key", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_api_key_name"), ["name"], unique=True)
        batch_op.create_index(batch_op.f("ix_api_key_secret_hash"), ["secret_hash"], unique=True)

    op.create_table(
        "rating_scale",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("name", sqlmodel.sql.sqltypes.AutoString(length=255), nullable=False),
        sa.Column("is_default", sa.Boolean(), nullable=False),
        sa.Column("bands", sa.JSON(), nullable=False),
        sa.Column("created_at", app.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", app.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_rating_scale")),
        sa.UniqueConstraint("code", name=op.f("uq_rating_scale_code")),
    )
    op.create_table(
        "agency",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("name", sqlmodel.sql.sqltypes.AutoString(length=255), nullable=False),
        sa.Column("address", sqlmodel.sql.sqltypes.AutoString(length=500), nullable=True),
        sa.Column("phone", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=True),
        sa.Column("email", sqlmodel.sql.sqltypes.AutoString(length=255), nullable=True),
        sa.Column("website", sqlmodel.sql.sqltypes.AutoString(length=255), nullable=True),
        sa.Column("rating_scale_id", sa.Integer(), nullable=True),
        sa.Column("created_at", app.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", app.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["rating_scale_id"],
            ["rating_scale.id"],
            name=op.f("fk_agency_rating_scale_id_rating_scale"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_agency")),
    )
    with op.batch_alter_table("agency", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_agency_code"), ["code"], unique=True)

    op.create_table(
        "decree",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("agency_id", sa.Integer(), nullable=False),
        sa.Column("number", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
        sa.Column("title", sqlmodel.sql.sqltypes.AutoString(length=500), nullable=True),
        sa.Column("date", sa.Date(), nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("signatory", sqlmodel.sql.sqltypes.AutoString(length=255), nullable=True),
        sa.Column("signatory_title", sqlmodel.sql.sqltypes.AutoString(length=255), nullable=True),
        sa.Column("signatory_rank", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=True),
        sa.Column("signatory_nip", sqlmodel.sql.sqltypes.AutoString(length=50), nullable=True),
        sa.Column("created_at", app.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", app.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["agency_id"], ["agency.id"], name=op.f("fk_decree_agency_id_agency")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_decree")),
        sa.UniqueConstraint("agency_id", "number", name=op.f("uq_decree_agency_id_number")),
        sa.UniqueConstraint("agency_id", "year", name=op.f("uq_decree_agency_id_year")),
    )
    with op.batch_alter_table("decree", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_decree_agency_id"), ["agency_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_decree_year"), ["year"], unique=False)

    op.create_table(
        "unit",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("agency_id", sa.Integer(), nullable=False),
        sa.Column("code", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("name", sqlmodel.sql.sqltypes.AutoString(length=255), nullable=False),
        sa.Column("created_at", app.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", app.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["agency_id"], ["agency.id"], name=op.f("fk_unit_agency_id_agency")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_unit")),
        sa.UniqueConstraint("agency_id", "code", name=op.f("uq_unit_agency_id_code")),
    )
    with op.batch_alter_table("unit", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_unit_agency_id"), ["agency_id"], unique=False)

    op.create_table(
        "api_key_unit",
        sa.Column("api_key_id", sa.Integer(), nullable=False),
        sa.Column("unit_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["api_key_id"], ["api_key.id"], name=op.f("fk_api_key_unit_api_key_id_api_key")
        ),
        sa.ForeignKeyConstraint(
            ["unit_id"], ["unit.id"], name=op.f("fk_api_key_unit_unit_id_unit")
        ),
        sa.PrimaryKeyConstraint("api_key_id", "unit_id", name=op.f("pk_api_key_unit")),
    )
    with op.batch_alter_table("api_key_unit", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_api_key_unit_unit_id"), ["unit_id"], unique=False)

    op.create_table(
        "position",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("agency_id", sa.Integer(), nullable=False),
        sa.Column("code", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("title", sqlmodel.sql.sqltypes.AutoString(length=255), nullable=False),
        sa.Column("echelon", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=True),
        sa.Column("unit_id", sa.Integer(), nullable=True),
        sa.Column("superior_id", sa.Integer(), nullable=True),
        sa.Column("duties", sa.JSON(), nullable=False),
        sa.Column("functions", sa.JSON(), nullable=False),
        sa.Column("activities", sa.JSON(), nullable=False),
        sa.Column("created_at", app.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", app.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["agency_id"], ["agency.id"], name=op.f("fk_position_agency_id_agency")
        ),
        sa.ForeignKeyConstraint(
            ["superior_id"], ["position.id"], name=op.f("fk_position_superior_id_position")
        ),
        sa.ForeignKeyConstraint(["unit_id"], ["unit.id"], name=op.f("fk_position_unit_id_unit")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_position")),
        sa.UniqueConstraint("agency_id", "code", name=op.f("uq_position_agency_id_code")),
    )
    with op.batch_alter_table("position", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_position_agency_id"), ["agency_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_position_unit_id"), ["unit_id"], unique=False)

    op.create_table(
        "variable",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("agency_id", sa.Integer(), nullable=False),
        sa.Column("code", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("label", sqlmodel.sql.sqltypes.AutoString(length=500), nullable=False),
        sa.Column("unit_of_measure", sqlmodel.sql.sqltypes.AutoString(length=50), nullable=False),
        sa.Column(
            "value_type",
            sa.Enum(
                "integer", "number", name="value_type", native_enum=False, create_constraint=True
            ),
            nullable=False,
        ),
        sa.Column(
            "aggregation",
            sa.Enum(
                "sum",
                "last",
                "max",
                "min",
                "avg",
                name="aggregation",
                native_enum=False,
                create_constraint=True,
            ),
            nullable=False,
        ),
        sa.Column("min_value", sa.Float(), nullable=True),
        sa.Column("max_value", sa.Float(), nullable=True),
        sa.Column("owner_unit_id", sa.Integer(), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("created_at", app.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", app.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "max_value IS NULL OR min_value IS NULL OR max_value >= min_value",
            name=op.f("ck_variable_range"),
        ),
        sa.ForeignKeyConstraint(
            ["agency_id"], ["agency.id"], name=op.f("fk_variable_agency_id_agency")
        ),
        sa.ForeignKeyConstraint(
            ["owner_unit_id"], ["unit.id"], name=op.f("fk_variable_owner_unit_id_unit")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_variable")),
        sa.UniqueConstraint("agency_id", "code", name=op.f("uq_variable_agency_id_code")),
    )
    with op.batch_alter_table("variable", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_variable_agency_id"), ["agency_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_variable_owner_unit_id"), ["owner_unit_id"], unique=False
        )

    op.create_table(
        "data_value",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("variable_id", sa.Integer(), nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("quarter", sa.Integer(), nullable=False),
        sa.Column("value", sa.Float(), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("evidence", sa.Text(), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", app.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", app.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_by", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=True),
        sa.CheckConstraint("quarter BETWEEN 1 AND 4", name=op.f("ck_data_value_quarter")),
        sa.ForeignKeyConstraint(
            ["variable_id"], ["variable.id"], name=op.f("fk_data_value_variable_id_variable")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_data_value")),
        sa.UniqueConstraint(
            "variable_id", "year", "quarter", name=op.f("uq_data_value_variable_id_year_quarter")
        ),
    )
    with op.batch_alter_table("data_value", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_data_value_updated_at"), ["updated_at"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_data_value_variable_id"), ["variable_id"], unique=False
        )

    op.create_table(
        "objective",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("decree_id", sa.Integer(), nullable=False),
        sa.Column("position_id", sa.Integer(), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("statement", sa.Text(), nullable=False),
        sa.Column("created_at", app.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", app.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["decree_id"], ["decree.id"], name=op.f("fk_objective_decree_id_decree")
        ),
        sa.ForeignKeyConstraint(
            ["position_id"], ["position.id"], name=op.f("fk_objective_position_id_position")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_objective")),
        sa.UniqueConstraint(
            "decree_id",
            "position_id",
            "number",
            name=op.f("uq_objective_decree_id_position_id_number"),
        ),
    )
    with op.batch_alter_table("objective", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_objective_decree_id"), ["decree_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_objective_position_id"), ["position_id"], unique=False)

    op.create_table(
        "indicator",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("decree_id", sa.Integer(), nullable=False),
        sa.Column("objective_id", sa.Integer(), nullable=False),
        sa.Column("code", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("formula", sqlmodel.sql.sqltypes.AutoString(length=500), nullable=False),
        sa.Column("unit_of_measure", sqlmodel.sql.sqltypes.AutoString(length=50), nullable=False),
        sa.Column(
            "polarity",
            sa.Enum(
                "higher_is_better",
                "lower_is_better",
                name="polarity",
                native_enum=False,
                create_constraint=True,
            ),
            nullable=False,
        ),
        sa.Column("decimals", sa.Integer(), nullable=False),
        sa.Column("explanation", sa.Text(), nullable=True),
        sa.Column("data_source", sa.Text(), nullable=True),
        sa.Column("notes", sa.Text(), nullable=True),
        sa.Column("parent_id", sa.Integer(), nullable=True),
        sa.Column("created_at", app.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", app.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["decree_id"], ["decree.id"], name=op.f("fk_indicator_decree_id_decree")
        ),
        sa.ForeignKeyConstraint(
            ["objective_id"], ["objective.id"], name=op.f("fk_indicator_objective_id_objective")
        ),
        sa.ForeignKeyConstraint(
            ["parent_id"], ["indicator.id"], name=op.f("fk_indicator_parent_id_indicator")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_indicator")),
        sa.UniqueConstraint("decree_id", "code", name=op.f("uq_indicator_decree_id_code")),
    )
    with op.batch_alter_table("indicator", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_indicator_decree_id"), ["decree_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_indicator_objective_id"), ["objective_id"], unique=False
        )

    op.create_table(
        "indicator_source_unit",
        sa.Column("indicator_id", sa.Integer(), nullable=False),
        sa.Column("unit_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["indicator_id"],
            ["indicator.id"],
            name=op.f("fk_indicator_source_unit_indicator_id_indicator"),
        ),
        sa.ForeignKeyConstraint(
            ["unit_id"], ["unit.id"], name=op.f("fk_indicator_source_unit_unit_id_unit")
        ),
        sa.PrimaryKeyConstraint("indicator_id", "unit_id", name=op.f("pk_indicator_source_unit")),
    )
    with op.batch_alter_table("indicator_source_unit", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_indicator_source_unit_unit_id"), ["unit_id"], unique=False
        )

    op.create_table(
        "target",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("indicator_id", sa.Integer(), nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("quarter", sa.Integer(), nullable=False),
        sa.Column("value", sa.Float(), nullable=False),
        sa.Column("created_at", app.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", app.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_by", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=True),
        sa.CheckConstraint("quarter BETWEEN 0 AND 4", name=op.f("ck_target_quarter")),
        sa.ForeignKeyConstraint(
            ["indicator_id"], ["indicator.id"], name=op.f("fk_target_indicator_id_indicator")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_target")),
        sa.UniqueConstraint(
            "indicator_id", "year", "quarter", name=op.f("uq_target_indicator_id_year_quarter")
        ),
    )
    with op.batch_alter_table("target", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_target_indicator_id"), ["indicator_id"], unique=False)



def downgrade() -> None:
    with op.batch_alter_table("target", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_target_indicator_id"))

    op.drop_table("target")
    with op.batch_alter_table("indicator_source_unit", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_indicator_source_unit_unit_id"))

    op.drop_table("indicator_source_unit")
    with op.batch_alter_table("indicator", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_indicator_objective_id"))
        batch_op.drop_index(batch_op.f("ix_indicator_decree_id"))

    op.drop_table("indicator")
    with op.batch_alter_table("objective", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_objective_position_id"))
        batch_op.drop_index(batch_op.f("ix_objective_decree_id"))

    op.drop_table("objective")
    with op.batch_alter_table("data_value", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_data_value_variable_id"))
        batch_op.drop_index(batch_op.f("ix_data_value_updated_at"))

    op.drop_table("data_value")
    with op.batch_alter_table("variable", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_variable_owner_unit_id"))
        batch_op.drop_index(batch_op.f("ix_variable_agency_id"))

    op.drop_table("variable")
    with op.batch_alter_table("position", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_position_unit_id"))
        batch_op.drop_index(batch_op.f("ix_position_agency_id"))

    op.drop_table("position")
    with op.batch_alter_table("api_key_unit", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_api_key_unit_unit_id"))

    op.drop_table("api_key_unit")
    with op.batch_alter_table("unit", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_unit_agency_id"))

    op.drop_table("unit")
    with op.batch_alter_table("decree", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_decree_year"))
        batch_op.drop_index(batch_op.f("ix_decree_agency_id"))

    op.drop_table("decree")
    with op.batch_alter_table("agency", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_agency_code"))

    op.drop_table("agency")
    op.drop_table("rating_scale")
    with op.batch_alter_table("api_key", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_api_key_secret_hash"))
        batch_op.drop_index(batch_op.f("ix_api_key_name"))

    op.drop_table("api_key")
