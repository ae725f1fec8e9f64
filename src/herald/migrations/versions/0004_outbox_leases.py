"""deliveries: lease owner and message uuid; ids never reused on SQLite

The lease owner lets only the worker that holds a delivery record its
outcome. The message uuid is what the worker keys rendered mail by. On
SQLite both tables are rebuilt with AUTOINCREMENT, so a deleted message's
id (and its deliveries' ids) is never given to a new one.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-27
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _sqlite() -> bool:
    return op.get_bind().dialect.name == "sqlite"


def upgrade() -> None:
    with op.batch_alter_table("deliveries") as batch_op:
        batch_op.add_column(sa.Column("message_uuid", sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column("lease_owner", sa.String(length=32), nullable=True))
    op.execute(
        "UPDATE deliveries SET message_uuid = (SELECT m.uuid FROM broadcast_messages AS m"
        " WHERE m.id = deliveries.message_id)"
    )
    sqlite_options = {"sqlite_autoincrement": True} if _sqlite() else {}
    with op.batch_alter_table(
        "deliveries", recreate="always" if _sqlite() else "auto", table_kwargs=sqlite_options
    ) as batch_op:
        batch_op.alter_column("message_uuid", existing_type=sa.String(length=32), nullable=False)
    if _sqlite():
        with op.batch_alter_table(
            "broadcast_messages", recreate="always", table_kwargs=sqlite_options
        ):
            pass


def downgrade() -> None:
    with op.batch_alter_table("deliveries") as batch_op:
        batch_op.drop_column("lease_owner")
        batch_op.drop_column("message_uuid")
