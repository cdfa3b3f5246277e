"""Energy alerts, and per-plug thresholds for reading the NAS plug's draw.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-26

The Tapo service (issue 6) stores its alerts (a plug offline, over its power limit, mains out of
range, the NAS plug's draw contradicting the NAS's state) as rows that are cleared, not deleted,
when their cause goes away; a partial unique index keeps one active alert per plug and kind.
``tapo_devices`` gains the three power thresholds of a plug with role ``nas``; they are plain
added columns (all or none, checked by the service), so no table is rebuilt.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ALERT_KINDS = (
    "plug_offline",
    "power_over_limit",
    "voltage_out_of_range",
    "nas_power_while_asleep",
    "nas_no_power_while_awake",
)


def upgrade() -> None:
    op.create_table(
        "energy_alerts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("device_id", sa.Integer(), nullable=False),
        sa.Column(
            "kind",
            sa.Enum(*ALERT_KINDS, name="alertkind", native_enum=False, length=32),
            nullable=False,
        ),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("raised_at", sa.DateTime(), nullable=False),
        sa.Column("cleared_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["device_id"],
            ["tapo_devices.id"],
            name=op.f("fk_energy_alerts_device_id_tapo_devices"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_energy_alerts")),
    )
    op.create_index(
        "ix_energy_alerts_active",
        "energy_alerts",
        ["device_id", "kind"],
        unique=True,
        sqlite_where=sa.text("cleared_at IS NULL"),
    )
    op.create_index(op.f("ix_energy_alerts_device_id"), "energy_alerts", ["device_id"])

    with op.batch_alter_table("tapo_devices") as batch_op:
        batch_op.add_column(sa.Column("off_below_mw", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("standby_below_mw", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("idle_below_mw", sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("tapo_devices") as batch_op:
        batch_op.drop_column("idle_below_mw")
        batch_op.drop_column("standby_below_mw")
        batch_op.drop_column("off_below_mw")
    op.drop_index(op.f("ix_energy_alerts_device_id"), table_name="energy_alerts")
    op.drop_index("ix_energy_alerts_active", table_name="energy_alerts")
    op.drop_table("energy_alerts")
