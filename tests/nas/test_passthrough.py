"""The pass-through: BaluPi in front of a NAS, over real HTTP on loopback.

BaluPi serves most of the NAS's file routes itself, so these tests use paths it passes on: the
NAS emulator's ``/api/system/*``, ``/api/mobile/token/generate`` and ``/api/api-keys``; an echo
NAS (in-process, its answers chosen by the test) for methods, headers, bodies, redirects and
disconnects; the guard against deletes of the storage root is checked on the service, because
BaluPi's files router now answers every ``/api/files`` delete before the catch-all. The memory
tests run a bulk-body NAS stand-in in a child process, so the RSS measured is BaluPi's (and its
client's) alone.
"""

from __future__ import annotations

import asyncio
import gc
import hashlib
import json
import os
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from balupi.app import create_app
from balupi.clock import SystemClock
from balupi.config import Settings
from balupi.db.models import NasState
from balupi.errors import ForwardRefused
from balupi.server import running_server
from balupi.services.container import Services
from balupi.services.nas.client import NasClient
from balupi.services.nas.headers import forward_headers, strip_hop_by_hop
from balupi.services.nas.history import LinkHistory
from balupi.services.nas.link import LinkTiming, NasLink
from balupi.services.nas.passthrough import (
    ForwardRequest,
    NasPassThrough,
    WakePolicy,
    path_delete_target,
    storage_path,
)
from balupi.services.nas.wake import NasWaker
from balupi.sim.measure import PeakRss, bulk_nas_process
from balupi.sim.nas.server import NasEmulator, NasEmulatorConfig
from tests.conftest import TEST_NAS_JWT_SECRET
from tests.nas.conftest import FakeNas
from tests.waiting import eventually

ADMIN = ("admin", "DevMode2024")  # the emulator's default users
MARIA = ("maria", "maria-password")
STANDBY_W = 3.0  # what the NAS plug reads while the NAS is suspended
MB = 1024 * 1024
RSS_BUDGET = 30 * MB


@dataclass
class Pi:
    url: str
    services: Services
    http: httpx.AsyncClient

    @property
    def link_state(self) -> NasState:
        return self.services.nas_link.state


PiFactory = Callable[..., AbstractAsyncContextManager[Pi]]


@pytest.fixture
def make_pi(settings: Settings) -> PiFactory:
    """``async with make_pi(nas_url, **settings) as pi``: BaluPi under Uvicorn, its link online."""

    @asynccontextmanager
    async def make(nas_url: str, **overrides: Any) -> AsyncIterator[Pi]:
        app = create_app(settings.model_copy(update={"nas_url": nas_url, **overrides}))
        async with (
            running_server(app) as server,
            httpx.AsyncClient(base_url=server.url, timeout=30) as http,
        ):
            services: Services = app.state.services
            await eventually(lambda: services.nas_link.state is NasState.ONLINE)
            yield Pi(server.url, services, http)

    return make


@pytest.fixture
async def nas(tmp_path: Path) -> AsyncIterator[NasEmulator]:
    # The NAS signs with the key the test Pi knows (BALUPI_NAS_JWT_SECRET), as in a real home.
    config = NasEmulatorConfig(
        storage=tmp_path / "nas", boot_seconds=0.3, jwt_secret=TEST_NAS_JWT_SECRET
    )
    async with NasEmulator(config) as emulator:
        yield emulator


@pytest.fixture
async def pi(make_pi: PiFactory, nas: NasEmulator) -> AsyncIterator[Pi]:
    """BaluPi in front of ``nas``, with Wake-on-LAN aimed at the emulator's listener."""
    async with make_pi(
        nas.api_url,
        nas_mac=nas.config.mac,
        wol_broadcast="127.0.0.1",
        wol_port=nas.wol_port,
        wake_wait_seconds=10.0,
    ) as running:
        yield running


async def login(nas_url: str, user: tuple[str, str]) -> dict[str, str]:
    """An ``Authorization`` header with a token the NAS issued (asked directly, not via the Pi)."""
    async with httpx.AsyncClient() as http:
        response = await http.post(
            f"{nas_url}/api/auth/login", json={"username": user[0], "password": user[1]}
        )
    response.raise_for_status()
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


@pytest.fixture
async def admin(nas: NasEmulator) -> dict[str, str]:
    return await login(nas.api_url, ADMIN)


