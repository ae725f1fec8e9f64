"""In the reader's language (SPEC 2.3): each user's preferred language; a message's
and a template's translations; the variant each delivery was sent in

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-07
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # A plain ADD COLUMN on both databases (a constant default): no table rebuild,
    # however many users.
    op.add_column(
        "users",
        sa.Column("preferred_language", sa.String(35), nullable=False, server_default=""),
    )
    for table in ("broadcast_messages", "broadcast_message_templates"):
        op.add_column(
            table, sa.Column("translations", sa.Text(), nullable=False, server_default="{}")
        )
    op.add_column("deliveries", sa.Column("language", sa.String(35), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("deliveries") as batch:
        batch.drop_column("language")
    for table in ("broadcast_messages", "broadcast_message_templates"):
        with op.batch_alter_table(table) as batch:
            batch.drop_column("translations")
    with op.batch_alter_table("users") as batch:
        batch.drop_column("preferred_language")
