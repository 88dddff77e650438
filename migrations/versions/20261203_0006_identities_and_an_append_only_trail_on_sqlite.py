"""Principal identities in the audit trail, folded key names, an append-only trail on SQLite

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-03 20:50:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

from app.core.migrations import refuse_losing_audit_events
from app.core.security import principal_name

revision: str = "0006"
down_revision: str | Sequence[str] | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SQLITE_TRIGGERS = {
    "audit_event_no_update": "BEFORE UPDATE",
    "audit_event_no_delete": "BEFORE DELETE",
}


def _fold_key_names() -> None:
    """Key names as `principal_name` stores them; two keys whose names fold to one, or a
    name holding an invisible character, stop the migration: an admin renames or revokes
    one of them (the audit trail keeps the names as they were)."""
    bind = op.get_bind()
    rows = bind.execute(sa.text("SELECT id, name FROM api_key ORDER BY id")).all()
    folded: dict[str, int] = {}
    for key_id, name in rows:
        try:
            new = principal_name(name)
        except Exception as exc:
            raise RuntimeError(f"Key {key_id} ({name!r}): {exc}") from exc
        if new in folded:
            raise RuntimeError(
                f"Keys {folded[new]} and {key_id} have names that read alike ({new!r}); "
                "delete one of them before migrating"
            )
        folded[new] = key_id
        if new != name:
            bind.execute(
                sa.text("UPDATE api_key SET name = :name WHERE id = :id"),
                {"name": new, "id": key_id},
            )


def upgrade() -> None:
    _fold_key_names()
    with op.batch_alter_table("audit_event", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("actor_id", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=True)
        )
        batch_op.create_index(batch_op.f("ix_audit_event_actor_id"), ["actor_id"], unique=False)
    if op.get_bind().dialect.name == "sqlite":
        # Append-only, as PostgreSQL's trigger (0003) makes it there.
        for name, when in SQLITE_TRIGGERS.items():
            op.execute(
                f"CREATE TRIGGER {name} {when} ON audit_event BEGIN "
                "SELECT RAISE(ABORT, 'audit events are append-only'); END"
            )


def downgrade() -> None:
    refuse_losing_audit_events("drop who made each change (actor_id) and, on SQLite, the triggers")
    if op.get_bind().dialect.name == "sqlite":
        for name in SQLITE_TRIGGERS:
            op.execute(f"DROP TRIGGER {name}")
    with op.batch_alter_table("audit_event", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_audit_event_actor_id"))
        batch_op.drop_column("actor_id")
