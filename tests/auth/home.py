"""A simulated home for auth tests: the NAS emulator and BaluPi on loopback, sharing one clock.

Both read the same ``ManualClock`` (started at the real time, so tokens look ordinary), so a
test moves time past a token's ``exp`` for the Pi and the NAS at once, without sleeping.

Two ways to take the NAS away:

* ``nas_sleeps()``: the emulator really suspends (its API socket closes) and the Pi learns it
  from the plug's standby draw, as it would in the field;
* ``pi_believes_nas_sleeps()``: only the Pi is told; the NAS keeps listening and counting
  requests, so a test can prove the Pi sends it none.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import hmac
import json
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass

import httpx
from starlette.types import ASGIApp

from balupi.clock import ManualClock
from balupi.services.auth import jwt
from balupi.services.container import Services
from balupi.sim.nas.app import NAS_VERSION
from balupi.sim.nas.notices import LifecycleNotifier, build_snapshot
from balupi.sim.nas.power import PowerState
from balupi.sim.nas.server import NasEmulator
from balupi.sim.nas.state import EmulatedNas, hash_password
from balupi.sim.nas.tokens import mint_access_token, mint_refresh_token
from balupi.sim.nas.users import UserSpec

NAS_SECRET = "emulated-baluhost-secret-key-for-auth-tests-0123"
HANDSHAKE_SECRET = "handshake-secret-shared-by-nas-and-pi-in-auth-tests"
STANDBY_WATTS = 5.0  # the NAS plug's draw while the NAS is suspended
USERS = (
    UserSpec("admin", "admin-password", "admin"),
    UserSpec("maria", "maria-password", "user"),
    UserSpec("bob", "bob-password", "user"),
)
DROPPED = "dropped"  # what a client sees when the Pi closes the connection without an answer


@dataclass
class Home:
    clock: ManualClock
    nas: NasEmulator
    services: Services
    pi: httpx.AsyncClient  # to BaluPi
    pi_url: str
    app: ASGIApp  # BaluPi's app, for a client without its server (httpx.ASGITransport)

    @property
    def nas_state(self) -> EmulatedNas:
        return self.nas.nas

    def nas_requests(self) -> int:
        """Requests the NAS has served so far (health checks included)."""
        return self.nas_state.requests_served

    async def nas_sleeps(self) -> None:
        await self.nas.sleep()
        await self.services.nas_link.report_power(STANDBY_WATTS)

    async def pi_believes_nas_sleeps(self) -> None:
        await self.services.nas_link.report_power(STANDBY_WATTS)

    async def nas_wakes(self) -> None:
        await self.nas.wake()
        await self.services.nas_link.report_coming_online("test: the NAS is up again")

    def nas_user_id(self, username: str) -> int:
        user = self.nas_state.user_by_name(username)
        assert user is not None
        return user.id

    def nas_access_token(self, username: str) -> str:
        """An access token exactly as the NAS mints it now."""
        user = self.nas_state.users[self.nas_user_id(username)]
        return mint_access_token(self.nas_state, user)

    def nas_refresh_token(self, username: str) -> str:
        """A refresh token as mobile registration hands it out (its jti stored on the NAS)."""
        user = self.nas_state.users[self.nas_user_id(username)]
        return mint_refresh_token(self.nas_state, user, validity_days=90)

    def deactivate_on_nas(self, username: str) -> None:
        self.nas_state.users[self.nas_user_id(username)].is_active = False

    def change_password_on_nas(self, username: str, password: str) -> None:
        self.nas_state.users[self.nas_user_id(username)].password_hash = hash_password(password)

    def delete_on_nas(self, username: str) -> None:
        del self.nas_state.users[self.nas_user_id(username)]

    async def nas_shuts_down_with_notice(self) -> None:
        """The NAS signs its going-offline notice (its snapshot lists its users), then sleeps."""
        snapshot = build_snapshot(self.nas_state, hostname="baluhost", version=NAS_VERSION)
        notifier = LifecycleNotifier(
            self.pi_url, HANDSHAKE_SECRET, clock=lambda: self.clock.now().timestamp()
        )
        assert await notifier.going_offline(snapshot), "the Pi refused the notice"
        await self.nas.sleep()

    def wake_packets(self) -> int:
        """Magic packets the Pi has sent so far."""
        return self.services.nas_waker.packets_sent

    def nas_is_asleep(self) -> bool:
        return self.nas.state is PowerState.ASLEEP

    @contextlib.asynccontextmanager
    async def nas_client(self) -> AsyncIterator[httpx.AsyncClient]:
        """A client talking to the NAS directly (as if the Pi were not there)."""
        async with httpx.AsyncClient(base_url=self.nas.api_url, timeout=5) as client:
            yield client

    async def me(self, token: str | None) -> int | str:
        """The Pi's answer to ``GET /api/auth/me``: a status code, or ``DROPPED``.

        ``None`` sends no ``Authorization``; ``""`` sends a Basic one, which BaluHost ignores.
        """
        if token is None:
            headers = {}
        else:
            headers = {"Authorization": f"Bearer {token}" if token else "Basic eDp5"}
        try:
            response = await self.pi.get("/api/auth/me", headers=headers)
        except (httpx.RemoteProtocolError, httpx.ReadError):
            return DROPPED
        return response.status_code

    async def login(
        self, username: str, password: str, *, client: httpx.AsyncClient | None = None
    ) -> httpx.Response:
        """A login through BaluPi, from ``client`` (another address) or the default one."""
        return await (client or self.pi).post(
            "/api/auth/login", json={"username": username, "password": password}
        )

    @contextlib.asynccontextmanager
    async def client_from(self, address: str) -> AsyncIterator[httpx.AsyncClient]:
        """A client of BaluPi connecting from another loopback address (``127.0.0.2`` …)."""
        transport = httpx.AsyncHTTPTransport(local_address=address)
        async with httpx.AsyncClient(
            transport=transport, base_url=self.pi_url, timeout=10
        ) as client:
            yield client

    async def refresh(self, refresh_token: str) -> httpx.Response | str:
        try:
            return await self.pi.post("/api/auth/refresh", json={"refresh_token": refresh_token})
        except (httpx.RemoteProtocolError, httpx.ReadError):
            return DROPPED


HomeFactory = Callable[..., AbstractAsyncContextManager[Home]]


def forge(claims: dict[str, object], key: str = "not-the-nas-secret-at-all-0123456789") -> str:
    """A token with the NAS's claims, signed with some other key (or the NAS's, given)."""
    return jwt.encode(claims, key)


def craft(header: object, claims: object, signature: bytes = b"", key: str | None = None) -> str:
    """A token written by hand, for what ``jwt.encode`` will not write: another ``alg``, odd
    headers or claims. Signed with HMAC-SHA256 under ``key`` if given, else ``signature``."""

    def segment(data: bytes) -> str:
        return base64.urlsafe_b64encode(data).rstrip(b"=").decode()

    head = segment(json.dumps(header, separators=(",", ":")).encode())
    body = segment(json.dumps(claims, separators=(",", ":")).encode())
    if key is not None:
        signature = hmac.new(key.encode(), f"{head}.{body}".encode(), hashlib.sha256).digest()
    return f"{head}.{body}.{segment(signature)}"


def access_claims(home: Home, username: str, *, age: float = 0) -> dict[str, object]:
    """The NAS's access-token claims for ``username``, as if issued ``age`` seconds ago."""
    user = home.nas_state.users[home.nas_user_id(username)]
    issued = int(home.clock.now().timestamp() - age)
    return {
        "sub": str(user.id),
        "username": user.username,
        "role": user.role,
        "type": "access",
        "exp": issued + 900,
        "iat": issued,
    }
