"""Bounces and suppression (SPEC 4.2): the bounces and suppressions tables

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "bounces",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("uuid", sa.String(32), nullable=False, unique=True),
        sa.Column(
            "delivery_id",
            sa.Integer(),
            sa.ForeignKey("deliveries.id", ondelete="SET NULL"),
            nullable=True,
        ),
        sa.Column("message_uuid", sa.String(32), nullable=True),
        sa.Column("email", sa.String(320), nullable=False),
        sa.Column("key", sa.String(320), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("code", sa.String(16), nullable=False),
        sa.Column("diagnostic", sa.Text(), nullable=False),
        sa.Column("received", sa.DateTime(), nullable=False),
        sa.Column("source", sa.String(16), nullable=False),
        sa.Column("notification", sa.String(64), nullable=False, unique=True),
        sa.Column("raw", sa.LargeBinary(), nullable=False),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_bounces_delivery_id", "bounces", ["delivery_id"])
    op.create_index("ix_bounces_received", "bounces", ["received"])
    op.create_index("ix_bounces_key_received", "bounces", ["key", "received"])
    op.create_table(
        "suppressions",
        sa.Column("key", sa.String(320), primary_key=True),
        sa.Column("email", sa.String(320), nullable=False),
        sa.Column("reason", sa.String(16), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column(
            "bounce_id",
            sa.Integer(),
            sa.ForeignKey("bounces.id", ondelete="SET NULL"),
            nullable=True,
        ),
        sa.Column("created", sa.DateTime(), nullable=False),
        sa.Column("created_by", sa.String(32), nullable=True),
    )
    op.create_index("ix_suppressions_reason", "suppressions", ["reason"])
    op.create_index("ix_suppressions_created", "suppressions", ["created"])


def downgrade() -> None:
    op.drop_table("suppressions")
    op.drop_table("bounces")