async def fall_asleep(pi: Pi, nas: NasEmulator, *, suspend: bool) -> None:
    """The plug reports standby, so the Pi believes the NAS asleep. Without ``suspend`` the NAS
    still answers HTTP, as a soft-sleeping BaluHost does: any request would reach (and wake) it."""
    if suspend:
        await nas.sleep()
    await pi.services.nas_link.report_power(STANDBY_W)
    assert pi.link_state is NasState.SLEEPING
    nas.nas.reset_counters()


def assert_not_awake_answer(response: httpx.Response) -> None:
    """503 with ``Retry-After`` in the header and the body: never 401, never a hang."""
    assert response.status_code == 503, response.text
    retry_after = int(response.headers["retry-after"])
    assert retry_after > 0
    assert response.json()["retry_after"] == retry_after


# -- while the NAS is online: what BaluPi does not serve passes through -----------------------

TOKEN_PATH = "/api/mobile/token/generate"  # a phone's QR code, made on the NAS: interactive


async def test_a_get_passes_through_with_the_nas_status_headers_and_body(
    pi: Pi, nas: NasEmulator
) -> None:
    direct = await pi.http.get(f"{nas.api_url}/api/system/mode")
    response = await pi.http.get("/api/system/mode")
    assert (response.status_code, response.content) == (200, direct.content)
    for name in ("content-length", "content-type", "x-frame-options", "referrer-policy", "vary"):
        assert response.headers.get_list(name) == direct.headers.get_list(name), name
    assert response.headers.get_list("x-api-version") == ["1"]  # the Pi's and the NAS's: one
    assert len(response.headers.get_list("date")) == 1


async def test_a_post_with_a_query_string_passes_through(pi: Pi, admin: dict[str, str]) -> None:
    response = await pi.http.post(
        f"{TOKEN_PATH}?device_name=Pixel%208&token_validity_days=45", headers=admin
    )
    assert response.status_code == 200
    body = response.json()
    assert body["token"].startswith("reg_")
    assert body["device_token_validity_days"] == 45


async def test_nas_errors_pass_through_unchanged(
    pi: Pi, nas: NasEmulator, admin: dict[str, str]
) -> None:
    maria = await login(nas.api_url, MARIA)
    key = {"name": "backup script", "target_user_id": 2}
    anonymous = await pi.http.post("/api/api-keys", json=key)
    assert anonymous.status_code == 401
    assert anonymous.headers["www-authenticate"] == "Bearer"
    not_admin = await pi.http.post("/api/api-keys", json=key, headers=maria)
    assert not_admin.status_code == 403
    invalid = await pi.http.post("/api/api-keys", json={}, headers=admin)
    assert invalid.status_code == 422
    assert invalid.json()["detail"][0]["type"] == "missing"
    missing = await pi.http.post("/api/api-keys", json={**key, "target_user_id": 99}, headers=admin)
    assert (missing.status_code, missing.json()) == (404, {"detail": "Target user not found"})
    created = await pi.http.post("/api/api-keys", json=key, headers=admin)
    assert created.status_code == 201
    assert created.json()["key"].startswith("balu_")


async def test_routes_the_pi_serves_win_and_other_methods_pass_through(
    pi: Pi, nas: NasEmulator
) -> None:
    nas.nas.reset_counters()
    health = await pi.http.get("/api/health")
    assert health.status_code == 200
    assert "hostname" in health.json()  # the Pi's own answer
    own = await pi.http.get("/api/nas/status")  # Pi-only: the NAS would answer 404
    assert own.status_code != 404
    assert nas.nas.requests_served == 0
    posted = await pi.http.post("/api/health")  # BaluPi serves GET only: the NAS answers
    assert posted.status_code == 405
    assert nas.nas.requests_served == 1


# -- headers, redirects and disconnects, against an echo NAS ----------------------------------


class EndlessDownload:
    """An ASGI endpoint that sends chunks until its client (the Pi) goes away."""

    def __init__(self) -> None:
        self.client_gone = asyncio.Event()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})

        async def watch() -> None:
            while (await receive())["type"] != "http.disconnect":
                pass
            self.client_gone.set()

        watcher = asyncio.create_task(watch())
        while not self.client_gone.is_set():
            await send({"type": "http.response.body", "body": b"x" * 65536, "more_body": True})
            await asyncio.sleep(0)
        await watcher


@dataclass
class EchoNas:
    url: str
    endless: EndlessDownload


