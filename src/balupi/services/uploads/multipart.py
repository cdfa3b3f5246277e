"""A streaming ``multipart/form-data`` reader: file parts arrive as chunks, never whole.

Starlette's ``request.form()`` spools every file to a temporary file first, which on the Pi means
writing each upload twice. This reader feeds python-multipart's push parser and hands out events
as they happen, so the upload service writes each byte once, straight to its final place.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass

from python_multipart.multipart import MultipartParser, parse_options_header

from balupi.errors import BaluPiError

MAX_FIELD_BYTES = 64 * 1024  # a text field (``path``) is small; anything bigger is abuse
MAX_HEADER_BYTES = 8 * 1024


class MalformedUpload(BaluPiError):
    """The request body is not the multipart form BaluHost's upload route takes (422)."""

    code = "malformed_upload"
    status_code = 422
    detail: str = "Malformed upload"

    def __init__(self, detail: str) -> None:
        super().__init__(detail)


@dataclass(frozen=True)
class FileStarted:
    """A file part begins; its bytes follow as ``FileChunk`` events until ``FileEnded``."""

    field: str
    filename: str
    content_type: str | None


@dataclass(frozen=True)
class FileChunk:
    data: bytes


@dataclass(frozen=True)
class FileEnded:
    pass


@dataclass(frozen=True)
class Field:
    """A complete text field."""

    name: str
    value: str


MultipartEvent = FileStarted | FileChunk | FileEnded | Field


def boundary_of(content_type: str | None) -> bytes:
    """The boundary of a ``multipart/form-data`` Content-Type, or ``MalformedUpload``."""
    kind, options = parse_options_header(content_type or "")
    boundary = options.get(b"boundary")
    if kind != b"multipart/form-data" or not boundary:
        raise MalformedUpload("Expected a multipart/form-data body")
    return boundary


class _PartCollector:
    """python-multipart calls back synchronously; this collects what it said as events."""

    def __init__(self) -> None:
        self.events: list[MultipartEvent] = []
        self._headers: dict[bytes, bytes] = {}
        self._header_field = b""
        self._header_value = b""
        self._header_bytes = 0
        self._field: tuple[str, bytearray] | None = None
        self._in_file = False

    def callbacks(self) -> dict[str, object]:
        return {
            "on_part_begin": self._part_begin,
            "on_header_field": self._header_field_data,
            "on_header_value": self._header_value_data,
            "on_header_end": self._header_end,
            "on_headers_finished": self._headers_finished,
            "on_part_data": self._part_data,
            "on_part_end": self._part_end,
        }

    def _part_begin(self) -> None:
        self._headers = {}
        self._header_bytes = 0
        self._field = None
        self._in_file = False

    def _count(self, size: int) -> None:
        self._header_bytes += size
        if self._header_bytes > MAX_HEADER_BYTES:
            raise MalformedUpload("Multipart part headers too large")

    def _header_field_data(self, data: bytes, start: int, end: int) -> None:
        self._count(end - start)
        self._header_field += data[start:end]

    def _header_value_data(self, data: bytes, start: int, end: int) -> None:
        self._count(end - start)
        self._header_value += data[start:end]

    def _header_end(self) -> None:
        self._headers[self._header_field.strip().lower()] = self._header_value.strip()
        self._header_field = b""
        self._header_value = b""

    def _headers_finished(self) -> None:
        disposition, options = parse_options_header(self._headers.get(b"content-disposition", b""))
        if disposition != b"form-data" or b"name" not in options:
            raise MalformedUpload("Multipart part without a form-data name")
        name = options[b"name"].decode("utf-8", "replace")
        if b"filename" in options:
            self._in_file = True
            content_type = self._headers.get(b"content-type")
            self.events.append(
                FileStarted(
                    field=name,
                    filename=options[b"filename"].decode("utf-8", "replace"),
                    content_type=content_type.decode("latin-1") if content_type else None,
                )
            )
        else:
            self._field = (name, bytearray())

    def _part_data(self, data: bytes, start: int, end: int) -> None:
        if self._in_file:
            self.events.append(FileChunk(data[start:end]))
        elif self._field is not None:
            buffer = self._field[1]
            buffer += data[start:end]
            if len(buffer) > MAX_FIELD_BYTES:
                raise MalformedUpload(f"Form field {self._field[0]!r} is too large")

    def _part_end(self) -> None:
        if self._in_file:
            self.events.append(FileEnded())
        elif self._field is not None:
            name, value = self._field
            self.events.append(Field(name, value.decode("utf-8", "replace")))
        self._in_file = False
        self._field = None


async def read_multipart(
    content_type: str | None, body: AsyncIterator[bytes]
) -> AsyncIterator[MultipartEvent]:
    """Events of a multipart body, in order, as the bytes arrive."""
    collector = _PartCollector()
    parser = MultipartParser(boundary_of(content_type), collector.callbacks())  # type: ignore[arg-type]
    async for chunk in body:
        if not chunk:
            continue
        try:
            parser.write(chunk)
        except MalformedUpload:
            raise
        except Exception as exc:  # python-multipart signals bad input with its own errors
            raise MalformedUpload("Malformed multipart body") from exc
        events, collector.events = collector.events, []
        for event in events:
            yield event
    parser.finalize()
    for event in collector.events:
        yield event
