"""The authorization matrix: every route × {no token, owner, other user, admin} × {awake, asleep}.

The routes come from the app's own route table (``_routes.route_table``), never from a list kept
here. bob owns the data (a conflict, a failing queue entry, a phone's folder config, a pin, upload
sessions, files in his home); alice is the other user. Expected, cell by cell:

* no token: 401 everywhere but the public routes, and the public set is exactly ``PUBLIC``;
* a user on an administrator's route: 403;
* alice never reads or changes bob's data: what names bob's objects answers 403/404 (a write
  is never a 2xx), and what lists things never shows them to her;
* the admin is never refused, and sees whatever bob sees of his own;
* never a 5xx, except 503 while the NAS sleeps (the clients' "try later",
  docs/compat/clients.md §6).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from pydantic import SecretStr

from balupi.app import create_app
from balupi.config import Settings
from balupi.db.models import NasState, QueueOperation, QueueStatus, UploadQueueEntry
from tests.standing._routes import Access, Request, Route, Targets, build_request, route_table
from tests.uploads import conftest as uploads
from tests.uploads.conftest import Home, eventually

pytestmark = pytest.mark.slow  # some 400 requests against a real NAS emulator and BaluPi

home = uploads.home  # the uploads suite's home: the NAS emulator (asleep) and a served BaluPi

OWNER, OTHER = "bob", "alice"
IDENTITIES = (None, OTHER, OWNER, "admin")
OWNER_MARK = "bob/"  # every one of bob's objects lives under his home
STANDBY_WATTS = 3.0

# Routes anyone may call. Everything else must answer 401 without a token.
PUBLIC = {
    "GET /api/ping",
    "GET /api/health",
    "POST /api/handshake/nas-coming-online",  # signed by the NAS, checked by the handler
    "POST /api/handshake/nas-going-offline",
    "POST /api/auth/login",
    "POST /api/auth/refresh",  # carries its refresh token in the body
    # judges its own bearer token: 2xx or 401 only (docs/compat/clients.md §6.3)
    "GET /api/auth/me",
    "POST /api/auth/logout",
    "OPTIONS /api/files/tus",  # tus discovery
    "GET /api/openapi.json",  # development builds only
    "GET /api/docs",
    "GET /docs/oauth2-redirect",
    "GET /{path:path}",  # the dashboard's static files
}
# The pass-through serves every other /api path: no dependency of its own, it asks the Pi's auth
# before forwarding. Without a token it never answers 2xx: the NAS's 401 (or its 404/405 for what
# it does not serve) awake, 503 asleep (absent routes never 401: docs/compat/clients.md §6.1).
PASS_THROUGH = ("/api/{path:path}", "/api")
# Pins are per file: alice may pin (and unpin her own pin of) a shared file bob pinned too. What
# must hold is that bob's pin survives her: checked by ``_bobs_view``, not by her status codes.
OWN_ACTIONS = {"PUT /api/cache/pins", "DELETE /api/cache/pins"}
# An upload session belongs to the client that opened it: nobody else, the admin included, reads
# or continues it (the session id is the client's; the admin sees the queued files instead).
SESSIONS = ("/api/files/upload/chunked/", "/api/files/tus/")
# A 5xx that is the designed answer, not a fault: the plug named at 127.0.0.1:9 does not answer.
GATEWAY = {("POST /api/tapo/devices", 502)}
HANDSHAKE_SECRET = "the-standing-suite-handshake-secret-0123456789"


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """Nothing the matrix sends may wake the NAS by itself, or look beyond the loopback."""
    return settings.model_copy(
        update={
            "wake_on_request": False,
            "tapo_discovery_target": "127.0.0.1",
            "nas_handshake_secret": SecretStr(HANDSHAKE_SECRET),
        }
    )


@dataclass
class Cell:
    route: Route
    identity: str | None
    state: str
    request: Request
    response: httpx.Response

    def __str__(self) -> str:
        return (
            f"{self.state:6} {self.identity or 'no token':8} {self.request.method} "
            f"{self.request.url} → {self.response.status_code} {self.response.text[:120]!r}"
        )


def _public(route: Route) -> bool:
    return str(route) in PUBLIC or (route.method == "HEAD" and f"GET {route.path}" in PUBLIC)


def _passes_through(route: Route) -> bool:
    return route.path in PASS_THROUGH


def test_the_public_routes_are_exactly_the_known_ones(settings: Settings) -> None:
    app = create_app(settings)
    derived = {
        str(r) for r in route_table(app) if r.access is Access.PUBLIC and not _passes_through(r)
    }
    assert derived == PUBLIC


async def _seed(home: Home) -> tuple[Targets, Targets]:
    """bob's data, as the clients make it; returns bob's objects and harmless decoys."""
    bob, admin = home.token(OWNER), home.token("admin")
    async with home.pi() as pi:
        # Asleep: folder policy ``ask`` on bob/, bob's phone uploads, the NAS's copy changes.
        answer = await pi.put(
            "/api/sync/policies", headers=admin, json={"folder": "bob", "policy": "ask"}
        )
        assert answer.status_code == 200, answer.text
        answer = await pi.post(
            "/api/files/upload",
            headers=bob,
            data={"path": "bob/secret.txt"},
            files={"file": ("secret.txt", b"bob's phone version")},
        )
        assert answer.status_code == 200, answer.text
    on_nas = home.nas.config.storage / "bob" / "secret.txt"
    on_nas.parent.mkdir(parents=True, exist_ok=True)
    on_nas.write_bytes(b"bob's NAS version")
    await home.wake()
    await home.settled()

    async with home.direct() as nas:
        for who, path in ((bob, "bob/private/notes.md"), (admin, "Shared/pick.txt")):
            answer = await nas.post(
                "/api/files/upload",
                headers=who,
                data={"path": path},
                files={"file": (path.rpartition("/")[2], b"content of " + path.encode())},
            )
            assert answer.status_code == 200, answer.text
        answer = await nas.post(
            "/api/mobile/sync/folders/bobphone",
            headers=bob,
            json={"local_path": "/DCIM/Camera", "remote_path": "bob/Camera"},
        )
        assert answer.status_code == 200, answer.text
        folder_id = answer.json()["id"]

    async with home.pi() as pi:
        answer = await pi.get("/api/mobile/sync/folders/bobphone", headers=bob)  # remembered
        assert answer.status_code == 200, answer.text
        answer = await pi.put("/api/cache/pins", headers=bob, params={"path": "Shared/pick.txt"})
        assert answer.status_code == 200, answer.text
        answer = await pi.get("/api/sync/conflicts", headers=bob)
        [conflict] = answer.json()["conflicts"]
        answer = await pi.post(
            "/api/files/upload/chunked/init",
            headers=bob,
            json={"filename": "big.bin", "total_size": 10, "target_path": "bob"},
        )
        assert answer.status_code == 200, answer.text
        chunked_id = answer.json()["upload_id"]
        tus = build_request(
            Route("POST", "/api/files/tus", Access.USER),
            Targets("", "", "", 0, "", "", "", "", "bob/clip.mov", 0),
        )
        answer = await pi.post(tus.url, headers={**bob, **tus.headers})
        assert answer.status_code == 201, answer.text
        tus_id = answer.headers["Location"].rpartition("/")[2]

    async with home.services.sessions() as session, session.begin():
        refused = UploadQueueEntry(  # a change the NAS refused for good: shown in sync status
            operation=QueueOperation.MKDIR,
            status=QueueStatus.REJECTED,
            owner_id="3",
            target_path="bob/refused",
            attempts=1,
            last_error="The NAS refused bob/refused",
            next_attempt_at=datetime.now(UTC) + timedelta(days=1),
        )
        session.add(refused)
        await session.flush()
        parked_id = refused.id
    owned = Targets(
        file="bob/private/notes.md",
        folder="bob/private",
        pinned="Shared/pick.txt",
        conflict_id=int(conflict["id"]),
        device="bobphone",
        mobile_folder_id=folder_id,
        chunked_id=chunked_id,
        tus_id=tus_id,
        upload_into="bob/from-another.txt",
        parked_id=parked_id,
    )
    decoys = Targets(
        file="bob/decoy/none.txt",
        folder="bob/decoy",
        pinned="Shared/decoy.txt",
        conflict_id=10**6,
        device="bobphone",
        mobile_folder_id="no-such-folder",
        chunked_id="no-such-upload",
        tus_id="no-such-upload",
        upload_into="bob/decoy/matrix.txt",
        parked_id=10**6,
    )
    return owned, decoys


def _targets(route: Route, identity: str | None, owned: Targets, decoys: Targets) -> Targets:
    """bob and the admin write only to decoys (so the matrix does not undo its own data);
    reads, and everything alice or nobody sends, name bob's real objects."""
    if identity in (OWNER, "admin") and not route.safe:
        return decoys
    return owned