async def echo(request: Request) -> Response:
    """What the NAS received, answered with the status the query asks for (``?status=``)."""
    body = await request.body()
    response = JSONResponse(
        status_code=int(request.query_params.get("status", "200")),
        content={
            "method": request.method,
            "raw_path": request.scope["raw_path"].decode(),
            "query": request.scope["query_string"].decode(),
            "headers": [[k.decode(), v.decode()] for k, v in request.scope["headers"]],
            "body_sha256": hashlib.sha256(body).hexdigest(),
        },
        headers={"Keep-Alive": "timeout=5", "X-Hop": "1", "Connection": "X-Hop"},
    )
    response.raw_headers += [(b"set-cookie", b"a=1"), (b"set-cookie", b"b=2")]
    return response


@pytest.fixture
async def echo_nas() -> AsyncIterator[EchoNas]:
    endless = EndlessDownload()

    async def health(request: Request) -> Response:
        return JSONResponse({"status": "ok", "version": "echo"})

    async def elsewhere(request: Request) -> Response:
        return RedirectResponse("http://nas.invalid/api/echo", status_code=302)

    async def loop(request: Request) -> Response:
        return RedirectResponse("/api/loop", status_code=307)

    methods = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]
    app = Starlette(
        routes=[
            Route("/api/health", health),
            Route("/api/echo/{rest:path}", echo, methods=methods),
            Route("/api/slash/", echo, methods=methods),  # /api/slash → 307 → /api/slash/
            Route("/api/elsewhere", elsewhere),
            Route("/api/loop", loop),
            Route("/api/endless", endless),
        ]
    )
    async with running_server(app) as server:
        yield EchoNas(server.url, endless)


@pytest.fixture
async def echo_pi(make_pi: PiFactory, echo_nas: EchoNas) -> AsyncIterator[Pi]:
    async with make_pi(echo_nas.url) as running:
        yield running


def headers_of(echoed: httpx.Response) -> dict[str, list[str]]:
    seen: dict[str, list[str]] = {}
    for name, value in echoed.json()["headers"]:
        seen.setdefault(name, []).append(value)
    return seen


@pytest.mark.parametrize(
    ("method", "status"),
    [("GET", 200), ("POST", 201), ("PUT", 409), ("PATCH", 422), ("DELETE", 404), ("OPTIONS", 204)],
)
async def test_every_method_passes_through_with_its_status_and_body(
    echo_pi: Pi, method: str, status: int
) -> None:
    payload = b"" if method in ("GET", "OPTIONS") else b'{"name": "x"}'
    response = await echo_pi.http.request(
        method, f"/api/echo/items/7?status={status}", content=payload or None
    )
    assert response.status_code == status
    if status != 204:  # a 204 has no body to compare
        echoed = response.json()
        assert echoed["method"] == method
        assert echoed["body_sha256"] == hashlib.sha256(payload).hexdigest()


async def test_request_headers_lose_hop_by_hop_ones_and_gain_forwarded_for(
    echo_pi: Pi, echo_nas: EchoNas
) -> None:
    response = await echo_pi.http.get(
        "/api/echo/x",
        headers={
            "Authorization": "Bearer t",
            "X-Device-ID": "phone-1",
            "X-Sync-Trigger": "manual",
            "Cookie": "session=1",
            "Connection": "keep-alive, X-Private",
            "X-Private": "for the Pi only",
            "Keep-Alive": "timeout=5",
            "TE": "trailers",
            "Proxy-Authorization": "Basic eA==",
            "If-None-Match": '"etag"',
        },
    )
    seen = headers_of(response)
    for kept in ("authorization", "x-device-id", "x-sync-trigger", "cookie"):
        assert kept in seen, kept
    for dropped in ("x-private", "keep-alive", "te", "proxy-authorization", "if-none-match"):
        assert dropped not in seen, dropped
    assert seen["host"] == [echo_nas.url.removeprefix("http://")]
    assert seen["x-forwarded-for"] == ["127.0.0.1"]
    assert seen["x-forwarded-proto"] == ["http"]
    assert seen["accept-encoding"] == ["gzip, deflate"]  # the client's own, kept


async def test_response_headers_lose_hop_by_hop_ones_and_keep_repeats(echo_pi: Pi) -> None:
    response = await echo_pi.http.get("/api/echo/x")
    assert "x-hop" not in response.headers  # named by the NAS's Connection header
    assert "keep-alive" not in response.headers
    assert response.headers.get_list("set-cookie") == ["a=1", "b=2"]
    assert response.headers["content-type"] == "application/json"


