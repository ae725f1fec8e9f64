"""Sign-in through the portal's OpenID Connect provider (SPEC 8.1)

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-07
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "oidc_sign_ins",
        sa.Column("state_hash", sa.String(64), primary_key=True),
        sa.Column("browser_hash", sa.String(64), nullable=False),
        sa.Column("nonce", sa.String(128), nullable=False),
        sa.Column("code_verifier", sa.String(128), nullable=False),
        sa.Column("next", sa.String(2000), nullable=False),
        sa.Column("created", sa.DateTime(), nullable=False),
        sa.Column("used", sa.Boolean(), nullable=False, server_default=sa.false()),
    )
    op.create_index("ix_oidc_sign_ins_created", "oidc_sign_ins", ["created"])
    with op.batch_alter_table("console_sessions") as batch:
        batch.add_column(sa.Column("oidc_sid", sa.String(255), nullable=True))
        batch.add_column(sa.Column("oidc_sub", sa.String(255), nullable=True))
        batch.add_column(sa.Column("logout_url", sa.Text(), nullable=True))
        batch.create_index("ix_console_sessions_oidc_sid", ["oidc_sid"])
        batch.create_index("ix_console_sessions_oidc_sub", ["oidc_sub"])


def downgrade() -> None:
    with op.batch_alter_table("console_sessions") as batch:
        batch.drop_index("ix_console_sessions_oidc_sub")
        batch.drop_index("ix_console_sessions_oidc_sid")
        batch.drop_column("logout_url")
        batch.drop_column("oidc_sub")
        batch.drop_column("oidc_sid")
    op.drop_table("oidc_sign_ins")
