"""Roles viewer and auditor: the CHECK constraints that list the roles

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-03 20:10:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | Sequence[str] | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BEFORE = ("reader", "operator", "verifier", "admin")
AFTER = ("viewer", "reader", "auditor", "operator", "verifier", "admin")
# The columns that hold a role, each with its CHECK constraint (`enum_column(Role, "role")`).
COLUMNS = (("api_key", "role"), ("period", "changed_by_role"))


def _allow(roles: Sequence[str]) -> None:
    for table, column in COLUMNS:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_constraint(op.f(f"ck_{table}_role"), type_="check")
            listed = ", ".join(f"'{role}'" for role in roles)
            batch_op.create_check_constraint(op.f(f"ck_{table}_role"), f"{column} IN ({listed})")


def upgrade() -> None:
    _allow(AFTER)


def downgrade() -> None:
    # A key of a new role could not be stored under the old constraint, and dropping it
    # silently would lose who holds it: the downgrade refuses until they are deleted.
    new = ", ".join(f"'{role}'" for role in AFTER if role not in BEFORE)
    held = op.get_bind().execute(sa.text(f"SELECT name FROM api_key WHERE role IN ({new})"))
    names = [row[0] for row in held]
    if names:
        raise RuntimeError(f"Keys of roles added by 0005 exist ({', '.join(names)}): delete them first")
    _allow(BEFORE)
