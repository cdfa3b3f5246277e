"""NAS link history: the NAS's current state on ``servers``, every transition in a table.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-26

The NAS link (issue 3) persists its state so a restarted Pi does not poll, and so wake, a
sleeping NAS, and it keeps each accepted transition to report uptime and sleep time.
Existing ``servers`` rows start as ``unknown``, which is what the link assumes without evidence.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

STATE = sa.String(length=32)


def upgrade() -> None:
    with op.batch_alter_table("servers") as batch_op:
        batch_op.add_column(sa.Column("state", STATE, server_default="unknown", nullable=False))
        batch_op.add_column(sa.Column("state_since", sa.DateTime(), nullable=True))

    op.create_table(
        "nas_transitions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("server_id", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("from_state", STATE, nullable=False),
        sa.Column("to_state", STATE, nullable=False),
        sa.Column("evidence", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["server_id"],
            ["servers.id"],
            name=op.f("fk_nas_transitions_server_id_servers"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_nas_transitions")),
    )
    op.create_index(op.f("ix_nas_transitions_server_id_at"), "nas_transitions", ["server_id", "at"])


def downgrade() -> None:
    op.drop_table("nas_transitions")
    with op.batch_alter_table("servers") as batch_op:
        batch_op.drop_column("state_since")
        batch_op.drop_column("state")
