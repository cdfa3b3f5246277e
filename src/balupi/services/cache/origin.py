"""Downloads from the NAS as a given user: the only place the cache talks to the NAS.

Every request carries the requesting user's own bearer token, so the NAS applies its own
rules to every byte the cache fetches. Only the response headers a download's meaning depends
on are kept (``PASSED_HEADERS``); the NAS's other headers describe its own hop.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime
from email.utils import parsedate_to_datetime
from urllib.parse import quote

import httpx

from balupi.errors import NasRejected, NasUnreachable
from balupi.services.nas.link import NasLink

DOWNLOAD_PREFIX = "/api/files/download/"
PASSED_HEADERS = (
    "content-type",
    "content-length",
    "content-disposition",
    "accept-ranges",
    "last-modified",
    "etag",
    "content-range",
)
MAX_ERROR_BODY = 64 * 1024


def kept_headers(response: httpx.Response) -> dict[str, str]:
    return {name: response.headers[name] for name in PASSED_HEADERS if name in response.headers}


def http_date(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        return parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None


def content_length(headers: dict[str, str]) -> int | None:
    try:
        return int(headers["content-length"])
    except (KeyError, ValueError):
        return None


@dataclass(frozen=True)
class Probe:
    """The NAS's headers for a file, fetched with a one-byte Range (HEAD is 405 on the NAS)."""

    status: int
    etag: str | None
    last_modified: datetime | None
    size: int | None


class NasOrigin:
    """``GET /api/files/download/{path}`` on the NAS, streamed, as one user."""

    def __init__(self, link: NasLink) -> None:
        self._link = link

    @asynccontextmanager
    async def download(
        self,
        path: str,
        token: str,
        *,
        byte_range: str | None = None,
        if_range: str | None = None,
    ) -> AsyncIterator[httpx.Response]:
        """The NAS's streamed answer; ``NasUnreachable`` (reported to the link) if none."""
        headers = {"authorization": f"Bearer {token}", "accept-encoding": "identity"}
        if byte_range:
            headers["range"] = byte_range
            if if_range:
                headers["if-range"] = if_range
        try:
            async with self._link.client.stream(
                "GET", DOWNLOAD_PREFIX + quote(path, safe="/"), headers=headers
            ) as response:
                yield response
        except NasUnreachable as exc:
            await self._link.report_unreachable(str(exc))
            raise

    async def probe(self, path: str, token: str) -> Probe:
        async with self.download(path, token, byte_range="bytes=0-0") as response:
            await response.aclose()
        total: int | None = None
        content_range = response.headers.get("content-range", "")
        if "/" in content_range:
            try:
                total = int(content_range.rsplit("/", 1)[1])
            except ValueError:
                total = None
        return Probe(
            response.status_code,
            response.headers.get("etag"),
            http_date(response.headers.get("last-modified")),
            total,
        )


async def rejection(response: httpx.Response) -> NasRejected:
    """The NAS's error answer as ``NasRejected`` (its ``detail``, or its text), body read small."""
    body = bytearray()
    async for chunk in response.aiter_raw():
        body += chunk
        if len(body) > MAX_ERROR_BODY:
            break
    detail: object = body.decode("utf-8", "replace")
    try:
        parsed = json.loads(body)
    except ValueError:
        parsed = None
    if isinstance(parsed, dict) and "detail" in parsed:
        detail = parsed["detail"]
    return NasRejected(response.status_code, detail)
