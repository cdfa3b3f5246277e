"""The emulated NAS's auth and health routes behave as BaluHost's do where clients depend on it.

In-process (ASGI transport) with an injected clock: each test states one behaviour a client relies
on (docs/compat/nas-api.md §1, §2; docs/compat/clients.md §0 and §6 Tier 0).
"""

from __future__ import annotations

import re
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from balupi.services.auth import jwt
from balupi.sim.nas.app import create_nas_app
from balupi.sim.nas.state import EmulatedNas

SECRET = "auth-test-secret-0123456789abcdef"
START = 1_800_000_000.0


class FakeClock:
    """Seconds since the epoch that move only when a test says so."""

    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def nas(tmp_path: Path, clock: FakeClock) -> EmulatedNas:
    state = EmulatedNas(tmp_path / "storage", SECRET, clock=clock)
    state.add_user("admin", "admin-pw", role="admin")
    state.add_user("maria", "maria-pw")
    return state


@pytest.fixture
async def client(nas: EmulatedNas) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=create_nas_app(nas), client=("192.0.2.10", 50000))
    async with httpx.AsyncClient(transport=transport, base_url="http://nas.test") as http:
        yield http


async def login(client: httpx.AsyncClient, username: str, password: str) -> httpx.Response:
    return await client.post("/api/auth/login", json={"username": username, "password": password})


async def access_token(client: httpx.AsyncClient, username: str = "maria") -> str:
    response = await login(client, username, f"{username}-pw")
    assert response.status_code == 200, response.text
    token: str = response.json()["access_token"]
    return token


def claims_of(token: str) -> dict[str, Any]:
    """Verify the signature only: judged at the token's own ``iat``, not the wall clock."""
    claims = jwt.decode_unverified(token)
    return jwt.decode(token, SECRET, now=claims["iat"])


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def register_phone(client: httpx.AsyncClient, body_style: str = "camel") -> dict[str, Any]:
    """Generate a registration token as maria, then register a phone with it (unauthenticated)."""
    token = await access_token(client)
    generated = await client.post(
        "/api/mobile/token/generate",
        params={"device_name": "Pixel", "token_validity_days": 30},
        headers=bearer(token),
    )
    assert generated.status_code == 200, generated.text
    info = {"device_name": "Pixel", "device_type": "android", "device_model": "Pixel 8"}
    if body_style == "camel":
        body: dict[str, Any] = {
            "token": generated.json()["token"],
            "deviceInfo": {"deviceName": "Pixel", "deviceType": "android"},
        }
    else:
        body = {"token": generated.json()["token"], "device_info": info}
    registered = await client.post("/api/mobile/register", json=body)
    assert registered.status_code == 200, registered.text
    result: dict[str, Any] = registered.json()
    return result


# -- health -------------------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/api/health", "/api/ping"])
async def test_health_needs_no_auth_and_carries_version_headers(
    client: httpx.AsyncClient, path: str
) -> None:
    response = await client.get(path)
    assert response.status_code == 200
    assert response.json() == {
        "status": "ok",
        "version": "1.38.0",
        "api_version": "1",
        "min_api_version": "1",
    }
    assert response.headers["X-API-Version"] == "1"
    assert response.headers["X-API-Min-Version"] == "1"


async def test_health_ignores_a_bad_bearer_token(client: httpx.AsyncClient) -> None:
    # BaluApp sends its (maybe expired) token on health checks; a 401 would start a refresh.
    response = await client.get("/api/health", headers=bearer("expired-or-garbage"))
    assert response.status_code == 200


async def test_head_on_health_is_405_allowing_get(client: httpx.AsyncClient) -> None:
    response = await client.head("/api/health")
    assert response.status_code == 405
    assert response.headers["Allow"] == "GET"


