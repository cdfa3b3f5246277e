"""Pass-through: every ``/api`` request BaluPi does not serve itself goes to the NAS, streamed.

While the ``NasLink`` says the NAS is online, the request (method, path, query string, headers
minus hop-by-hop ones, body) is streamed to it and its answer (status, headers minus hop-by-hop
ones, body) streamed back, chunk by chunk as it arrives: a 500 MB download or upload never sits
in the Pi's 1 GB of RAM. A NAS that does not answer is reported to the link (it checks at once)
and the client gets ``503`` with ``Retry-After``.

While the NAS is not online, nothing at all is sent to it (a request wakes a soft-sleeping NAS
and keeps its disks spinning). The client gets ``503`` + ``Retry-After`` (the seconds a wake
could take), unless ``WakePolicy`` says the request is worth a wake: then the NAS is woken by
Wake-on-LAN (one packet for all callers) and the request waits a short while for it.

Redirects (docs/compat/clients.md §6.3: no ``3xx`` on API routes). The NAS answers a path that only
matches with a trailing slash with ``307`` (docs/compat/nas-api.md §0). For
``GET``/``HEAD``/``OPTIONS`` without a body BaluPi follows such a redirect itself when it points
back at the NAS (what OkHttp would have done), at most ``MAX_REDIRECTS`` times. Any other ``3xx``
(an unsafe method, whose streamed body cannot be sent twice, or a redirect off the NAS) becomes
``404 {"detail": "Not Found"}``, which is what the NAS would say without its redirect. No
conditional headers are forwarded, so the NAS cannot answer ``304`` (it ignores them anyway:
docs/compat/nas-api.md §3.3).

Deletes of the storage root are never forwarded (docs/compat/nas-api.md §3.6, §8): a delete whose
path is empty (``DELETE /api/files?path=x`` reaches the NAS's catch-all as ``""`` after its 307, and
so do ``/api/files/``, ``/api/files/raw/``, ``a/..``, ``%2F`` …) deletes the whole storage for an
admin. Such requests are answered ``400`` before anything is sent.

Without a NAS configured there is nothing to pass through to: ``404``.
"""

from __future__ import annotations

import json
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from fnmatch import fnmatchcase

import httpx

from balupi.db.models import NasState
from balupi.errors import ForwardRefused, NasAsleep, NasUnreachable
from balupi.logs import get_logger
from balupi.services.nas.headers import (
    RESPONSE_ONLY,
    Headers,
    forward_headers,
    strip_hop_by_hop,
)
from balupi.services.nas.link import NasLink
from balupi.services.nas.wake import NasWaker

log = get_logger(__name__)

MAX_REDIRECTS = 3
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
# A JSON delete body is read whole to check its path; anything this large is no such body.
MAX_DELETE_BODY = 64 * 1024

FILES_API = "/api/files"
# POST and DELETE with ``{"path": …}``: docs/compat/nas-api.md §3.6
BODY_DELETE_PATH = "/api/files/delete"


def storage_path(raw: str) -> str:
    """``raw`` as the NAS resolves a storage path: no empty or ``.`` segments, ``..`` applied.

    ``..`` above the root stays at the root, where the NAS would refuse or (for an admin) resolve
    it; for the question "is this the root?" both are the root.
    """
    parts: list[str] = []
    for part in raw.split("/"):
        if part == "..":
            if parts:
                parts.pop()
        elif part not in ("", "."):
            parts.append(part)
    return "/".join(parts)


def path_delete_target(method: str, path: str) -> str | None:
    """The storage path a path-style delete on the NAS removes, or None if ``path`` is none.

    ``path`` is the decoded, dot-normalised path the NAS sees. ``DELETE /api/files`` (with any
    query) is redirected by the NAS to ``/api/files/``, the catch-all with an empty path.
    """
    if method != "DELETE" or path == BODY_DELETE_PATH:
        return None
    if path == FILES_API:
        return ""
    if not path.startswith(FILES_API + "/"):
        return None
    rest = path.removeprefix(FILES_API + "/")
    return rest.removeprefix("raw/") if rest.startswith("raw/") else rest


def body_delete_target(body: bytes) -> str | None:
    """The ``path`` of a JSON delete body, or None when the NAS would refuse the body anyway."""
    try:
        parsed = json.loads(body)
    except ValueError:
        return None
    value = parsed.get("path") if isinstance(parsed, dict) else None
    return value if isinstance(value, str) else None


@dataclass(frozen=True)
class RoutePattern:
    """Requests by method and path; ``glob`` is an ``fnmatch`` pattern (``*`` crosses ``/``)."""

    glob: str
    methods: frozenset[str] = frozenset({"GET"})

    def matches(self, method: str, path: str) -> bool:
        return method in self.methods and fnmatchcase(path, self.glob)


def _post(glob: str) -> RoutePattern:
    return RoutePattern(glob, frozenset({"POST"}))


