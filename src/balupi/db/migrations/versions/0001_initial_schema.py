"""Initial schema: the seed's twelve tables adapted to the NAS contract, plus directory listings.

Revision ID: 0001
Revises:
Create Date: 2026-11-26

Revisions spell out plain SQLAlchemy types rather than importing the models, so they keep
describing the schema as it was when they were written. Timestamps are ``DateTime`` columns
holding naive UTC (``UtcDateTime`` in the models); enumerations are ``String(32)``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

PATH = sa.String(length=4096)
SHA256 = sa.String(length=64)
ENUM = sa.String(length=32)
WITHOUT_ROWID = {"sqlite_with_rowid": False}


def upgrade() -> None:
    _create_auth_and_nas()
    _create_files()
    _create_sync()
    _create_energy()


def _bookkeeping() -> list[sa.Column[Any]]:
    return [
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
    ]


def _create_auth_and_nas() -> None:
    op.create_table(
        "users",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("username", sa.String(length=255), nullable=False),
        sa.Column("role", sa.String(length=32), nullable=False),
        sa.Column("is_active", sa.Boolean(), nullable=False),
        sa.Column("last_seen_at", sa.DateTime(), nullable=True),
        sa.Column("password_verifier", sa.Text(), nullable=True),
        sa.Column("verifier_expires_at", sa.DateTime(), nullable=True),
        *_bookkeeping(),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_users")),
        sa.UniqueConstraint("username", name=op.f("uq_users_username")),
    )
    op.create_table(
        "servers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("base_url", sa.String(length=2048), nullable=False),
        sa.Column("mac_address", sa.String(length=17), nullable=True),
        sa.Column("mdns_name", sa.String(length=255), nullable=True),
        sa.Column("last_seen_at", sa.DateTime(), nullable=True),
        *_bookkeeping(),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_servers")),
    )


def _create_files() -> None:
    op.create_table(
        "file_metadata_cache",
        sa.Column("path", PATH, nullable=False),
        sa.Column("parent_path", PATH, nullable=False),
        sa.Column("name", sa.String(length=1024), nullable=False),
        sa.Column("is_directory", sa.Boolean(), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("mtime", sa.DateTime(), nullable=True),
        sa.Column("checksum", SHA256, nullable=True),
        sa.Column("file_id", sa.Integer(), nullable=True),
        sa.Column("owner_id", sa.String(length=64), nullable=True),
        sa.Column("owner_name", sa.String(length=255), nullable=True),
        sa.Column("mime_type", sa.String(length=255), nullable=True),
        sa.Column("listed_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("path", name=op.f("pk_file_metadata_cache")),
    )
    op.create_index(
        op.f("ix_file_metadata_cache_parent_path"), "file_metadata_cache", ["parent_path"]
    )
    op.create_table(
        "directory_listings",
        sa.Column("path", PATH, nullable=False),
        sa.Column("user_id", sa.String(length=64), nullable=False),
        sa.Column("listed_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_directory_listings_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("path", "user_id", name=op.f("pk_directory_listings")),
    )
    op.create_table(
        "cached_files",
        sa.Column("path", PATH, nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("sha256", SHA256, nullable=False),
        sa.Column("stored_name", sa.String(length=255), nullable=False),
        sa.Column("etag", sa.String(length=255), nullable=True),
        sa.Column("last_modified", sa.DateTime(), nullable=True),
        sa.Column("hits", sa.Integer(), nullable=False),
        sa.Column("last_access_at", sa.DateTime(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("verified_at", sa.DateTime(), nullable=True),
        sa.Column("hotness", sa.Double(), nullable=False),
        sa.Column("pinned", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("path", name=op.f("pk_cached_files")),
    )
    op.create_index(op.f("ix_cached_files_sha256"), "cached_files", ["sha256"])


def _create_sync() -> None:
    op.create_table(
        "upload_queue",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("operation", ENUM, nullable=False),
        sa.Column("status", ENUM, nullable=False),
        sa.Column("owner_id", sa.String(length=64), nullable=False),
        sa.Column("target_path", PATH, nullable=False),
        sa.Column("source_path", PATH, nullable=True),
        sa.Column("local_path", PATH, nullable=True),
        sa.Column("size", sa.BigInteger(), nullable=True),
        sa.Column("sha256", SHA256, nullable=True),
        sa.Column("mime_type", sa.String(length=255), nullable=True),
        sa.Column("base_checksum", SHA256, nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("synced_at", sa.DateTime(), nullable=True),
        *_bookkeeping(),
        sa.ForeignKeyConstraint(
            ["owner_id"], ["users.id"], name=op.f("fk_upload_queue_owner_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_upload_queue")),
        sqlite_autoincrement=True,
    )
    op.create_index(op.f("ix_upload_queue_owner_id"), "upload_queue", ["owner_id"])
    op.create_index(
        op.f("ix_upload_queue_status_next_attempt_at"),
        "upload_queue",
        ["status", "next_attempt_at"],
    )
    op.create_index(op.f("ix_upload_queue_target_path"), "upload_queue", ["target_path"])

    op.create_table(
        "sync_log",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("direction", ENUM, nullable=False),
        sa.Column("operation", ENUM, nullable=False),
        sa.Column("path", PATH, nullable=False),
        sa.Column("queue_id", sa.Integer(), nullable=True),
        sa.Column("bytes", sa.BigInteger(), nullable=False),
        sa.Column("duration_ms", sa.Integer(), nullable=False),
        sa.Column("ok", sa.Boolean(), nullable=False),
        sa.Column("detail", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["queue_id"],
            ["upload_queue.id"],
            name=op.f("fk_sync_log_queue_id_upload_queue"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sync_log")),
    )
    op.create_index(op.f("ix_sync_log_at"), "sync_log", ["at"])
    op.create_index(op.f("ix_sync_log_queue_id"), "sync_log", ["queue_id"])

    op.create_table(
        "conflicts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("path", PATH, nullable=False),
        sa.Column("queue_id", sa.Integer(), nullable=True),
        sa.Column("status", ENUM, nullable=False),
        sa.Column("local_sha256", SHA256, nullable=True),
        sa.Column("local_size", sa.BigInteger(), nullable=True),
        sa.Column("remote_sha256", SHA256, nullable=True),
        sa.Column("remote_size", sa.BigInteger(), nullable=True),
        sa.Column("remote_mtime", sa.DateTime(), nullable=True),
        sa.Column("detected_at", sa.DateTime(), nullable=False),
        sa.Column("resolved_at", sa.DateTime(), nullable=True),
        sa.Column("resolution", sa.String(length=32), nullable=True),
        sa.Column("conflict_copy_path", PATH, nullable=True),
        sa.ForeignKeyConstraint(
            ["queue_id"],
            ["upload_queue.id"],
            name=op.f("fk_conflicts_queue_id_upload_queue"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_conflicts")),
    )
    op.create_index(op.f("ix_conflicts_queue_id"), "conflicts", ["queue_id"])
    op.create_index(op.f("ix_conflicts_status"), "conflicts", ["status"])


def _roll_up_columns() -> list[sa.Column[Any]]:
    return [
        sa.Column("energy_mwh", sa.Integer(), nullable=False),
        sa.Column("counter_wh", sa.Integer(), nullable=True),
        sa.Column("avg_power_mw", sa.Integer(), nullable=False),
        sa.Column("min_power_mw", sa.Integer(), nullable=False),
        sa.Column("max_power_mw", sa.Integer(), nullable=False),
        sa.Column("sample_count", sa.Integer(), nullable=False),
        sa.Column("covered_seconds", sa.Integer(), nullable=False),
        sa.Column("cost_micros", sa.Integer(), nullable=True),
    ]


def _device_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["device_id"],
        ["tapo_devices.id"],
        name=op.f(f"fk_{table}_device_id_tapo_devices"),
        ondelete="CASCADE",
    )


def _create_energy() -> None:
    op.create_table(
        "tapo_devices",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("mac_address", sa.String(length=17), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("host", sa.String(length=255), nullable=False),
        sa.Column("port", sa.Integer(), nullable=True),
        sa.Column("model", sa.String(length=64), nullable=True),
        sa.Column("firmware", sa.String(length=64), nullable=True),
        sa.Column("role", ENUM, nullable=False),
        sa.Column("is_online", sa.Boolean(), nullable=False),
        sa.Column("consecutive_failures", sa.Integer(), nullable=False),
        sa.Column("last_seen_at", sa.DateTime(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("power_limit_mw", sa.Integer(), nullable=True),
        sa.Column("device_config", sa.JSON(), nullable=True),
        sa.Column("hourly_done_until", sa.DateTime(), nullable=True),
        sa.Column("daily_done_until", sa.Date(), nullable=True),
        *_bookkeeping(),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tapo_devices")),
        sa.UniqueConstraint("mac_address", name=op.f("uq_tapo_devices_mac_address")),
    )
    op.create_table(
        "energy_samples",
        sa.Column("device_id", sa.Integer(), nullable=False),
        sa.Column("ts", sa.DateTime(), nullable=False),
        sa.Column("power_mw", sa.Integer(), nullable=False),
        sa.Column("voltage_mv", sa.Integer(), nullable=True),
        sa.Column("current_ma", sa.Integer(), nullable=True),
        sa.Column("today_wh", sa.Integer(), nullable=True),
        sa.Column("month_wh", sa.Integer(), nullable=True),
        _device_fk("energy_samples"),
        sa.PrimaryKeyConstraint("device_id", "ts", name=op.f("pk_energy_samples")),
        **WITHOUT_ROWID,
    )
    op.create_table(
        "energy_hourly",
        sa.Column("device_id", sa.Integer(), nullable=False),
        sa.Column("hour_start", sa.DateTime(), nullable=False),
        *_roll_up_columns(),
        _device_fk("energy_hourly"),
        sa.PrimaryKeyConstraint("device_id", "hour_start", name=op.f("pk_energy_hourly")),
        **WITHOUT_ROWID,
    )
    op.create_table(
        "energy_daily",
        sa.Column("device_id", sa.Integer(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        *_roll_up_columns(),
        _device_fk("energy_daily"),
        sa.PrimaryKeyConstraint("device_id", "day", name=op.f("pk_energy_daily")),
        **WITHOUT_ROWID,
    )
    op.create_table(
        "energy_price_config",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("price_per_kwh_micros", sa.Integer(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("valid_from", sa.Date(), nullable=False),
        sa.Column("valid_until", sa.Date(), nullable=True),
        sa.Column("starts_at", sa.Time(), nullable=True),
        sa.Column("ends_at", sa.Time(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.CheckConstraint(
            "(starts_at IS NULL) = (ends_at IS NULL)",
            name=op.f("ck_energy_price_config_time_window_complete"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_energy_price_config")),
    )
    op.create_index(
        op.f("ix_energy_price_config_valid_from"), "energy_price_config", ["valid_from"]
    )


def downgrade() -> None:
    # Children before parents, so no foreign key is left pointing at a dropped table.
    for table in (
        "energy_price_config",
        "energy_daily",
        "energy_hourly",
        "energy_samples",
        "tapo_devices",
        "conflicts",
        "sync_log",
        "upload_queue",
        "cached_files",
        "directory_listings",
        "file_metadata_cache",
        "servers",
        "users",
    ):
        op.drop_table(table)