async def test_path_and_query_reach_the_nas_as_the_client_wrote_them(echo_pi: Pi) -> None:
    target = "/api/echo/a%2Fb/c+d%20e?path=x%2Fy&tag=1+2&tag=%C3%A4"
    echoed = (await echo_pi.http.get(target)).json()
    assert echoed["raw_path"] == "/api/echo/a%2Fb/c+d%20e"
    assert echoed["query"] == "path=x%2Fy&tag=1+2&tag=%C3%A4"


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
async def test_request_bodies_stream_to_the_nas(echo_pi: Pi, chunked: bool) -> None:
    data = os.urandom(3 * MB + 17)

    async def pieces() -> AsyncIterator[bytes]:
        for start in range(0, len(data), 100_000):
            yield data[start : start + 100_000]

    response = await echo_pi.http.put("/api/echo/blob", content=pieces() if chunked else data)
    echoed = response.json()
    assert echoed["method"] == "PUT"
    assert echoed["body_sha256"] == hashlib.sha256(data).hexdigest()


async def test_a_safe_request_follows_the_nas_trailing_slash_redirect(echo_pi: Pi) -> None:
    response = await echo_pi.http.get("/api/slash?x=1")
    assert response.status_code == 200
    assert (response.json()["raw_path"], response.json()["query"]) == ("/api/slash/", "x=1")


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", "/api/slash"),  # a streamed body cannot be sent twice
        ("DELETE", "/api/slash"),
        ("GET", "/api/elsewhere"),  # off the NAS
        ("GET", "/api/loop"),  # endless
    ],
)
async def test_no_redirect_reaches_a_client(echo_pi: Pi, method: str, path: str) -> None:
    response = await echo_pi.http.request(method, path, content=b"{}")
    assert (response.status_code, response.json()) == (404, {"detail": "Not Found"})
    assert "location" not in response.headers


async def test_a_client_that_leaves_closes_the_nas_stream(echo_pi: Pi, echo_nas: EchoNas) -> None:
    async with echo_pi.http.stream("GET", "/api/endless") as response:
        received = 0
        async for chunk in response.aiter_raw():
            received += len(chunk)
            if received > MB:
                break
    async with asyncio.timeout(5):
        await echo_nas.endless.client_gone.wait()


# -- deletes of the storage root: refused by the service before anything is sent -------------
#
# Through BaluPi these paths reach its files router, not the catch-all; the guard stays for any
# delete that does get here, so it is checked on the service with a NAS that counts requests.

ROOT_DELETES: list[tuple[str, str, dict[str, str] | None]] = [
    ("DELETE", "/api/files?path=Shared", None),  # BaluDesk's delete: 307 → "" on the NAS
    ("DELETE", "/api/files/", None),
    ("DELETE", "/api/files//", None),
    ("DELETE", "/api/files/%2F", None),
    ("DELETE", "/api/files/Shared/..", None),
    ("DELETE", "/api/files/%2E%2E", None),
    ("DELETE", "/api/files/raw/", None),
    ("DELETE", "/api/files/raw/%2E", None),
    ("POST", "/api/files/delete", {"path": ""}),
    ("DELETE", "/api/files/delete", {"path": "/"}),
    ("POST", "/api/files/delete", {"path": "Shared/../."}),
]


@pytest.fixture
async def passthrough(
    sessions: async_sessionmaker[AsyncSession], fake_nas: FakeNas
) -> AsyncIterator[NasPassThrough]:
    """The service over an online ``NasLink`` whose NAS (``fake_nas``) records every request."""
    clock = SystemClock()
    async with NasClient("http://nas.test", transport=fake_nas.transport) as client:
        link = NasLink(client, LinkHistory(sessions), clock)
        await link.start()
        await eventually(lambda: link.state is NasState.ONLINE)
        yield NasPassThrough(link, NasWaker(link, None, clock), WakePolicy())
        await link.aclose()


def forward(method: str, target: str, body: dict[str, str] | None) -> ForwardRequest:
    async def content(data: bytes) -> AsyncIterator[bytes]:
        yield data

    raw = None if body is None else json.dumps(body).encode()
    return ForwardRequest(method, target, [], body=None if raw is None else content(raw))


