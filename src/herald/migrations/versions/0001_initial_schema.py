"""initial schema

Revision ID: 0001
Revises:
Create Date: 2026-11-26 14:15:30.923766
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "customers",
        sa.Column("uuid", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=500), nullable=False),
        sa.Column("notification_emails", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("uuid"),
    )
    op.create_table(
        "offerings",
        sa.Column("uuid", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=500), nullable=False),
        sa.Column("parent_uuid", sa.String(length=32), nullable=True),
        sa.ForeignKeyConstraint(["parent_uuid"], ["offerings.uuid"], ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("uuid"),
    )
    with op.batch_alter_table("offerings", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_offerings_parent_uuid"), ["parent_uuid"], unique=False)

    op.create_table(
        "users",
        sa.Column("uuid", sa.String(length=32), nullable=False),
        sa.Column("username", sa.String(length=150), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("full_name", sa.String(length=300), nullable=False),
        sa.Column("is_active", sa.Boolean(), nullable=False),
        sa.Column("is_staff", sa.Boolean(), nullable=False),
        sa.Column("is_support", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("uuid"),
    )
    # Addresses are matched case-insensitively (additional recipients, tokens by e-mail).
    op.create_index("ix_users_email_lower", "users", [sa.text("lower(email)")], unique=False)
    op.create_table(
        "api_tokens",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_uuid", sa.String(length=32), nullable=False),
        sa.Column("key_hash", sa.String(length=64), nullable=False),
        sa.Column("created", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["user_uuid"], ["users.uuid"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("key_hash"),
    )
    with op.batch_alter_table("api_tokens", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_api_tokens_user_uuid"), ["user_uuid"], unique=False)

    op.create_table(
        "broadcast_messages",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("uuid", sa.String(length=32), nullable=False),
        sa.Column("created", sa.DateTime(), nullable=False),
        sa.Column("subject", sa.Text(), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("query", sa.Text(), nullable=False),
        sa.Column("emails", sa.Text(), nullable=False),
        sa.Column("author_uuid", sa.String(length=32), nullable=True),
        sa.Column("author_full_name", sa.String(length=300), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("send_at", sa.Date(), nullable=True),
        sa.Column("sent", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(["author_uuid"], ["users.uuid"], ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("uuid"),
    )
    with op.batch_alter_table("broadcast_messages", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_broadcast_messages_created"), ["created"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_broadcast_messages_state"), ["state"], unique=False)

    op.create_table(
        "customer_roles",
        sa.Column("user_uuid", sa.String(length=32), nullable=False),
        sa.Column("customer_uuid", sa.String(length=32), nullable=False),
        sa.Column("role", sa.String(length=20), nullable=False),
        sa.ForeignKeyConstraint(["customer_uuid"], ["customers.uuid"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["user_uuid"], ["users.uuid"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("user_uuid", "customer_uuid", "role"),
    )
    with op.batch_alter_table("customer_roles", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_customer_roles_customer_uuid"), ["customer_uuid"], unique=False
        )

    op.create_table(
        "projects",
        sa.Column("uuid", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=500), nullable=False),
        sa.Column("customer_uuid", sa.String(length=32), nullable=False),
        sa.ForeignKeyConstraint(["customer_uuid"], ["customers.uuid"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("uuid"),
    )
    with op.batch_alter_table("projects", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_projects_customer_uuid"), ["customer_uuid"], unique=False
        )

    op.create_table(
        "deliveries",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("message_id", sa.Integer(), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("sent_at", sa.DateTime(), nullable=True),
        sa.Column("next_attempt_at", sa.DateTime(), nullable=False),
        sa.Column("lease_expires_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(["message_id"], ["broadcast_messages.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("message_id", "email", name="uq_deliveries_message_email"),
    )
    with op.batch_alter_table("deliveries", schema=None) as batch_op:
        batch_op.create_index("ix_deliveries_due", ["status", "next_attempt_at"], unique=False)
        batch_op.create_index(
            "ix_deliveries_message_status", ["message_id", "status"], unique=False
        )

    op.create_table(
        "project_roles",
        sa.Column("user_uuid", sa.String(length=32), nullable=False),
        sa.Column("project_uuid", sa.String(length=32), nullable=False),
        sa.Column("role", sa.String(length=20), nullable=False),
        sa.ForeignKeyConstraint(["project_uuid"], ["projects.uuid"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["user_uuid"], ["users.uuid"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("user_uuid", "project_uuid", "role"),
    )
    with op.batch_alter_table("project_roles", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_project_roles_project_uuid"), ["project_uuid"], unique=False
        )

    op.create_table(
        "resources",
        sa.Column("uuid", sa.String(length=32), nullable=False),
        sa.Column("project_uuid", sa.String(length=32), nullable=False),
        sa.Column("offering_uuid", sa.String(length=32), nullable=False),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.ForeignKeyConstraint(["offering_uuid"], ["offerings.uuid"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["project_uuid"], ["projects.uuid"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("uuid"),
    )
    with op.batch_alter_table("resources", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_resources_offering_uuid"), ["offering_uuid"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_resources_project_uuid"), ["project_uuid"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("resources", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_resources_project_uuid"))
        batch_op.drop_index(batch_op.f("ix_resources_offering_uuid"))

    op.drop_table("resources")
    with op.batch_alter_table("project_roles", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_project_roles_project_uuid"))

    op.drop_table("project_roles")
    with op.batch_alter_table("deliveries", schema=None) as batch_op:
        batch_op.drop_index("ix_deliveries_message_status")
        batch_op.drop_index("ix_deliveries_due")

    op.drop_table("deliveries")
    with op.batch_alter_table("projects", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_projects_customer_uuid"))

    op.drop_table("projects")
    with op.batch_alter_table("customer_roles", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_customer_roles_customer_uuid"))

    op.drop_table("customer_roles")
    with op.batch_alter_table("broadcast_messages", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_broadcast_messages_state"))
        batch_op.drop_index(batch_op.f("ix_broadcast_messages_created"))

    op.drop_table("broadcast_messages")
    with op.batch_alter_table("api_tokens", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_api_tokens_user_uuid"))

    op.drop_table("api_tokens")
    op.drop_index("ix_users_email_lower", table_name="users")
    op.drop_table("users")
    with op.batch_alter_table("offerings", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_offerings_parent_uuid"))

    op.drop_table("offerings")
    op.drop_table("customers")