async def test_system_mode_is_production(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/system/mode")
    assert response.json() == {"dev_mode": False}


async def test_system_info_needs_a_user_and_sends_free_and_available(
    client: httpx.AsyncClient,
) -> None:
    assert (await client.get("/api/system/info")).status_code == 401
    response = await client.get("/api/system/info", headers=bearer(await access_token(client)))
    assert response.status_code == 200
    info = response.json()
    assert {"cpu", "memory", "disk", "uptime", "system_uptime", "dev_mode"} <= info.keys()
    assert info["disk"]["free"] == info["disk"]["available"]
    assert info["memory"]["free"] == info["memory"]["available"]
    assert isinstance(info["uptime"], float)


async def test_sync_preflight_allows_sync_while_awake(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/sync/preflight", headers=bearer(await access_token(client)))
    assert response.json() == {
        "sync_allowed": True,
        "current_sleep_state": "awake",
        "sleep_schedule": None,
        "next_sleep_at": None,
        "next_wake_at": None,
        "block_reason": None,
    }


async def test_register_desktop_once_then_already_registered(client: httpx.AsyncClient) -> None:
    headers = bearer(await access_token(client))
    body = {"device_id": "desk-1", "device_name": "Laptop"}
    first = await client.post("/api/sync/register-desktop", json=body, headers=headers)
    again = await client.post("/api/sync/register-desktop", json=body, headers=headers)
    assert first.json() == {
        "device_id": "desk-1",
        "device_name": "Laptop",
        "status": "registered",
        "change_token": None,
    }
    assert again.json()["status"] == "already_registered"


async def test_sleep_status_says_awake(client: httpx.AsyncClient) -> None:
    response = await client.get(
        "/api/system/sleep/status", headers=bearer(await access_token(client))
    )
    assert response.status_code == 200
    assert response.json()["current_state"] == "awake"
    assert response.json()["state_since"].endswith("Z")


# -- login --------------------------------------------------------------------------------------


async def test_login_returns_a_bearer_token_and_user_public(client: httpx.AsyncClient) -> None:
    response = await login(client, "maria", "maria-pw")
    assert response.status_code == 200
    body = response.json()
    assert body["token_type"] == "bearer"
    assert "refresh_token" not in body  # login issues none (docs/compat/nas-api.md §2.1)
    assert body["user"] == {
        "username": "maria",
        "email": None,
        "id": 2,
        "role": "user",
        "is_active": True,
        "smb_enabled": False,
        "created_at": body["user"]["created_at"],
        "updated_at": None,
    }
    assert "T" in body["user"]["created_at"]


async def test_access_token_has_exactly_the_nas_claims(client: httpx.AsyncClient) -> None:
    token = await access_token(client)
    header = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9"  # {"alg":"HS256","typ":"JWT"}, base64url
    assert token.split(".")[0] == header
    assert claims_of(token) == {
        "sub": "2",
        "username": "maria",
        "role": "user",
        "type": "access",
        "exp": int(START) + 900,
        "iat": int(START),
    }


async def test_tokens_minted_in_the_same_second_are_identical(client: httpx.AsyncClient) -> None:
    assert await access_token(client) == await access_token(client)


@pytest.mark.parametrize(("username", "password"), [("maria", "wrong"), ("nobody", "maria-pw")])
async def test_login_with_wrong_user_or_password_is_the_same_401(
    client: httpx.AsyncClient, username: str, password: str
) -> None:
    response = await login(client, username, password)
    assert response.status_code == 401
    assert response.json() == {"detail": "Invalid credentials"}


async def test_login_with_a_form_body_is_422(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/api/auth/login", data={"username": "maria", "password": "maria-pw"}
    )
    assert response.status_code == 422
    assert response.json()["detail"][0]["type"] == "model_attributes_type"


async def test_sixth_login_within_a_minute_is_429_until_the_window_ends(
    client: httpx.AsyncClient, clock: FakeClock
) -> None:
    for _ in range(5):
        assert (await login(client, "maria", "wrong")).status_code == 401
    throttled = await login(client, "maria", "maria-pw")
    assert throttled.status_code == 429
    assert throttled.json() == {
        "error": "Too Many Requests",
        "detail": "Rate limit exceeded. Please try again later.",
        "retry_after": 60,
    }
    assert throttled.headers["Retry-After"] == "60"
    clock.advance(60)
    assert (await login(client, "maria", "maria-pw")).status_code == 200


async def test_login_limit_is_per_client_address(nas: EmulatedNas) -> None:
    app = create_nas_app(nas)
    for address, expected in [("192.0.2.1", 401)] * 5 + [("192.0.2.2", 401), ("192.0.2.1", 429)]:
        transport = httpx.ASGITransport(app=app, client=(address, 40000))
        async with httpx.AsyncClient(transport=transport, base_url="http://nas.test") as http:
            assert (await login(http, "maria", "wrong")).status_code == expected


async def test_login_limit_can_be_switched_off(tmp_path: Path) -> None:
    state = EmulatedNas(tmp_path, SECRET, login_rate_limit=None)
    state.add_user("maria", "maria-pw")
    transport = httpx.ASGITransport(app=create_nas_app(state))
    async with httpx.AsyncClient(transport=transport, base_url="http://nas.test") as http:
        for _ in range(8):
            assert (await login(http, "maria", "maria-pw")).status_code == 200


async def test_inactive_user_logs_in_but_the_token_is_refused(
    client: httpx.AsyncClient, nas: EmulatedNas
) -> None:
    maria = nas.user_by_name("maria")
    assert maria is not None
    maria.is_active = False
    token = await access_token(client)  # BaluHost's login does not check is_active
    response = await client.get("/api/auth/me", headers=bearer(token))
    assert response.status_code == 401
    assert response.json() == {"detail": "User account is inactive"}


# -- me -----------------------------------------------------------------------------------------


async def test_me_returns_user_public(client: httpx.AsyncClient) -> None:
    login_body = (await login(client, "maria", "maria-pw")).json()
    response = await client.get("/api/auth/me", headers=bearer(login_body["access_token"]))
    assert response.status_code == 200
    assert response.json() == login_body["user"]


async def test_me_without_a_token_is_401_with_www_authenticate(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/auth/me")
    assert response.status_code == 401
    assert response.json() == {"detail": "No authentication token provided"}
    assert response.headers["WWW-Authenticate"] == "Bearer"


async def test_me_ignores_a_token_in_the_query_string(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/auth/me", params={"token": await access_token(client)})
    assert response.json() == {"detail": "No authentication token provided"}


@pytest.mark.parametrize(
    "make_token",
    [
        pytest.param(lambda: "not-a-jwt", id="garbage"),
        pytest.param(
            lambda: jwt.encode({"sub": "2", "type": "access", "exp": int(START) + 60}, "x" * 32),
            id="other-secret",
        ),
        pytest.param(
            lambda: jwt.encode(
                {"sub": "2", "jti": "j", "type": "refresh", "exp": int(START) + 60}, SECRET
            ),
            id="refresh-token",
        ),
    ],
)
async def test_me_with_an_invalid_token_is_401_could_not_validate(
    client: httpx.AsyncClient, make_token: Any
) -> None:
    response = await client.get("/api/auth/me", headers=bearer(make_token()))
    assert response.status_code == 401
    assert response.json() == {"detail": "Could not validate credentials"}


async def test_access_token_expires_after_fifteen_minutes(
    client: httpx.AsyncClient, clock: FakeClock
) -> None:
    token = await access_token(client)
    clock.advance(15 * 60 - 1)
    assert (await client.get("/api/auth/me", headers=bearer(token))).status_code == 200
    clock.advance(1)
    expired = await client.get("/api/auth/me", headers=bearer(token))
    assert expired.status_code == 401
    assert expired.json() == {"detail": "Could not validate credentials"}


async def test_access_token_lifetime_is_configurable(tmp_path: Path, clock: FakeClock) -> None:
    state = EmulatedNas(tmp_path, SECRET, clock=clock, access_token_minutes=1)
    state.add_user("maria", "maria-pw")
    transport = httpx.ASGITransport(app=create_nas_app(state))
    async with httpx.AsyncClient(transport=transport, base_url="http://nas.test") as http:
        claims = claims_of(await access_token(http))
    assert claims["exp"] - claims["iat"] == 60


async def test_me_for_a_deleted_user_is_401_no_longer_exists(
    client: httpx.AsyncClient, nas: EmulatedNas
) -> None:
    token = await access_token(client)
    del nas.users[2]
    response = await client.get("/api/auth/me", headers=bearer(token))
    assert response.json() == {"detail": "User no longer exists"}


async def test_unknown_device_id_header_is_accepted(client: httpx.AsyncClient) -> None:
    headers = bearer(await access_token(client)) | {"X-Device-ID": str(uuid.uuid4())}
    assert (await client.get("/api/auth/me", headers=headers)).status_code == 200


# -- refresh, logout, mobile registration ---------------------------------------------------------


async def test_mobile_registration_issues_tokens_that_refresh(client: httpx.AsyncClient) -> None:
    registered = await register_phone(client)
    assert registered["token_type"] == "bearer"
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", registered["user"]["created_at"])
    assert set(registered["device"]) == {
        "id",
        "user_id",
        "device_name",
        "device_type",
        "device_model",
        "last_seen",
        "is_active",
    }
    uuid.UUID(registered["device"]["id"])
    refresh_claims = claims_of(registered["refresh_token"])
    assert set(refresh_claims) == {"sub", "jti", "type", "exp", "iat"}
    # The server uses the register call's validity (default 90 days), not the QR's hint.
    assert refresh_claims["exp"] - refresh_claims["iat"] == 90 * 86_400

    response = await client.post(
        "/api/auth/refresh", json={"refresh_token": registered["refresh_token"]}
    )
    assert response.status_code == 200
    assert set(response.json()) == {"access_token", "token_type", "user"}
    me = await client.get("/api/auth/me", headers=bearer(response.json()["access_token"]))
    assert me.json()["username"] == "maria"


async def test_mobile_registration_accepts_the_apps_snake_case_body(
    client: httpx.AsyncClient,
) -> None:
    registered = await register_phone(client, body_style="snake")
    assert registered["device"]["device_model"] == "Pixel 8"


async def test_registration_token_works_once(client: httpx.AsyncClient) -> None:
    token = await access_token(client)
    reg = await client.post(
        "/api/mobile/token/generate", params={"device_name": "Pixel"}, headers=bearer(token)
    )
    body = {"token": reg.json()["token"], "deviceInfo": {"deviceName": "Pixel"}}
    assert reg.json()["token"].startswith("reg_")
    assert (await client.post("/api/mobile/register", json=body)).status_code == 200
    again = await client.post("/api/mobile/register", json=body)
    assert again.status_code == 401


async def test_refresh_with_an_access_token_is_401_invalid(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/api/auth/refresh", json={"refresh_token": await access_token(client)}
    )
    assert response.status_code == 401
    assert response.json() == {"detail": "Invalid refresh token"}


async def test_refresh_with_an_unknown_jti_counts_as_revoked(client: httpx.AsyncClient) -> None:
    forged = jwt.encode(
        {"sub": "2", "jti": str(uuid.uuid4()), "type": "refresh", "exp": int(START) + 3600},
        SECRET,
    )
    response = await client.post("/api/auth/refresh", json={"refresh_token": forged})
    assert response.status_code == 401
    assert response.json() == {"detail": "Refresh token has been revoked"}


async def test_logout_revokes_the_users_refresh_tokens(client: httpx.AsyncClient) -> None:
    registered = await register_phone(client)
    logout = await client.post("/api/auth/logout", headers=bearer(registered["access_token"]))
    assert logout.json() == {"message": "Logged out"}
    response = await client.post(
        "/api/auth/refresh", json={"refresh_token": registered["refresh_token"]}
    )
    assert response.status_code == 401
    assert response.json() == {"detail": "Refresh token has been revoked"}
    # Access tokens have no revocation list: they live on until they expire.
    me = await client.get("/api/auth/me", headers=bearer(registered["access_token"]))
    assert me.status_code == 200


async def test_refresh_for_an_inactive_user_is_401(
    client: httpx.AsyncClient, nas: EmulatedNas
) -> None:
    registered = await register_phone(client)
    maria = nas.user_by_name("maria")
    assert maria is not None
    maria.is_active = False
    response = await client.post(
        "/api/auth/refresh", json={"refresh_token": registered["refresh_token"]}
    )
    assert response.json() == {"detail": "User account is inactive"}


async def test_refresh_is_limited_to_ten_a_minute(client: httpx.AsyncClient) -> None:
    body = {"refresh_token": "garbage"}
    statuses = [(await client.post("/api/auth/refresh", json=body)).status_code for _ in range(11)]
    assert statuses == [401] * 10 + [429]


# -- API keys -----------------------------------------------------------------------------------


async def create_api_key(client: httpx.AsyncClient, **fields: Any) -> httpx.Response:
    admin = bearer(await access_token(client, "admin"))
    body = {"name": "pi", "target_user_id": 2} | fields
    return await client.post("/api/api-keys", json=body, headers=admin)


async def test_api_key_is_shown_once_and_authenticates_as_its_target(
    client: httpx.AsyncClient,
) -> None:
    created = await create_api_key(client)
    assert created.status_code == 201
    body = created.json()
    assert re.fullmatch(r"balu_[A-Za-z0-9_-]{40}", body["key"])
    assert body["key_prefix"] == body["key"][:12]
    assert body["target_username"] == "maria"
    assert body["created_by_username"] == "admin"
    assert body["expires_at"] is None
    me = await client.get("/api/auth/me", headers=bearer(body["key"]))
    assert me.status_code == 200
    assert me.json()["username"] == "maria"


async def test_api_key_expires(client: httpx.AsyncClient, clock: FakeClock) -> None:
    key = (await create_api_key(client, expires_in_days=1)).json()["key"]
    clock.advance(86_400 + 1)
    response = await client.get("/api/auth/me", headers=bearer(key))
    assert response.status_code == 401
    assert response.json() == {"detail": "Invalid API key"}


async def test_unknown_api_key_is_401_invalid_api_key(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/auth/me", headers=bearer("balu_" + "x" * 40))
    assert response.json() == {"detail": "Invalid API key"}


async def test_only_admins_create_api_keys(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/api/api-keys",
        json={"name": "pi", "target_user_id": 2},
        headers=bearer(await access_token(client)),
    )
    assert response.status_code == 403
    assert response.json() == {"detail": "Insufficient permissions: Admin required"}