def _names_owner(route: Route, owned: Targets) -> bool:
    """Whether a request for ``route`` names one of bob's objects (not just a collection)."""
    neutral = Targets(
        "alice/x.txt", "alice", "alice/x.txt", 1, "alicephone", "a", "a", "a", "a/b", 1
    )
    return build_request(route, owned) != build_request(route, neutral)


async def _send(
    client: httpx.AsyncClient, request: Request, identity: str | None, home: Home
) -> httpx.Response:
    headers = {**(home.token(identity) if identity else {}), **request.headers}
    return await client.request(
        request.method,
        request.url,
        params=request.params,
        json=request.json,
        headers=headers,
        files=request.files,
        data=request.data,
        content=request.content,
    )


def _judge(cell: Cell, owned: Targets, owner_saw: dict[str, bool]) -> str | None:
    """What is wrong with one cell, or None."""
    route, who, status = cell.route, cell.identity, cell.response.status_code
    ok = 200 <= status < 300
    shows_owner = ok and OWNER_MARK in cell.response.text
    expected_5xx = (str(route), status) in GATEWAY or (status == 503 and cell.state == "asleep")
    if status >= 500 and not expected_5xx:
        return "a 5xx"
    if _public(route):
        return None
    if _passes_through(route):
        return "2xx without a token" if who is None and ok else None
    if who is None:
        return None if status == 401 else "not 401 without a token"
    if status == 401:
        return "401 for a valid token"
    if route.access is Access.ADMIN and who != "admin":
        return None if status == 403 else "an administrator's route not 403 for a user"
    if who == OTHER:
        names_owner = _names_owner(route, owned) and str(route) not in OWN_ACTIONS
        if shows_owner:
            return "the owner's data shown to another user"
        if names_owner and ok and route.method != "OPTIONS":
            return "another user read or changed the owner's object"
        return None
    if who == OWNER and route.safe:
        owner_saw[f"{cell.state} {route}"] = shows_owner
    if who == "admin" and not route.path.startswith(SESSIONS):
        if status == 403:
            return "403 for the admin"
        if owner_saw.get(f"{cell.state} {route}") and not shows_owner:
            return "the admin does not see what the owner sees"
    return None


