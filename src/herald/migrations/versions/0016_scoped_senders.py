"""Senders beyond staff (SPEC 9): an offering's provider; a message's scope and review

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-07
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Written out, not imported: a migration describes the schema as it was that day.
CHECKS = (
    ("scope_type", ("provider", "organisation")),
    ("review_status", ("waiting", "approved", "rejected", "withdrawn")),
    ("review_action", ("send", "schedule")),
)


def _autoincrement() -> dict[str, bool]:
    return {"sqlite_autoincrement": True} if op.get_bind().dialect.name == "sqlite" else {}


def upgrade() -> None:
    with op.batch_alter_table("offerings") as batch:
        batch.add_column(sa.Column("customer_uuid", sa.String(32), nullable=True))
        batch.create_foreign_key(
            "fk_offerings_customer_uuid", "customers", ["customer_uuid"], ["uuid"],
            ondelete="SET NULL",
        )  # fmt: skip
        batch.create_index("ix_offerings_customer_uuid", ["customer_uuid"])
    with op.batch_alter_table("broadcast_messages", table_kwargs=_autoincrement()) as batch:
        batch.add_column(sa.Column("scope_type", sa.String(16), nullable=True))
        batch.add_column(sa.Column("scope_uuid", sa.String(32), nullable=True))
        batch.add_column(sa.Column("scope_name", sa.String(500), nullable=False, server_default=""))
        batch.add_column(sa.Column("review_status", sa.String(16), nullable=True))
        batch.add_column(sa.Column("review_action", sa.String(16), nullable=True))
        batch.add_column(sa.Column("review_requested_by", sa.String(32), nullable=True))
        batch.add_column(
            sa.Column("review_requested_by_name", sa.String(300), nullable=False, server_default="")
        )
        batch.add_column(sa.Column("review_requested", sa.DateTime(), nullable=True))
        batch.add_column(sa.Column("review_decided_by", sa.String(32), nullable=True))
        batch.add_column(
            sa.Column("review_decided_by_name", sa.String(300), nullable=False, server_default="")
        )
        batch.add_column(sa.Column("review_decided", sa.DateTime(), nullable=True))
        batch.add_column(sa.Column("review_note", sa.Text(), nullable=True))
        batch.create_index("ix_broadcast_messages_review_status", ["review_status"])
        batch.create_index("ix_broadcast_messages_scope", ["scope_type", "scope_uuid"])
        for column, values in CHECKS:
            listed = ", ".join(f"'{value}'" for value in values)
            batch.create_check_constraint(
                f"ck_broadcast_messages_{column}", f"{column} IN ({listed})"
            )


def downgrade() -> None:
    with op.batch_alter_table("broadcast_messages", table_kwargs=_autoincrement()) as batch:
        for column, _ in reversed(CHECKS):
            batch.drop_constraint(f"ck_broadcast_messages_{column}", type_="check")
        batch.drop_index("ix_broadcast_messages_scope")
        batch.drop_index("ix_broadcast_messages_review_status")
        for column in ("review_note", "review_decided", "review_decided_by_name",
                       "review_decided_by", "review_requested", "review_requested_by_name",
                       "review_requested_by", "review_action", "review_status", "scope_name",
                       "scope_uuid", "scope_type"):  # fmt: skip
            batch.drop_column(column)
    with op.batch_alter_table("offerings") as batch:
        batch.drop_index("ix_offerings_customer_uuid")
        batch.drop_constraint("fk_offerings_customer_uuid", type_="foreignkey")
        batch.drop_column("customer_uuid")
