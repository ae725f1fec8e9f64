"""Sessions bound to their token; a suppression names who added it; enum CHECKs

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-07
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# Written out, not imported: a migration describes the schema as it was that day.
CHECKS = (
    ("broadcast_messages", "state", ("DRAFT", "SCHEDULED", "SENT")),
    ("broadcast_messages", "steering", ("paused", "cancelled")),
    ("deliveries", "status", ("pending", "sent", "failed", "cancelled", "bounced", "suppressed")),
    ("bounces", "kind", ("hard", "soft", "complaint", "unrecognised")),
    ("bounces", "source", ("mailbox", "webhook")),
    ("suppressions", "reason", ("hard", "soft", "complaint", "manual")),
)
AUTOINCREMENT = {"broadcast_messages", "deliveries", "bounces"}

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # A session ends with the token it was opened with (revoked: the row goes, and
    # its sessions with it). Sessions opened before this revision know no token:
    # they are ended, and their users sign in once more.
    op.execute("DELETE FROM console_sessions")
    with op.batch_alter_table("console_sessions") as batch:
        batch.add_column(sa.Column("token_id", sa.Integer(), nullable=True))
        batch.create_foreign_key(
            "fk_console_sessions_token_id", "api_tokens", ["token_id"], ["id"], ondelete="CASCADE"
        )
        batch.create_index("ix_console_sessions_token_id", ["token_id"])
    # Who added a suppression by hand, by name, on the suppression itself (the
    # console used to guess it from the audit trail).
    with op.batch_alter_table("suppressions") as batch:
        batch.add_column(
            sa.Column("created_by_name", sa.String(300), nullable=False, server_default="")
        )
    op.execute(
        "UPDATE suppressions SET created_by_name = COALESCE((SELECT full_name FROM users "
        "WHERE users.uuid = suppressions.created_by), '') WHERE created_by IS NOT NULL"
    )
    op.execute(
        "UPDATE suppressions SET created_by_name = 'the operator' "
        "WHERE reason = 'manual' AND created_by IS NULL"
    )
    # The database refuses a state, status or kind no caller may write (models.one_of).
    # On SQLite each table is copied once to add them (a minute per ten million
    # deliveries on these machines).
    sqlite = op.get_bind().dialect.name == "sqlite"
    for table, column, values in CHECKS:
        # A rebuilt SQLite table keeps AUTOINCREMENT only when told (0004).
        kwargs = {"sqlite_autoincrement": True} if sqlite and table in AUTOINCREMENT else {}
        with op.batch_alter_table(table, table_kwargs=kwargs) as batch:
            listed = ", ".join(f"'{value}'" for value in values)
            batch.create_check_constraint(f"ck_{table}_{column}", f"{column} IN ({listed})")


def downgrade() -> None:
    sqlite = op.get_bind().dialect.name == "sqlite"
    for table, column, _ in reversed(CHECKS):
        kwargs = {"sqlite_autoincrement": True} if sqlite and table in AUTOINCREMENT else {}
        with op.batch_alter_table(table, table_kwargs=kwargs) as batch:
            batch.drop_constraint(f"ck_{table}_{column}", type_="check")
    with op.batch_alter_table("suppressions") as batch:
        batch.drop_column("created_by_name")
    with op.batch_alter_table("console_sessions") as batch:
        batch.drop_index("ix_console_sessions_token_id")
        batch.drop_constraint("fk_console_sessions_token_id", type_="foreignkey")
        batch.drop_column("token_id")
