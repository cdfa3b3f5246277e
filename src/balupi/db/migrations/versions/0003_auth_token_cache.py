"""Auth: what the NAS said about bearer tokens, revoked refresh tokens, cached user profiles.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-26

Offline authentication (issue 3) needs the NAS's verdicts to outlive a restart of the Pi: a
token the NAS accepted keeps working while it sleeps, one it rejected is never accepted again,
and a refresh token it revoked (or a logout) is not refreshed by the Pi. ``users`` gains the
NAS's ``UserPublic`` (answered by ``/api/auth/me`` while the NAS sleeps) and the logout time.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SHA256 = sa.String(length=64)
USER_ID = sa.String(length=64)


def upgrade() -> None:
    op.create_table(
        "auth_tokens",
        sa.Column("digest", SHA256, nullable=False),
        sa.Column("verdict", sa.String(length=32), nullable=False),
        sa.Column("user_id", USER_ID, nullable=True),
        sa.Column("detail", sa.String(length=255), nullable=True),
        sa.Column("checked_at", sa.DateTime(), nullable=False),
        sa.Column("expires_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_auth_tokens_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("digest", name=op.f("pk_auth_tokens")),
    )
    op.create_index(op.f("ix_auth_tokens_expires_at"), "auth_tokens", ["expires_at"])

    op.create_table(
        "revoked_refresh_tokens",
        sa.Column("jti", sa.String(length=64), nullable=False),
        sa.Column("user_id", USER_ID, nullable=True),
        sa.Column("revoked_at", sa.DateTime(), nullable=False),
        sa.Column("expires_at", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint("jti", name=op.f("pk_revoked_refresh_tokens")),
    )
    op.create_index(
        op.f("ix_revoked_refresh_tokens_expires_at"), "revoked_refresh_tokens", ["expires_at"]
    )

    with op.batch_alter_table("users") as batch_op:
        batch_op.add_column(sa.Column("profile", sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column("refresh_revoked_before", sa.DateTime(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("users") as batch_op:
        batch_op.drop_column("refresh_revoked_before")
        batch_op.drop_column("profile")
    op.drop_table("revoked_refresh_tokens")
    op.drop_table("auth_tokens")
