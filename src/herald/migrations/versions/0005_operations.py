"""token expiry and last use; role grant expiry; job runs for health and metrics

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-27
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("api_tokens") as batch_op:
        batch_op.add_column(sa.Column("expires", sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column("last_used", sa.DateTime(), nullable=True))
    for table in ("customer_roles", "project_roles"):
        with op.batch_alter_table(table) as batch_op:
            batch_op.add_column(sa.Column("expires", sa.DateTime(), nullable=True))
    op.create_table(
        "job_runs",
        sa.Column("name", sa.String(length=50), nullable=False),
        sa.Column("last_run", sa.DateTime(), nullable=False),
        sa.Column("last_success", sa.DateTime(), nullable=True),
        sa.Column("duration", sa.Float(), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("name"),
    )


def downgrade() -> None:
    op.drop_table("job_runs")
    for table in ("customer_roles", "project_roles"):
        with op.batch_alter_table(table) as batch_op:
            batch_op.drop_column("expires")
    with op.batch_alter_table("api_tokens") as batch_op:
        batch_op.drop_column("last_used")
        batch_op.drop_column("expires")
