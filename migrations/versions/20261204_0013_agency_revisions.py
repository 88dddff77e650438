"""The revision of each agency's data (`agency.data_revision`), by which computed figures
are remembered

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-04 14:00:00
"""

import secrets
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | Sequence[str] | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("agency") as batch_op:
        batch_op.add_column(
            sa.Column("data_revision", sa.BigInteger(), nullable=False, server_default="0")
        )
    # Every agency starts at a revision of its own (random, as the service gives them; a row
    # written by hand in SQL starts at 0, and `iki forget` revises it).
    agency = sa.table("agency", sa.column("id", sa.Integer()), sa.column("data_revision"))
    connection = op.get_bind()
    agencies = connection.execute(sa.select(agency.c.id)).scalars().all()
    if agencies:
        connection.execute(
            agency.update()
            .where(agency.c.id == sa.bindparam("ident"))
            .values(data_revision=sa.bindparam("revision")),
            [{"ident": ident, "revision": secrets.randbits(62)} for ident in agencies],
        )


def downgrade() -> None:
    with op.batch_alter_table("agency") as batch_op:
        batch_op.drop_column("data_revision")