async def test_a_delete_of_the_storage_root_is_never_forwarded(
    passthrough: NasPassThrough, fake_nas: FakeNas
) -> None:
    sent = len(fake_nas.requests)
    for method, target, body in ROOT_DELETES:
        with pytest.raises(ForwardRefused) as refused:
            await passthrough.open(forward(method, target, body))
        assert refused.value.status_code == 400, (method, target, body)
    assert len(fake_nas.requests) == sent


@pytest.mark.parametrize(
    ("method", "target", "body"),
    [
        ("DELETE", "/api/files/Shared/old.txt", None),
        ("DELETE", "/api/files/raw/Shared/old.txt", None),
        ("POST", "/api/files/delete", {"path": "Shared/old.txt"}),
    ],
)
async def test_a_delete_that_names_a_path_is_forwarded_with_its_body(
    passthrough: NasPassThrough,
    fake_nas: FakeNas,
    method: str,
    target: str,
    body: dict[str, str] | None,
) -> None:
    stream = await passthrough.open(forward(method, target, body))
    await stream.aclose()
    sent = fake_nas.requests[-1]
    assert (sent.method, sent.url.path) == (method, target)
    assert sent.content == (b"" if body is None else json.dumps(body).encode())


# -- while the NAS is not online ---------------------------------------------------------------

QR_TOKEN = f"{TOKEN_PATH}?device_name=Pixel"


async def test_asleep_requests_that_may_not_wake_it_get_503_and_send_the_nas_nothing(
    pi: Pi, nas: NasEmulator, admin: dict[str, str]
) -> None:
    token = admin["Authorization"]
    not_waking = [
        ("GET", "/api/system/info", {"Authorization": token}),  # BaluApp, every 30 s
        ("GET", "/api/system/sleep/status", {"Authorization": token}),
        ("GET", "/api/monitoring/network/current", {"Authorization": token}),  # BaluDesk, 10 s
        ("POST", QR_TOKEN, {"Authorization": token, "X-Sync-Trigger": "auto"}),
        ("POST", QR_TOKEN, {}),  # no credentials
    ]
    await fall_asleep(pi, nas, suspend=False)  # soft sleep: a request would reach it
    for method, path, headers in not_waking:
        response = await pi.http.request(method, path, headers=headers)
        assert_not_awake_answer(response)
    assert nas.nas.requests_served == 0
    assert pi.services.nas_waker.packets_sent == 0
    assert nas.status()["wol_datagrams"] == 0
    assert pi.link_state is NasState.SLEEPING


async def test_waking_on_requests_can_be_turned_off(
    make_pi: PiFactory, nas: NasEmulator, admin: dict[str, str]
) -> None:
    async with make_pi(
        nas.api_url, nas_mac=nas.config.mac, wol_port=nas.wol_port, wake_on_request=False
    ) as pi:
        await fall_asleep(pi, nas, suspend=False)
        response = await pi.http.post(QR_TOKEN, headers=admin)
        assert_not_awake_answer(response)
        assert pi.services.nas_waker.packets_sent == 0
        assert nas.nas.requests_served == 0


async def test_an_interactive_request_wakes_the_nas_and_completes(
    pi: Pi, nas: NasEmulator, admin: dict[str, str]
) -> None:
    await fall_asleep(pi, nas, suspend=True)
    response = await pi.http.post(QR_TOKEN, headers=admin)
    assert response.status_code == 200
    assert response.json()["token"].startswith("reg_")
    assert nas.status()["wol_wakeups"] == 1  # a real magic packet, heard by the NAS
    assert pi.link_state is NasState.ONLINE


async def test_twenty_requests_at_once_send_one_magic_packet(
    pi: Pi, nas: NasEmulator, admin: dict[str, str]
) -> None:
    await fall_asleep(pi, nas, suspend=True)
    responses = await asyncio.gather(*(pi.http.post(QR_TOKEN, headers=admin) for _ in range(20)))
    assert [r.status_code for r in responses] == [200] * 20
    assert pi.services.nas_waker.packets_sent == 1
    assert (nas.status()["wol_datagrams"], nas.status()["wol_wakeups"]) == (1, 1)