async def _bobs_view(home: Home, owned: Targets) -> dict[str, object]:
    """What bob sees of his own data: another user's requests must leave it as it was."""
    bob = home.token(OWNER)
    async with home.pi() as pi:
        pins = (await pi.get("/api/cache/pins", headers=bob)).json()["pins"]
        conflicts = (await pi.get("/api/sync/conflicts", headers=bob)).json()["conflicts"]
        folders = await pi.get(f"/api/mobile/sync/folders/{owned.device}", headers=bob)
        chunked = await pi.get(f"/api/files/upload/chunked/{owned.chunked_id}", headers=bob)
        tus = await pi.head(
            f"/api/files/tus/{owned.tus_id}", headers={**bob, "Tus-Resumable": "1.0.0"}
        )
    async with home.services.sessions() as session:
        refused = await session.get(UploadQueueEntry, owned.parked_id)
    return {
        "refused change": refused.status if refused else None,
        "pinned": sorted(p["path"] for p in pins if p["pinned"]),
        "conflicts": {c["id"]: c["status"] for c in conflicts},
        "mobile folders": folders.json() if folders.status_code == 200 else folders.status_code,
        "chunked session": chunked.status_code,
        "tus session": tus.status_code,
        "file on the NAS": (home.nas.config.storage / owned.file).exists(),
    }


async def _phase(
    home: Home, state: str, routes: list[Route], owned: Targets, decoys: Targets
) -> tuple[int, list[str]]:
    """Every route × identity in one NAS state; the wake button last (it would wake the NAS)."""
    order = sorted(routes, key=lambda r: (not r.safe, r.path == "/api/nas/wol"))
    failures: list[str] = []
    owner_saw: dict[str, bool] = {}
    cells = 0
    before = await _bobs_view(home, owned)
    async with home.pi() as client:
        for route in order:
            for identity in IDENTITIES:
                request = build_request(route, _targets(route, identity, owned, decoys))
                response = await _send(client, request, identity, home)
                cell = Cell(route, identity, state, request, response)
                cells += 1
                problem = _judge(cell, owned, owner_saw)
                if problem:
                    failures.append(f"{problem}: {cell}")
    after = await _bobs_view(home, owned)
    failures += [
        f"{state}: bob's {what} changed under the others' requests: {before[what]} → {after[what]}"
        for what in before
        if before[what] != after[what]
    ]
    return cells, failures


async def test_every_route_for_every_identity_awake_and_asleep(home: Home) -> None:
    owned, decoys = await _seed(home)
    routes = route_table(create_app(home.services.settings))  # the served app's twin
    awake_cells, awake_failures = await _phase(home, "awake", routes, owned, decoys)

    await home.nas.sleep()
    await home.services.nas_link.report_power(STANDBY_WATTS)
    await eventually(lambda: home.services.nas_link.state is NasState.SLEEPING)
    async with home.pi() as pi:  # bob pins again what the awake phase may have taken from him
        answer = await pi.put(
            "/api/cache/pins", headers=home.token(OWNER), params={"path": owned.pinned}
        )
        assert answer.status_code == 200, answer.text
    asleep_cells, asleep_failures = await _phase(home, "asleep", routes, owned, decoys)

    cells = awake_cells + asleep_cells
    print(
        f"authorization matrix: {len(routes)} routes × {len(IDENTITIES)} identities × 2 states"
        f" = {cells} cells, {len(awake_failures) + len(asleep_failures)} failing"
    )
    failures = awake_failures + asleep_failures
    assert not failures, "\n".join(failures)


async def test_a_rename_of_a_missing_file_is_not_a_500(home: Home) -> None:
    await home.wake()
    async with home.pi() as pi:
        renamed = await pi.put(
            "/api/files/rename",
            headers=home.token("admin"),
            json={"path": "bob/not-there.txt", "new_name": "still-not-there.txt"},
        )
        moved = await pi.put(
            "/api/files/move",
            headers=home.token("admin"),
            json={"source_path": "bob/not-there.txt", "target_path": "bob/elsewhere.txt"},
        )
    assert renamed.status_code < 500, renamed.text
    assert moved.status_code < 500, moved.text
