"""Owners for conflicts and pins: each user sees and decides only their own (issue 11).

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-08

A conflict belongs to the user whose queued change met the NAS's version; existing rows take the
owner of their queue entry (rows without one stay visible to admins only). A pin records the
users who asked for it, as a JSON list; existing pins have no recorded owner, so only an admin
may lift them.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("conflicts") as batch:
        batch.add_column(sa.Column("owner_id", sa.String(length=64), nullable=True))
        batch.create_index(batch.f("ix_conflicts_owner_id"), ["owner_id"])
    op.execute(
        "UPDATE conflicts SET owner_id = "
        "(SELECT owner_id FROM upload_queue WHERE upload_queue.id = conflicts.queue_id)"
    )
    with op.batch_alter_table("cached_files") as batch:
        batch.add_column(sa.Column("pinned_by", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("cached_files") as batch:
        batch.drop_column("pinned_by")
    with op.batch_alter_table("conflicts") as batch:
        batch.drop_index(batch.f("ix_conflicts_owner_id"))
        batch.drop_column("owner_id")
