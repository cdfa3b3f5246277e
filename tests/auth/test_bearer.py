"""Bearer checks on BaluPi's protected routes: API keys, 401 versus 503, admin-only routes, and
a NAS that answers oddly (a 2FA challenge, a 429, a 500) without any of it reaching a Tier-0
route as a status a client would act on.
"""

from __future__ import annotations

import contextlib
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from pydantic import SecretStr

from balupi.api.deps import AdminUser, get_current_user
from balupi.api.errors import install_error_handlers
from balupi.app import create_app
from balupi.config import Settings
from balupi.server import running_server
from balupi.services.auth import AuthenticatedUser, CredentialKind, jwt
from balupi.services.container import Services
from tests.auth.home import DROPPED, NAS_SECRET, STANDBY_WATTS, HomeFactory


async def test_api_keys_are_checked_by_the_nas_and_remembered_while_it_sleeps(
    make_home: HomeFactory,
) -> None:
    async with make_home(secret=True) as home:
        async with home.nas_client() as nas:
            created = await nas.post(
                "/api/api-keys",
                json={"name": "backup script", "target_user_id": home.nas_user_id("maria")},
                headers={"Authorization": f"Bearer {home.nas_access_token('admin')}"},
            )
        key = {"Authorization": f"Bearer {created.json()['key']}"}
        bad_key = {"Authorization": "Bearer balu_" + "x" * 40}
        awake = await home.pi.get("/api/auth/me", headers=key)
        bad_awake = await home.pi.get("/api/nas/status", headers=bad_key)
        await home.pi_believes_nas_sleeps()
        before = home.nas_requests()
        asleep = await home.pi.get("/api/nas/status", headers=key)
        bad_asleep = await home.pi.get("/api/nas/status", headers=bad_key)
        sent = home.nas_requests() - before
        home.clock.advance(25 * 3600)  # longer than the Pi honours a key without the NAS
        stale = await home.pi.get("/api/nas/status", headers=key)

    assert created.status_code == 201
    assert awake.status_code == 200
    assert awake.json()["username"] == "maria"
    assert bad_awake.status_code == bad_asleep.status_code == 401
    assert bad_asleep.json() == {
        "detail": "Invalid API key",
        "code": "not_authenticated",
    }  # a Pi-only route
    assert asleep.status_code == 200
    assert sent == 0
    assert stale.status_code == 503
    assert int(stale.headers["Retry-After"]) > 0


async def test_protected_routes_say_401_only_for_invalid_tokens(make_home: HomeFactory) -> None:
    async with make_home(secret=False) as home:
        await home.nas_sleeps()
        unseen = {"Authorization": f"Bearer {home.nas_access_token('maria')}"}
        missing = await home.pi.get("/api/system/status")
        undecidable = await home.pi.get("/api/system/status", headers=unseen)
        wol = await home.pi.post("/api/nas/wol", headers=unseen)
        health = await home.pi.get(
            "/api/health", headers={"Authorization": "Bearer garbage", "X-Device-ID": "?"}
        )

    assert missing.status_code == 401
    assert missing.json() == {
        "detail": "No authentication token provided",
        "code": "not_authenticated",
    }
    assert missing.headers["WWW-Authenticate"] == "Bearer"
    # Valid or not, nobody can tell while the NAS sleeps: a 401 would start a refresh cycle.
    assert undecidable.status_code == wol.status_code == 503
    assert int(undecidable.headers["Retry-After"]) > 0
    assert health.status_code == 200


def _as(role: str) -> AuthenticatedUser:
    return AuthenticatedUser("7", "someone", role, "token", CredentialKind.NAS_TOKEN)


@pytest.mark.parametrize(("role", "status"), [("admin", 200), ("user", 403)])
async def test_admin_routes_refuse_other_users_with_403(role: str, status: int) -> None:
    app = FastAPI()
    install_error_handlers(app)

    @app.get("/admin-only")
    async def admin_only(user: AdminUser) -> dict[str, str]:
        return {"hello": user.username}

    app.dependency_overrides[get_current_user] = lambda: _as(role)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        response = await client.get("/admin-only")

    assert response.status_code == status
    if status == 403:
        assert response.json() == {"detail": "Insufficient permissions: Admin required"}


# -- a NAS that answers oddly ----------------------------------------------------------------