# Requests clients make on their own, on a timer or on start-up, that must not wake the NAS: the
# NAS's own auto-wake whitelist (docs/compat/nas-api.md §1) plus the polls that
# docs/compat/clients.md §1 and §2 list. Asking a sleeping NAS for its CPU load or sleep state only
# to report "awake" would be silly.
BACKGROUND_REQUESTS: tuple[RoutePattern, ...] = (
    RoutePattern("/api/system/*"),  # info every 30 s (BaluApp), raid, smart, sleep status …
    _post("/api/system/sleep/presence"),  # excluded from auto-wake on the NAS too
    _post("/api/system/sleep/soft"),  # never wake the NAS only to put it to sleep
    _post("/api/system/sleep/suspend"),
    RoutePattern("/api/power/status"),
    RoutePattern("/api/monitoring/*"),  # every 10 s (BaluDesk dashboard)
    RoutePattern("/api/admin/services"),  # every 30 s (BaluDesk)
    RoutePattern("/api/sync/preflight"),  # before every scheduled sync (BaluApp)
    RoutePattern("/api/sync/changes", frozenset({"GET", "POST"})),  # every 30 s (BaluDesk)
    RoutePattern("/api/notifications*"),
    _post("/api/notifications/ws-token"),  # on every app start (BaluApp)
    RoutePattern("/api/activity*"),
    _post("/api/activity/report"),  # batched flushes (BaluApp)
    RoutePattern("/api/mobile/power-summary"),
    _post("/api/mobile/devices/*/push-token"),  # on every app start (BaluApp)
    RoutePattern("/api/smart-devices/power/summary"),  # every 10 s (BaluDesk)
    RoutePattern("/api/shares/statistics"),
)


# True when the Pi itself knows the ``Authorization`` header's credentials to be invalid.
CredentialCheck = Callable[[str], Awaitable[bool]]


@dataclass(frozen=True)
class WakePolicy:
    """Which requests that meet a sleeping NAS may wake it, and how long they wait for it.

    A request wakes the NAS when it carries credentials (``Authorization``), is no background
    poll and is not an automatic sync (``X-Sync-Trigger: auto|scheduled``): a person is waiting
    for it. Anonymous requests never wake it (anyone on the LAN could keep it awake).
    """

    enabled: bool = True
    wait_seconds: float = 20.0  # a quick resume finishes in this time; longer boots get a 503
    background: tuple[RoutePattern, ...] = BACKGROUND_REQUESTS
    background_triggers: frozenset[str] = frozenset({"auto", "scheduled"})

    def refusal(self, request: ForwardRequest) -> str | None:
        """Why ``request`` may not wake the NAS, or None when it may."""
        if not self.enabled:
            return "waking on requests is turned off"
        trigger = (request.header("x-sync-trigger") or "").strip().lower()
        if trigger in self.background_triggers:
            return f"an automatic sync ({trigger})"
        path = request.path.rstrip("/") or "/"
        if any(pattern.matches(request.method, path) for pattern in self.background):
            return "a background request"
        if not (request.header("authorization") or "").strip():
            return "a request without credentials"
        return None


@dataclass(frozen=True)
class ForwardRequest:
    """A client's request, as the pass-through needs it.

    ``target`` is the path and query string exactly as the client sent them (percent-encoding
    kept, so ``%2F`` stays ``%2F``); ``path`` is derived: the decoded, dot-normalised path the NAS
    will route on, which is what the policy and the delete guard look at.
    """

    method: str
    target: str
    headers: Headers
    scheme: str = "http"
    client: str | None = None
    body: AsyncIterator[bytes] | None = None  # None: the request has no body
    path: str = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "path", httpx.URL(self.target).path)

    def header(self, name: str) -> str | None:
        """The first value of header ``name`` (lower case), or None."""
        return next((v for k, v in self.headers if k.lower() == name), None)


FailureReporter = Callable[[str], Awaitable[None]]


class NasStream:
    """The NAS's answer to a forwarded request: status and headers now, the body as it arrives.

    Its owner must call ``aclose`` however the body ends (read to the end, client gone, error);
    that releases the NAS connection.
    """

    def __init__(
        self, response: httpx.Response, resources: AsyncExitStack, on_failure: FailureReporter
    ) -> None:
        self._response = response
        self._resources = resources
        self._on_failure = on_failure
        self.status_code = response.status_code
        decoded = [
            (k.decode("latin-1").lower(), v.decode("latin-1")) for k, v in response.headers.raw
        ]
        self.headers = strip_hop_by_hop(decoded, RESPONSE_ONLY)

    @property
    def location(self) -> httpx.URL | None:
        """Where a redirect points, resolved against the request's URL."""
        value = self._response.headers.get("location")
        return self._response.request.url.join(value) if value else None

    async def body(self) -> AsyncGenerator[bytes, None]:
        """The body's bytes as the NAS sends them (still content-encoded, as ``Content-Length``
        and ``Content-Encoding`` describe them)."""
        try:
            async for chunk in self._response.aiter_raw():
                yield chunk
        except httpx.HTTPError as exc:
            # Re-raised so the server drops the connection: a truncated body must not look whole.
            await self._on_failure(f"NAS stream broke: {type(exc).__name__}")
            raise

    async def aclose(self) -> None:
        await self._resources.aclose()


