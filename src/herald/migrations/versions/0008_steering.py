"""Sending in the background and steering a send (SPEC 4.1): broadcast_messages.prepared,
prepare_cursor, steering

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Plain ALTER TABLE ADD COLUMN, not a batch: on SQLite a batch rebuilds the
    # table and loses its AUTOINCREMENT (migration 0004).
    # Every message sent before this revision had its audience queued at once.
    op.add_column(
        "broadcast_messages",
        sa.Column("prepared", sa.Boolean(), nullable=False, server_default=sa.true()),
    )
    op.add_column("broadcast_messages", sa.Column("prepare_cursor", sa.Text(), nullable=True))
    op.add_column("broadcast_messages", sa.Column("steering", sa.String(16), nullable=True))
    op.create_index("ix_broadcast_messages_steering", "broadcast_messages", ["steering"])


def downgrade() -> None:
    op.drop_index("ix_broadcast_messages_steering", "broadcast_messages")
    with op.batch_alter_table("broadcast_messages") as batch_op:
        batch_op.drop_column("steering")
        batch_op.drop_column("prepare_cursor")
        batch_op.drop_column("prepared")
