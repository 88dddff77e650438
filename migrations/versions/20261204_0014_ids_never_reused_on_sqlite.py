"""Ids never given twice on SQLite: every table with a surrogate key (bar the append-only
audit trail) recreated AUTOINCREMENT, its next id above any id the audit trail names

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-04 16:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014"
down_revision: str | Sequence[str] | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLES = (
    "agency",
    "api_key",
    "data_value",
    "decree",
    "indicator",
    "objective",
    "period",
    "person",
    "person_session",
    "position",
    "quality_rule",
    "rating_scale",
    "sealed_figure",
    "seed_load",
    "target",
    "unit",
    "variable",
    "webhook_delivery",
    "webhook_event",
    "webhook_subscription",
)
"""The tables whose primary key is one integer `id`, as of this revision; not `audit_event`,
whose rows are never deleted, so that its largest id is never freed."""


def _recreate(table: str, *, autoincrement: bool) -> None:
    """Copy the table into one declared with or without AUTOINCREMENT, keeping its rows,
    columns, constraints and indexes (the batch operation reflects and recreates them) and
    its triggers (which SQLite drops with the table)."""
    connection = op.get_bind()
    triggers = (
        connection.execute(
            sa.text("SELECT sql FROM sqlite_master WHERE type = 'trigger' AND tbl_name = :t"),
            {"t": table},
        )
        .scalars()
        .all()
    )
    with op.batch_alter_table(
        table,
        recreate="always",
        table_kwargs={"sqlite_autoincrement": autoincrement},
        # AUTOINCREMENT declares the key on its column, where it has no name; without, it
        # is named again as the naming convention names it.
        reflect_args=[] if autoincrement else [sa.PrimaryKeyConstraint("id", name=f"pk_{table}")],
    ):
        pass
    for trigger in triggers:
        op.execute(trigger)


def _start_after_named_ids(table: str) -> None:
    """The table's next id above every id the audit trail names for it: a row deleted before
    this revision whose id was the largest left its id to be given again, and its events
    would tell of the next row. (The copy of the rows already set the table's sequence to
    its largest id.)"""
    connection = op.get_bind()
    named = connection.execute(
        sa.text(
            "SELECT max(CAST(entity_id AS INTEGER)) FROM audit_event "
            "WHERE entity = :t AND entity_id NOT GLOB '*[^0-9]*'"
        ),
        {"t": table},
    ).scalar_one()
    if named is None:
        return
    current = connection.execute(
        sa.text("SELECT seq FROM sqlite_sequence WHERE name = :t"), {"t": table}
    ).scalar_one_or_none()
    if current is None:
        connection.execute(
            sa.text("INSERT INTO sqlite_sequence (name, seq) VALUES (:t, :seq)"),
            {"t": table, "seq": named},
        )
    elif named > current:
        connection.execute(
            sa.text("UPDATE sqlite_sequence SET seq = :seq WHERE name = :t"),
            {"t": table, "seq": named},
        )


def upgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        return  # PostgreSQL's sequences never give an id twice
    for table in TABLES:
        _recreate(table, autoincrement=True)
        _start_after_named_ids(table)


def downgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    for table in TABLES:
        _recreate(table, autoincrement=False)
