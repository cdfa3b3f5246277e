"""BaluDesk's ``POST /api/sync/report-folders`` body, as BaluHost reads it
(docs/compat/nas-api.md §4.1).

One definition for both sides that accept it: BaluPi, answering for a sleeping NAS, and the NAS
emulator; a field BaluHost adds is added here once.
"""

from __future__ import annotations

from pydantic import BaseModel


class ReportedFolder(BaseModel):
    remote_path: str
    sync_direction: str = "bidirectional"


class FolderReport(BaseModel):
    device_id: str
    device_name: str | None = None
    platform: str | None = None
    folders: list[ReportedFolder] = []
