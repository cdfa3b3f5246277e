"""Answers of the sync routes: BaluHost's (preflight, changes, register-desktop, report-folders,
mobile folders; docs/compat/clients.md §6) and the Pi's own (status, conflicts, policies)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel


class PreflightPublic(BaseModel):
    sync_allowed: bool
    current_sleep_state: str
    sleep_schedule: Any
    next_sleep_at: str | None
    next_wake_at: str | None
    block_reason: str | None


class ChangesPublic(BaseModel):
    to_download: list[Any]
    to_delete: list[Any]
    conflicts: list[Any]
    change_token: str


class RegistrationPublic(BaseModel):
    device_id: str
    device_name: str | None
    status: str
    change_token: str | None


class FolderReportPublic(BaseModel):
    accepted: int
    deactivated: int


MobileFoldersPublic = list[dict[str, Any]]
"""BaluApp's folder configs, as the NAS answers them (its fields, relayed or kept unchanged)."""


class SyncFailurePublic(BaseModel):
    id: int
    path: str
    operation: str
    status: str
    attempts: int
    last_error: str | None
    next_attempt_at: str | None


class SyncStatusPublic(BaseModel):
    pending_count: int
    pending_bytes: int
    oldest_pending_age_seconds: int | None
    last_successful_sync: str | None
    by_status: dict[str, int]
    failure_count: int
    parked_count: int
    failures: list[SyncFailurePublic]
    open_conflicts: int
    forced_wake_at: str | None
    sync_max_wait_seconds: int | float | None
    safe_to_power_off: bool


class ConflictPublic(BaseModel):
    id: int
    path: str
    status: str
    local_sha256: str | None
    local_size: int | None
    remote_sha256: str | None
    remote_size: int | None
    remote_modified_at: str | None
    detected_at: str | None
    resolved_at: str | None
    resolution: str | None
    conflict_copy_path: str | None


class ConflictsPublic(BaseModel):
    conflicts: list[ConflictPublic]


class PoliciesPublic(BaseModel):
    default: str
    folders: dict[str, str]
