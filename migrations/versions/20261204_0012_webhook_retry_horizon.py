"""Webhook deliveries: when retrying ends (`retry_until`), set when a delivery is made and
again when it is redelivered; an index of the open deliveries of each lane, for the claim

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-04 11:00:00
"""

import datetime as dt
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import app.core.db

revision: str = "0012"
down_revision: str | Sequence[str] | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OPEN = "state IN ('pending', 'delivering')"
RETRY = dt.timedelta(hours=24)
"""The default of WEBHOOK_RETRY_HOURS, given to the deliveries made before this revision."""


def upgrade() -> None:
    with op.batch_alter_table("webhook_delivery") as batch_op:
        batch_op.add_column(
            sa.Column("retry_until", app.core.db.UTCDateTime(timezone=True), nullable=True)
        )
    delivery = sa.table(
        "webhook_delivery",
        sa.column("id", sa.Integer()),
        sa.column("created_at", app.core.db.UTCDateTime(timezone=True)),
        sa.column("retry_until", app.core.db.UTCDateTime(timezone=True)),
    )
    connection = op.get_bind()
    rows = connection.execute(sa.select(delivery.c.id, delivery.c.created_at)).all()
    if rows:
        connection.execute(
            delivery.update()
            .where(delivery.c.id == sa.bindparam("ident"))
            .values(retry_until=sa.bindparam("until")),
            [{"ident": ident, "until": created + RETRY} for ident, created in rows],
        )
    with op.batch_alter_table("webhook_delivery") as batch_op:
        batch_op.alter_column(
            "retry_until",
            existing_type=app.core.db.UTCDateTime(timezone=True),
            nullable=False,
        )
    op.create_index(
        "ix_webhook_delivery_open_lane",
        "webhook_delivery",
        ["subscription_id", "agency_id", "event_id"],
        unique=False,
        postgresql_where=sa.text(OPEN),
        sqlite_where=sa.text(OPEN),
    )


def downgrade() -> None:
    op.drop_index(
        "ix_webhook_delivery_open_lane",
        table_name="webhook_delivery",
        postgresql_where=sa.text(OPEN),
        sqlite_where=sa.text(OPEN),
    )
    with op.batch_alter_table("webhook_delivery") as batch_op:
        batch_op.drop_column("retry_until")
