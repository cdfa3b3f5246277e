"""``/api/handshake/*`` answers: what the real NAS logs from the Pi's replies to its notices
(docs/compat/nas-api.md §5.1), and the status the NAS web client's Pi build reads."""

from __future__ import annotations

from pydantic import BaseModel


class ComingOnlinePublic(BaseModel):
    acknowledged: bool
    nas_state: str
    inbox_flushed: bool
    files_transferred: int
    dns_switched: bool


class GoingOfflinePublic(BaseModel):
    acknowledged: bool
    nas_state: str
    snapshot_stored: bool
    dns_switched: bool


class LastNoticePublic(BaseModel):
    kind: str
    received_at: str


class HandshakeStatusPublic(BaseModel):
    nas_state: str | None
    since: str | None
    handshake_configured: bool
    last_snapshot: str | None
    last_snapshot_at: str | None
    last_notice: LastNoticePublic | None
    inbox_size_mb: float
    inbox_files: int