async def test_a_nas_still_booting_after_the_wait_gets_503_then_serves(
    make_pi: PiFactory, nas: NasEmulator, admin: dict[str, str]
) -> None:
    async with make_pi(
        nas.api_url,
        nas_mac=nas.config.mac,
        wol_broadcast="127.0.0.1",
        wol_port=nas.wol_port,
        wake_wait_seconds=0.01,  # shorter than the emulator's 0.3 s boot
    ) as pi:
        await fall_asleep(pi, nas, suspend=True)
        assert_not_awake_answer(await pi.http.post(QR_TOKEN, headers=admin))
        assert pi.link_state is NasState.WAKING
        await eventually(lambda: pi.link_state is NasState.ONLINE)
        assert (await pi.http.post(QR_TOKEN, headers=admin)).status_code == 200
        assert pi.services.nas_waker.packets_sent == 1


async def test_a_nas_that_does_not_answer_gets_503_and_the_link_checks_at_once(
    pi: Pi, nas: NasEmulator, admin: dict[str, str]
) -> None:
    link = pi.services.nas_link
    link.timing = LinkTiming(first_retry=0.01, max_retry=0.02)  # no 2-4-8 s backoff in a test
    await nas.sleep()  # gone without a word: the link still believes it online
    assert_not_awake_answer(await pi.http.post(QR_TOKEN, headers=admin))
    await eventually(lambda: link.state is NasState.SLEEPING)


async def test_without_a_nas_configured_other_paths_are_not_found(settings: Settings) -> None:
    app = create_app(settings)
    async with running_server(app) as server, httpx.AsyncClient(base_url=server.url) as http:
        response = await http.post(QR_TOKEN, headers={"Authorization": "Bearer t"})
    assert (response.status_code, response.json()) == (404, {"detail": "Not Found"})


# -- the policy and header rules on their own --------------------------------------------------


def request(method: str, target: str, **headers: str) -> ForwardRequest:
    return ForwardRequest(
        method, target, [(k.lower().replace("_", "-"), v) for k, v in headers.items()]
    )


@pytest.mark.parametrize(
    ("method", "target", "headers", "wakes"),
    [
        ("GET", "/api/files/list?path=", {"authorization": "Bearer t"}, True),
        ("POST", "/api/files/upload", {"authorization": "Bearer t"}, True),
        ("POST", "/api/system/sleep/wake", {"authorization": "Bearer t"}, True),
        (
            "GET",
            "/api/files/download/a",
            {"authorization": "Bearer t", "x_sync_trigger": "manual"},
            True,
        ),
        (
            "GET",
            "/api/files/download/a",
            {"authorization": "Bearer t", "x_sync_trigger": "AUTO"},
            False,
        ),
        (
            "GET",
            "/api/files/download/a",
            {"authorization": "Bearer t", "x_sync_trigger": "scheduled"},
            False,
        ),
        ("GET", "/api/files/list", {"authorization": " "}, False),
        ("GET", "/api/system/info", {"authorization": "Bearer t"}, False),
        ("GET", "/api/system/sleep/status", {"authorization": "Bearer t"}, False),
        ("POST", "/api/system/sleep/soft", {"authorization": "Bearer t"}, False),
        ("GET", "/api/notifications/unread-count", {"authorization": "Bearer t"}, False),
        ("POST", "/api/activity/report", {"authorization": "Bearer t"}, False),
        ("GET", "/api/smart-devices/power/summary/", {"authorization": "Bearer t"}, False),
        (
            "POST",
            "/api/mobile/devices/d1/push-token?push_token=x",
            {"authorization": "Bearer t"},
            False,
        ),
        ("GET", "/api/sync/preflight", {"authorization": "Bearer t"}, False),
    ],
)
def test_wake_policy(method: str, target: str, headers: dict[str, str], wakes: bool) -> None:
    refusal = WakePolicy().refusal(request(method, target, **headers))
    assert (refusal is None) is wakes, refusal


def test_a_disabled_policy_wakes_for_nothing() -> None:
    assert WakePolicy(enabled=False).refusal(request("GET", "/api/x", authorization="Bearer t"))


@pytest.mark.parametrize(
    ("method", "path", "target"),
    [
        ("DELETE", "/api/files", ""),
        ("DELETE", "/api/files/a/b", "a/b"),
        ("DELETE", "/api/files/raw/a", "a"),
        ("DELETE", "/api/files/raw", "raw"),  # the catch-all's, with the path "raw"
        ("DELETE", "/api/files/delete", None),  # its path is in the body
        ("GET", "/api/files", None),
        ("DELETE", "/api/sync/x", None),
    ],
)
def test_path_delete_targets(method: str, path: str, target: str | None) -> None:
    assert path_delete_target(method, path) == target


