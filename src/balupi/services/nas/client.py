"""``NasClient``: the one HTTP connection pool from the Pi to the NAS.

It owns a single ``httpx.AsyncClient`` with BaluPi's own limits and timeouts (an earlier BaluPi
built a client per call). It knows nothing of the NAS's power state: callers ask the ``NasLink``
first, because a request to a sleeping NAS wakes its disks. Transport failures become
``NasUnreachable``, also while a streamed body is read inside ``stream``: callers catch
``NasError`` and nothing from httpx. HTTP answers, errors included, are returned as they are, for
the caller to pass on or interpret.

It is a ``Lifecycle`` like every service that holds a socket: ``async with`` starts it, a second
start is refused, and ``aclose()`` (which releases the pool) may be repeated.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from typing import Any

import httpcore
import httpx
from httpx._types import QueryParamTypes

from balupi.errors import NasUnreachable
from balupi.lifecycle import Lifecycle

DEFAULT_TIMEOUT = httpx.Timeout(connect=3.0, read=60.0, write=60.0, pool=10.0)
HEALTH_TIMEOUT = httpx.Timeout(3.0)
LIMITS = httpx.Limits(max_connections=32, max_keepalive_connections=8, keepalive_expiry=30)

RequestContent = bytes | AsyncIterator[bytes] | None

# httpcore receives an HTTP/1.1 body in reads of ``READ_NUM_BYTES`` (64 KiB), each a trip
# through httpcore, anyio and h11 on the event loop: a 1 GiB cache miss made 16,384 of them, a
# third of the loop's time under py-spy. Reads of up to 256 KiB saved about a second of CPU per
# GiB (docs/performance.md). It is httpcore's class-level setting, so it holds for every httpx
# client in the process; each read's buffer is freed as soon as its bytes are passed on.
httpcore.AsyncHTTP11Connection.READ_NUM_BYTES = 256 * 1024


class NasClient(Lifecycle):
    """HTTP access to the NAS at ``base_url``. Use as an async context manager.

    The pool is built with the client (it opens no connection before the first request), so
    ``base_url`` is known before the start; closing releases its connections.
    """

    def __init__(
        self,
        base_url: str,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        timeout: httpx.Timeout = DEFAULT_TIMEOUT,
    ) -> None:
        self._client = httpx.AsyncClient(
            base_url=base_url,
            timeout=timeout,
            limits=LIMITS,
            transport=transport,
            follow_redirects=False,  # a redirect is passed on or refused, never followed blindly
            headers={"User-Agent": "BaluPi"},
        )

    @property
    def base_url(self) -> str:
        return str(self._client.base_url).rstrip("/")

    async def aclose(self) -> None:
        await super().aclose()
        # The pool is built with the client, so it goes even if the client never started
        # (httpx's aclose may repeat).
        await self._client.aclose()

    async def health(self) -> dict[str, Any]:
        """``GET /api/health``; the parsed body, or ``NasUnreachable`` for any failure."""
        try:
            response = await self._client.get("/api/health", timeout=HEALTH_TIMEOUT)
        except httpx.HTTPError as exc:
            raise NasUnreachable(f"NAS health check failed: {_why(exc)}") from exc
        if response.status_code != 200:
            raise NasUnreachable(f"NAS health check answered {response.status_code}")
        try:
            body: dict[str, Any] = response.json()
        except ValueError as exc:
            raise NasUnreachable("NAS health check answered no JSON") from exc
        return body

    async def request(
        self,
        method: str,
        path: str,
        *,
        headers: Mapping[str, str] | None = None,
        params: QueryParamTypes | None = None,
        json: Any = None,
        content: bytes | None = None,
        timeout: httpx.Timeout | None = None,
    ) -> httpx.Response:
        """A buffered request for small JSON answers (login, listings, ``/auth/me``)."""
        try:
            return await self._client.request(
                method,
                path,
                headers=headers,
                params=params,
                json=json,
                content=content,
                timeout=timeout if timeout is not None else self._client.timeout,
            )
        except httpx.HTTPError as exc:
            raise NasUnreachable(f"NAS request failed: {_why(exc)}") from exc

    @asynccontextmanager
    async def stream(
        self,
        method: str,
        path: str,
        *,
        headers: Mapping[str, str] | list[tuple[str, str]] | None = None,
        params: QueryParamTypes | None = None,
        content: RequestContent = None,
    ) -> AsyncIterator[httpx.Response]:
        """A streamed request: the response's body is read by the caller, then released.

        A transport failure before the response starts, or while its body is read within the
        ``async with`` block, is ``NasUnreachable`` (a reader that catches httpx's own errors
        first still sees them).
        """
        request = self._client.build_request(
            method, path, headers=headers, params=params, content=content
        )
        try:
            response = await self._client.send(request, stream=True)
        except httpx.HTTPError as exc:
            raise NasUnreachable(f"NAS request failed: {_why(exc)}") from exc
        try:
            yield response
        except httpx.HTTPError as exc:
            raise NasUnreachable(f"NAS stream broke: {_why(exc)}") from exc
        finally:
            await response.aclose()


def _why(exc: httpx.HTTPError) -> str:
    """Why a request to the NAS failed, in words for a status page (not an exception's name)."""
    if isinstance(exc, httpx.TimeoutException):
        return "no answer in time"
    if isinstance(exc, httpx.ConnectError):
        return "no connection"
    if isinstance(exc, httpx.RemoteProtocolError | httpx.ReadError | httpx.WriteError):
        return "the connection broke"
    return "the request could not be sent"
