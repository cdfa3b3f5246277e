"""Upload queue: when the last push of an entry began.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-26

A push cut short (the NAS lost power, the Pi was killed) can leave a partial file on the NAS.
When the entry is pushed again, a remote file changed since that push began may be the Pi's own
partial write, not somebody else's edit, and must be overwritten rather than kept as a conflict.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("upload_queue") as batch:
        batch.add_column(sa.Column("push_started_at", sa.DateTime(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("upload_queue") as batch:
        batch.drop_column("push_started_at")