@pytest.mark.parametrize(
    ("raw", "normalised"),
    [("", ""), ("/", ""), ("./.", ""), ("a/..", ""), ("../..", ""), ("a//b/./c/..", "a/b")],
)
def test_storage_paths_normalise_like_the_nas(raw: str, normalised: str) -> None:
    assert storage_path(raw) == normalised


def test_hop_by_hop_headers_are_stripped() -> None:
    headers = [
        ("connection", "close, x-a"),
        ("x-a", "1"),
        ("upgrade", "h2c"),
        ("proxy-connection", "keep-alive"),
        ("transfer-encoding", "chunked"),
        ("trailer", "x"),
        ("content-length", "5"),
    ]
    assert strip_hop_by_hop(headers, frozenset()) == [("content-length", "5")]


@pytest.mark.parametrize(
    ("incoming", "client", "chain"),
    [
        ([], "192.168.1.5", "192.168.1.5"),
        (["10.0.0.7"], "192.168.1.5", "10.0.0.7, 192.168.1.5"),
        (["10.0.0.1, 10.0.0.7"], "10.0.0.7", "10.0.0.1, 10.0.0.7"),  # taken from it by Uvicorn
    ],
)
def test_forwarded_for_ends_with_the_client(incoming: list[str], client: str, chain: str) -> None:
    headers = [("x-forwarded-for", value) for value in incoming]
    forwarded = dict(forward_headers(headers, client=client, scheme="http"))
    assert forwarded["x-forwarded-for"] == chain


def test_forwarded_headers_ask_for_no_encoding_the_client_did_not() -> None:
    forwarded = dict(forward_headers([("Host", "pi")], client=None, scheme="https"))
    assert forwarded == {"accept-encoding": "identity", "x-forwarded-proto": "https"}


# -- memory: big bodies stream through without being held -------------------------------------


@pytest.fixture(scope="module")
def bulk_nas() -> Iterator[str]:
    """The bulk-body NAS stand-in in a child process: this process's RSS is BaluPi's (and its
    client's) alone, and its ``/api/bench/*`` paths take BaluPi's pass-through."""
    with bulk_nas_process() as child:
        yield child.url


async def download(http: httpx.AsyncClient, path: str) -> int:
    """Stream ``path`` and throw the bytes away; how many arrived."""
    received = 0
    async with http.stream("GET", path) as response:
        assert response.status_code == 200
        async for chunk in response.aiter_raw():
            received += len(chunk)
    return received


async def measured(transfer: Awaitable[Any]) -> tuple[Any, PeakRss]:
    """Run ``transfer`` while this process's peak RSS is sampled from a thread."""
    gc.collect()
    with PeakRss(os.getpid()) as rss:
        result = await transfer
    return result, rss


# The upload runs first: heap a 500 MB download had freed could hide a buffered 50 MB body.
@pytest.mark.slow
async def test_a_50_mb_multipart_upload_is_streamed_not_buffered(
    make_pi: PiFactory, bulk_nas: str, tmp_path: Path
) -> None:
    source = tmp_path / "video.bin"
    with source.open("wb") as handle:
        handle.truncate(50 * MB)  # sparse: made at once, read back as zeros
    async with make_pi(bulk_nas) as pi:
        await pi.http.post("/api/bench/sink", content=b"warm up")
        with source.open("rb") as handle:
            response, rss = await measured(
                pi.http.post(
                    "/api/bench/sink",
                    data={"path": "Shared"},
                    files={"file": ("video.bin", handle, "application/octet-stream")},
                )
            )
    assert response.status_code == 200
    assert response.json()["received"] == int(response.request.headers["content-length"])
    assert response.json()["received"] > 50 * MB
    assert rss.delta < RSS_BUDGET, f"RSS rose {rss.delta / MB:.1f} MB above idle"


@pytest.mark.slow
async def test_a_500_mb_download_passes_through_within_30_mb_of_idle_rss(
    make_pi: PiFactory, bulk_nas: str
) -> None:
    size = 500 * MB
    async with make_pi(bulk_nas) as pi:
        await download(pi.http, f"/api/bench/blob?size={8 * MB}")  # warm up
        received, rss = await measured(download(pi.http, f"/api/bench/blob?size={size}"))
    assert received == size
    assert rss.delta < RSS_BUDGET, f"RSS rose {rss.delta / MB:.1f} MB above idle"
