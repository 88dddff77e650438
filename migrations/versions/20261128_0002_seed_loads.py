"""Seed loads: which seed files were loaded, so that they are not loaded twice

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-28 17:23:57.621203
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import app.core.db

revision: str = "0002"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "seed_load",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("source", sqlmodel.sql.sqltypes.AutoString(length=255), nullable=False),
        sa.Column("loaded_at", app.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_seed_load")),
        sa.UniqueConstraint("source", name=op.f("uq_seed_load_source")),
    )


def downgrade() -> None:
    op.drop_table("seed_load")
