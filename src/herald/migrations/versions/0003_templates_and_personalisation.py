"""message templates; recipients' names frozen on deliveries for personalisation

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-26
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "broadcast_message_templates",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("uuid", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=150), nullable=False),
        sa.Column("subject", sa.Text(), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("created", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("uuid"),
    )
    op.create_index("ix_broadcast_message_templates_name", "broadcast_message_templates", ["name"])
    with op.batch_alter_table("deliveries", schema=None) as batch_op:
        batch_op.add_column(sa.Column("full_name", sa.String(length=300), nullable=True))
        batch_op.add_column(sa.Column("customers", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("offerings", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("deliveries", schema=None) as batch_op:
        batch_op.drop_column("offerings")
        batch_op.drop_column("customers")
        batch_op.drop_column("full_name")
    op.drop_index("ix_broadcast_message_templates_name", table_name="broadcast_message_templates")
    op.drop_table("broadcast_message_templates")
