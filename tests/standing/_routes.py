"""BaluPi's route table as the authorization matrix sees it, read from the app itself.

Every route comes from ``app.routes`` (FastAPI's ``iter_route_contexts`` flattens the included
routers), so a route added tomorrow is in the matrix tomorrow. Who may call a route is read from
its dependency tree: a route that does not depend on ``get_current_user`` is public, one that
depends on ``get_admin_user`` is for administrators.
"""

from __future__ import annotations

import base64
import enum
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.routing import iter_route_contexts

from balupi.api.deps import get_admin_user, get_current_user

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


class Access(enum.Enum):
    PUBLIC = "public"
    USER = "user"
    ADMIN = "admin"


@dataclass(frozen=True)
class Route:
    method: str
    path: str  # the template, e.g. ``/api/sync/conflicts/{conflict_id}/resolve``
    access: Access
    required_query: tuple[str, ...] = ()

    @property
    def safe(self) -> bool:
        return self.method in SAFE_METHODS

    def __str__(self) -> str:
        return f"{self.method} {self.path}"


def _calls(dependant: Dependant) -> Iterator[object]:
    for sub in dependant.dependencies:
        yield sub.call
        yield from _calls(sub)


def route_table(app: FastAPI) -> list[Route]:
    """One ``Route`` per method and path BaluPi serves (HEAD only where it is declared alone)."""
    routes: list[Route] = []
    for context in iter_route_contexts(app.routes):
        path = context.path
        methods = context.methods or set()
        dependant: Dependant | None = getattr(context, "dependant", None)
        if path is None:
            continue
        access = Access.PUBLIC
        required: tuple[str, ...] = ()
        if dependant is not None:
            calls = set(_calls(dependant))
            if get_admin_user in calls:
                access = Access.ADMIN
            elif get_current_user in calls:
                access = Access.USER
            required = tuple(p.name for p in dependant.query_params if p.field_info.is_required())
        for method in sorted(methods):
            if method == "HEAD" and "GET" in methods:
                continue  # Starlette's implicit HEAD of a GET route: the GET stands for both
            routes.append(Route(method, path, access, required))
    return routes


@dataclass(frozen=True)
class Targets:
    """What a request names: the owner's objects, or decoys that change nothing of theirs."""

    file: str
    folder: str
    pinned: str
    conflict_id: int
    device: str
    mobile_folder_id: str
    chunked_id: str
    tus_id: str
    upload_into: str
    parked_id: int


@dataclass
class Request:
    method: str
    url: str
    params: dict[str, str] = field(default_factory=dict)
    json: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    files: dict[str, tuple[str, bytes]] | None = None
    data: dict[str, str] | None = None
    content: bytes | None = None


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def _path_value(route: Route, name: str, t: Targets) -> str:
    """The value of a path parameter, by its name and the family of routes it belongs to."""
    p = route.path
    values: dict[str, str] = {
        "path": t.file,
        "conflict_id": str(t.conflict_id),
        "folder_id": t.mobile_folder_id,
        "tariff_id": "1",
        "entry_id": str(t.parked_id),
    }
    if p == "/api/{path:path}":
        return "system/info"  # a NAS route BaluPi does not serve itself: the pass-through's
    if p == "/{path:path}":
        return ""  # the dashboard's index
    if name == "device_id":
        return t.device if p.startswith("/api/mobile/") else "1"
    if name == "upload_id":
        return t.tus_id if "/tus/" in p else t.chunked_id
    if name not in values:
        raise AssertionError(f"{route}: no value for the path parameter {name!r}; add one here")
    return values[name]


def _query_value(route: Route, name: str, t: Targets) -> str:
    if name == "path":
        if route.path.startswith("/api/cache/"):
            return t.pinned
        return t.folder if route.path.endswith("/list") else t.file
    if name == "chunk_index":
        return "0"
    raise AssertionError(f"{route}: no value for the query parameter {name!r}; add one here")


def build_request(route: Route, t: Targets) -> Request:
    """A well-formed request for ``route`` that names the objects in ``t``.

    Bodies are the clients' (nas-api and the BaluApp/BaluDesk contract); a route this does not
    know gets an empty JSON object, which still has to be judged before it is parsed (401/403)
    and must never be a 5xx.
    """
    url = route.path
    while "{" in url:
        start, end = url.index("{"), url.index("}")
        name = url[start + 1 : end].split(":")[0]
        url = url[:start] + _path_value(route, name, t) + url[end + 1 :]
    request = Request(route.method, url)
    query = set(route.required_query)
    if route.path in ("/api/files/list", "/api/files/download") or (
        route.path in ("/api/files", "/api/files/") and route.method == "DELETE"
    ):
        query.add("path")
    request.params = {name: _query_value(route, name, t) for name in sorted(query)}
    request.json = _body(route, t)
    tus = {"Tus-Resumable": "1.0.0"}
    if route.path == "/api/files/upload":
        request.json = None
        request.data = {"path": t.upload_into}
        request.files = {"file": ("matrix.txt", b"written by the authorization matrix")}
    elif route.path == "/api/files/tus" and route.method == "POST":
        request.json = None
        folder, _, name = t.upload_into.rpartition("/")
        request.headers = {
            **tus,
            "Upload-Length": "1",
            "Upload-Metadata": f"filename {_b64(name)},path {_b64(folder)}",
        }
    elif route.path.startswith("/api/files/tus/"):
        request.json = None
        request.headers = dict(tus)
        if route.method == "PATCH":
            request.headers.update(
                {"Upload-Offset": "0", "Content-Type": "application/offset+octet-stream"}
            )
            request.content = b"x"
    elif route.path.endswith("/chunk"):
        request.json = None
        request.content = b"x"
    return request


def _body(route: Route, t: Targets) -> Any:
    if route.safe or (route.method == "DELETE" and route.path != "/api/files/delete"):
        return None
    bodies: dict[str, Any] = {
        "/api/files/delete": {"path": t.file},
        "/api/files/folder": {"path": t.folder, "name": "made-by-matrix"},
        "/api/files/mkdir": {"path": f"{t.folder}/made-by-matrix"},
        "/api/files/rename": {"path": t.file, "new_name": "renamed-by-matrix.md"},
        "/api/files/move": {"source_path": t.file, "target_path": f"{t.folder}/moved.md"},
        "/api/files/upload/chunked/init": {
            "filename": "matrix.bin",
            "total_size": 1,
            "target_path": t.upload_into.rpartition("/")[0],
        },
        "/api/sync/conflicts/{conflict_id}/resolve": {"resolution": "keep_server"},
        "/api/mobile/sync/folders/{folder_id}": {"status": "idle"},
        "/api/sync/register-desktop": {"device_id": "matrix-desk", "device_name": "matrix"},
        "/api/sync/report-folders": {"device_id": "matrix-desk", "folders": []},
        "/api/sync/policies": {"folder": "bob", "policy": "ask"},
        "/api/energy/tariffs": {
            "name": "matrix",
            "price_per_kwh": "0.30",
            "valid_from": "2026-01-01",
        },
        "/api/energy/tariffs/{tariff_id}": {
            "name": "matrix",
            "price_per_kwh": "0.31",
            "valid_from": "2026-01-01",
        },
        "/api/tapo/devices": {"host": "127.0.0.1", "port": 9},
        "/api/tapo/devices/{device_id}": {"name": "matrix"},
        "/api/tapo/devices/{device_id}/toggle": {"on": False},
        "/api/tapo/devices/discover": {"target": "127.0.0.1", "timeout_s": 1},
    }
    return bodies.get(route.path, {})
