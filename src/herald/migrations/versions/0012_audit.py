"""The audit trail (SPEC 8): audit_entries

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "audit_entries",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("uuid", sa.String(32), nullable=False, unique=True),
        sa.Column("created", sa.DateTime(), nullable=False),
        sa.Column("user_uuid", sa.String(32), nullable=True),
        sa.Column("user_full_name", sa.String(300), nullable=False),
        sa.Column("user_email", sa.String(320), nullable=False),
        sa.Column("action", sa.String(50), nullable=False),
        sa.Column("object_type", sa.String(30), nullable=False),
        sa.Column("object_uuid", sa.String(320), nullable=True),
        sa.Column("client", sa.String(64), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_audit_entries_created", "audit_entries", ["created"])
    op.create_index("ix_audit_entries_user_uuid", "audit_entries", ["user_uuid"])
    op.create_index("ix_audit_entries_action", "audit_entries", ["action"])
    op.create_index("ix_audit_entries_object_uuid", "audit_entries", ["object_uuid"])


def downgrade() -> None:
    op.drop_table("audit_entries")