@dataclass
class OddNas:
    """A stand-in NAS: healthy, but its /me is rate-limited and its refresh is broken.

    Any password logs in (users ``maria``, id 2, and ``totp``, id 3), except for the users in
    ``two_factor`` (a 2FA challenge) and ``flood`` (the NAS's 429).
    """

    two_factor: set[str] = field(default_factory=set)

    def app(self) -> FastAPI:
        app = FastAPI()

        @app.get("/api/health")
        async def health() -> dict[str, str]:
            return {"status": "ok", "version": "1.38.0"}

        @app.post("/api/auth/login")
        async def login(request: Request) -> JSONResponse:
            username = (await request.json())["username"]
            if username in self.two_factor:
                return JSONResponse(
                    {"requires_2fa": True, "pending_token": "p", "token_type": "2fa_pending"}
                )
            if username == "flood":
                rate_limited = {
                    "error": "Too Many Requests",
                    "detail": "Rate limit exceeded. Please try again later.",
                    "retry_after": 60,
                }
                return JSONResponse(rate_limited, 429, headers={"Retry-After": "60"})
            user_id = {"maria": 2, "totp": 3}[username]
            user = {"id": user_id, "username": username, "role": "user", "is_active": True}
            token = jwt.encode(_claims("access", user_id, username), NAS_SECRET)
            return JSONResponse({"access_token": token, "token_type": "bearer", "user": user})

        @app.get("/api/auth/me")
        async def me() -> JSONResponse:
            return JSONResponse({"detail": "Rate limit exceeded"}, 429)

        @app.post("/api/auth/refresh")
        async def refresh() -> JSONResponse:
            return JSONResponse({"detail": "Internal server error"}, 500)

        return app


def _claims(kind: str, user_id: int = 2, username: str = "maria", age: int = 0) -> dict[str, Any]:
    now = int(time.time()) - age
    claims: dict[str, Any] = {"sub": str(user_id), "type": kind, "exp": now + 900, "iat": now}
    if kind == "access":
        claims |= {"username": username, "role": "user"}
    else:
        claims["jti"] = str(uuid.uuid4())
    return claims


@contextlib.asynccontextmanager
async def _pi_before_odd_nas(
    settings: Settings, tmp_path: Path, *, secret: bool, nas: OddNas | None = None
) -> AsyncIterator[tuple[httpx.AsyncClient, Services]]:
    async with running_server((nas or OddNas()).app()) as server:
        pi_settings = settings.model_copy(
            update={
                "data_dir": tmp_path / "pi",
                "nas_url": server.url,
                "nas_jwt_secret": SecretStr(NAS_SECRET) if secret else None,
            }
        )
        app = create_app(pi_settings)
        async with running_server(app) as pi, httpx.AsyncClient(base_url=pi.url) as client:
            services: Services = app.state.services
            assert await services.nas_link.wait_online(5)
            yield client, services


async def _outcome(call: Any) -> int | str:
    try:
        response: httpx.Response = await call
    except (httpx.RemoteProtocolError, httpx.ReadError):
        return DROPPED
    return response.status_code


@pytest.mark.parametrize("secret", [True, False], ids=["with-secret", "without-secret"])
async def test_odd_nas_answers_never_reach_me_or_refresh(
    settings: Settings, tmp_path: Path, secret: bool
) -> None:
    # Issued earlier than the login's token, so it is not the one the Pi saw the NAS issue.
    access = jwt.encode(_claims("access", age=60), NAS_SECRET)
    refresh = jwt.encode(_claims("refresh"), NAS_SECRET)
    nas = OddNas(two_factor={"totp"})
    async with _pi_before_odd_nas(settings, tmp_path, secret=secret, nas=nas) as (pi, _):
        challenge = await pi.post("/api/auth/login", json={"username": "totp", "password": "p"})
        flood = await pi.post("/api/auth/login", json={"username": "flood", "password": "p"})
        login = await pi.post("/api/auth/login", json={"username": "maria", "password": "pw"})
        me = await _outcome(pi.get("/api/auth/me", headers={"Authorization": f"Bearer {access}"}))
        refreshed = await _outcome(pi.post("/api/auth/refresh", json={"refresh_token": refresh}))

    # Logins pass through as the NAS said them, the 2FA challenge and the 429 included.
    assert challenge.status_code == 200
    assert challenge.json()["requires_2fa"] is True
    assert flood.status_code == 429
    assert flood.headers["Retry-After"] == "60"
    assert login.status_code == 200
    # The NAS's 429 on /me and 500 on refresh: the Pi decides itself, or answers nothing.
    assert me == (200 if secret else DROPPED)
    assert refreshed == (200 if secret else DROPPED)


async def test_a_user_who_turned_on_2fa_gets_no_offline_login(
    settings: Settings, tmp_path: Path
) -> None:
    nas = OddNas()
    async with _pi_before_odd_nas(settings, tmp_path, secret=True, nas=nas) as (pi, services):
        for username in ("maria", "totp"):
            await pi.post("/api/auth/login", json={"username": username, "password": "pw"})
        nas.two_factor.add("totp")  # totp enables 2FA on the NAS and logs in once more
        await pi.post("/api/auth/login", json={"username": "totp", "password": "pw"})
        await services.nas_link.report_power(STANDBY_WATTS)
        maria = await pi.post("/api/auth/login", json={"username": "maria", "password": "pw"})
        totp = await pi.post("/api/auth/login", json={"username": "totp", "password": "pw"})

    assert maria.status_code == 200  # her verifier works offline
    assert totp.status_code == 503  # a password alone must not skip the second factor
