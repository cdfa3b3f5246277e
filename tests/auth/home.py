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

import contextlib
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass

import httpx
import jwt
from starlette.types import ASGIApp

from balupi.clock import ManualClock
from balupi.services.container import Services
from balupi.sim.nas.server import NasEmulator
from balupi.sim.nas.state import NasState
from balupi.sim.nas.tokens import mint_access_token, mint_refresh_token
from balupi.sim.nas.users import UserSpec

NAS_SECRET = "emulated-baluhost-secret-key-for-auth-tests-0123"
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
    def nas_state(self) -> NasState:
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

    async def login(self, username: str, password: str) -> httpx.Response:
        return await self.pi.post(
            "/api/auth/login", json={"username": username, "password": password}
        )

    async def refresh(self, refresh_token: str) -> httpx.Response | str:
        try:
            return await self.pi.post("/api/auth/refresh", json={"refresh_token": refresh_token})
        except (httpx.RemoteProtocolError, httpx.ReadError):
            return DROPPED


HomeFactory = Callable[..., AbstractAsyncContextManager[Home]]


def forge(claims: dict[str, object], key: str = "not-the-nas-secret-at-all-0123456789") -> str:
    """A token with the NAS's claims, signed with some other key (or the NAS's, given)."""
    return jwt.encode(claims, key, algorithm="HS256")


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