class NasPassThrough:
    """Forwards requests to the NAS while it is online; otherwise 503, and a wake if allowed."""

    def __init__(
        self,
        link: NasLink,
        waker: NasWaker,
        policy: WakePolicy,
        *,
        credentials_rejected: CredentialCheck | None = None,
    ) -> None:
        self._link = link
        self._waker = waker
        self._policy = policy
        self._credentials_rejected = credentials_rejected

    async def open(self, request: ForwardRequest) -> NasStream:
        """Send ``request`` to the NAS and return its answer, whose body is still to be read.

        Raises ``NasAsleep`` / ``NasUnreachable`` (503 + Retry-After) and ``ForwardRefused``
        (404 without a NAS configured: a 503 there would promise a retry that never succeeds).
        """
        if not self._link.configured:
            raise ForwardRefused(404, "Not Found")
        content = await self._guard_delete(request)
        await self._ensure_online(request)
        headers = forward_headers(request.headers, client=request.client, scheme=request.scheme)
        target: str | httpx.URL = request.target
        for _ in range(MAX_REDIRECTS + 1):
            stream = await self._send(request.method, target, headers, content)
            if stream.status_code // 100 != 3:
                return stream
            follow = self._redirect_to_follow(request, stream)
            await stream.aclose()
            if follow is None:
                break
            target = follow
        log.info("nas redirect not passed on", method=request.method, path=request.path)
        raise ForwardRefused(404, "Not Found")

    async def _guard_delete(self, request: ForwardRequest) -> bytes | AsyncIterator[bytes] | None:
        """Refuse a delete of the storage root; the body to forward (read whole only for the
        small JSON bodies of ``/api/files/delete``)."""
        target = path_delete_target(request.method, request.path)
        body: bytes | AsyncIterator[bytes] | None = request.body
        if (
            request.path == BODY_DELETE_PATH
            and request.method in ("POST", "DELETE")
            and request.body is not None
        ):
            body = await _read_limited(request.body, MAX_DELETE_BODY)
            target = body_delete_target(body)
        if target is not None and not storage_path(target):
            log.warning("empty delete path refused", method=request.method, path=request.path)
            raise ForwardRefused(
                400,
                "A delete without a path is not forwarded: on the NAS it deletes the whole "
                "storage. Name the file or folder, e.g. DELETE /api/files/{path}.",
            )
        return body

    async def _ensure_online(self, request: ForwardRequest) -> None:
        if self._link.state is NasState.ONLINE:
            return
        refusal = self._policy.refusal(request)
        # A forged or expired token must not be able to keep the NAS awake.
        if (
            refusal is None
            and self._credentials_rejected is not None
            and await self._credentials_rejected(request.header("authorization") or "")
        ):
            refusal = "credentials the Pi rejects"
        if refusal is not None:
            raise NasAsleep(
                f"The NAS is {self._link.state.value}; not woken for {refusal}",
                retry_after=self._waker.retry_after(),
            )
        await self._waker.ensure_available(
            reason=f"{request.method} {request.path}", timeout=self._policy.wait_seconds
        )

    async def _send(
        self,
        method: str,
        target: str | httpx.URL,
        headers: Headers,
        content: bytes | AsyncIterator[bytes] | None,
    ) -> NasStream:
        resources = AsyncExitStack()
        try:
            response = await resources.enter_async_context(
                self._link.client.stream(method, str(target), headers=headers, content=content)
            )
        except NasUnreachable as exc:
            # A full connection pool is the Pi's own congestion, not news about the NAS.
            if not isinstance(exc.__cause__, httpx.PoolTimeout):
                await self._link.report_unreachable(str(exc))
            raise NasUnreachable(str(exc), retry_after=self._waker.retry_after()) from exc
        return NasStream(response, resources, self._link.report_unreachable)

    def _redirect_to_follow(self, request: ForwardRequest, stream: NasStream) -> httpx.URL | None:
        """The URL to follow ``stream``'s redirect to, or None when BaluPi must not."""
        location = stream.location
        if (
            request.method not in SAFE_METHODS
            or request.body is not None
            or stream.status_code not in REDIRECT_STATUSES
            or location is None
        ):
            return None
        nas = httpx.URL(self._link.client.base_url)
        same_origin = (location.scheme, location.host, location.port) == (
            nas.scheme,
            nas.host,
            nas.port,
        )
        return location if same_origin else None


async def _read_limited(body: AsyncIterator[bytes], limit: int) -> bytes:
    data = bytearray()
    async for chunk in body:
        data += chunk
        if len(data) > limit:
            raise ForwardRefused(413, f"A delete request's body is limited to {limit} bytes")
    return bytes(data)
