"""Leaving with the portal (SPEC 8): users.local marks Herald's own operators

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "users", sa.Column("local", sa.Boolean(), nullable=False, server_default=sa.false())
    )
    # Until now the only users no import named and that imports kept were the
    # token holders: the operators `herald create-staff` made. Users an import
    # names are marked as the portal's by the next import.
    op.execute("UPDATE users SET local = true WHERE uuid IN (SELECT user_uuid FROM api_tokens)")


def downgrade() -> None:
    with op.batch_alter_table("users") as batch_op:
        batch_op.drop_column("local")
