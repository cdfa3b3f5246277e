"""The dashboard at ``/``: the built single-page app in ``balupi/web/dist``, with its fallback.

- A path naming a file inside ``dist`` is that file. ``assets/*`` carry a content hash in their
  names and are cached for a year; everything else is revalidated. A browser that accepts gzip
  gets the ``.gz`` twin the build wrote beside each file.
- Any other path that does not look like a file (no extension) is a page of the app:
  ``index.html``. A missing file (``/logo.png``) is a plain 404.
- Nothing outside ``dist`` is ever served. The earlier BaluPi's fallback served ``/etc/hostname``
  on bare Uvicorn: here a path with ``..``, a dot-file, a backslash or a NUL is refused
  before the disk is touched, and whatever remains is resolved (symbolic links included) and must
  still lie inside ``dist``.
- ``/api`` and everything under it is never answered here: the API routers and the pass-through
  own it. This router is included last.
- Without a build, every page is a short note saying how to make one (503); the API works on.
"""

from __future__ import annotations

import mimetypes
from dataclasses import dataclass
from pathlib import Path

import anyio.to_thread
from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, Response

DIST = Path(__file__).resolve().parents[2] / "web" / "dist"

IMMUTABLE = "public, max-age=31536000, immutable"
REVALIDATE = "no-cache"

NOT_BUILT = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>BaluPi: dashboard not built</title>
<meta name="viewport" content="width=device-width, initial-scale=1"></head>
<body style="font-family: system-ui, sans-serif; max-width: 40rem; margin: 3rem auto">
<h1>The BaluPi dashboard is not built yet</h1>
<p>BaluPi serves it from <code>src/balupi/web/dist</code>, which is made from the sources in
<code>web/</code> with Node.js 20 or newer:</p>
<pre>cd web &amp;&amp; npm ci &amp;&amp; npm run build</pre>
<p><code>./scripts/bootstrap</code> (and so <code>./scripts/demo</code>) runs this itself when
<code>npm</code> is installed. The API works without the dashboard:
<a href="/api/health">/api/health</a>.</p>
</body></html>
"""


@dataclass(frozen=True)
class Found:
    """A file to send, and how."""

    path: Path
    media_type: str
    cache_control: str
    gzipped: bool


class NotBuilt:
    """``dist`` holds no ``index.html``."""


def _safe_parts(path: str) -> list[str] | None:
    """The path's segments, or None if any of them could step outside or hide something."""
    if "\\" in path or "\x00" in path:
        return None
    parts = [part for part in path.split("/") if part]
    if any(part.startswith(".") for part in parts):  # "..", ".env", ".git": never
        return None
    return parts


def locate(dist: Path, path: str, accepts_gzip: bool) -> Found | NotBuilt | None:
    """What ``GET /{path}`` sends from ``dist`` (blocking: call it off the event loop)."""
    root = dist.resolve()
    index = root / "index.html"
    if not index.is_file():
        return NotBuilt()
    parts = _safe_parts(path)
    if parts is None:
        return None
    candidate = root.joinpath(*parts).resolve()
    if candidate != root and candidate.is_relative_to(root) and candidate.is_file():
        target = candidate
    elif parts and "." in parts[-1]:
        return None  # a file that is not there: no page of the app has a dot in its name
    else:
        target = index
    media_type, encoding = mimetypes.guess_type(target.name)
    if media_type is None or encoding is not None:  # "x.js.gz" asked for by name: opaque bytes
        media_type = "application/octet-stream"
    immutable = target.parent == root / "assets"
    cache_control = IMMUTABLE if immutable else REVALIDATE
    twin = target.with_name(target.name + ".gz")
    if accepts_gzip and not target.name.endswith(".gz") and twin.is_file():
        return Found(twin, media_type, cache_control, gzipped=True)
    return Found(target, media_type, cache_control, gzipped=False)


def _accepts_gzip(request: Request) -> bool:
    offered = request.headers.get("accept-encoding", "")
    for item in offered.split(","):
        name, _, params = item.strip().partition(";")
        if name.strip().lower() == "gzip":
            return params.replace(" ", "").lower() not in ("q=0", "q=0.0", "q=0.00", "q=0.000")
    return False


def create_router(dist: Path = DIST) -> APIRouter:
    """The dashboard's router, serving the build in ``dist``."""
    router = APIRouter(include_in_schema=False)

    @router.api_route("/{path:path}", methods=["GET", "HEAD"])
    async def dashboard(path: str, request: Request) -> Response:
        if path == "api" or path.startswith("api/"):
            return JSONResponse({"detail": "Not Found"}, status_code=404)
        found = await anyio.to_thread.run_sync(locate, dist, path, _accepts_gzip(request))
        if isinstance(found, NotBuilt):
            return HTMLResponse(NOT_BUILT, status_code=503, headers={"Cache-Control": "no-store"})
        if found is None:
            return JSONResponse({"detail": "Not Found"}, status_code=404)
        headers = {"Cache-Control": found.cache_control, "Vary": "Accept-Encoding"}
        if found.gzipped:
            headers["Content-Encoding"] = "gzip"
        return FileResponse(found.path, media_type=found.media_type, headers=headers)

    return router


router = create_router()
