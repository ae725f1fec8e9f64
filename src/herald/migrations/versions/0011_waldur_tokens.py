"""Waldur's own tokens (SPEC 8): what Waldur said of each, under its hash

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "waldur_tokens",
        sa.Column("key_hash", sa.String(64), primary_key=True),
        sa.Column(
            "user_uuid",
            sa.String(32),
            sa.ForeignKey("users.uuid", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("checked", sa.DateTime(), nullable=False),
    )
    op.create_index("ix_waldur_tokens_user_uuid", "waldur_tokens", ["user_uuid"])


def downgrade() -> None:
    op.drop_table("waldur_tokens")
