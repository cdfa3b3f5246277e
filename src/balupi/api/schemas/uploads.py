"""Answers of the upload routes, as BaluHost's (docs/compat/nas-api.md §3.4): the multipart
upload, the chunked trio (plus the Pi's ``GET`` of a session), and the Pi's parked changes."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel

from balupi.clock import utc_iso
from balupi.services.uploads.resumable import SessionRecord


class UploadedPublic(BaseModel):
    message: str
    uploaded: int
    upload_ids: list[str]


class MessagePublic(BaseModel):
    """BaluHost's ``{"message": …}`` answer to a change."""

    message: str


class ChunkedInitPublic(BaseModel):
    upload_id: str
    chunk_size: int


class ChunkedStatusPublic(BaseModel):
    """Where a dropped upload stands: send chunk ``next_chunk_index`` from ``received_bytes``."""

    upload_id: str
    path: str
    total_size: int
    received_bytes: int
    next_chunk_index: int
    expires_at: str

    @classmethod
    def of(cls, record: SessionRecord, expires_at: datetime) -> ChunkedStatusPublic:
        return cls(
            upload_id=record.id,
            path=record.target_path,
            total_size=record.total_size,
            received_bytes=record.received,
            next_chunk_index=record.next_chunk,
            expires_at=utc_iso(expires_at),
        )


class ChunkReceivedPublic(BaseModel):
    received_bytes: int


class ChunkedCompletePublic(BaseModel):
    path: str
    size: int
