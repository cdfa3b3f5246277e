"""Emulated BaluHost auth routes: login, me, refresh, logout, mobile registration, API keys.

Shapes, status codes and 401 texts follow docs/compat/nas-api.md §2, because BaluApp and BaluDesk
act on them: an HTTP error from ``/api/auth/refresh`` makes BaluApp delete its tokens, and any
status but 2xx or 401 from ``/api/auth/me`` makes BaluDesk wipe its credentials
(docs/compat/clients.md §0).
"""

from __future__ import annotations

import base64
import io
import json
import secrets
import uuid
from datetime import UTC
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query, Request, Response
from fastapi.responses import JSONResponse
from pydantic import AliasChoices, BaseModel, Field

from balupi.sim.nas.deps import AdminUser, CurrentUser, State, unauthorized
from balupi.sim.nas.state import (
    ApiKey,
    EmulatedNas,
    MobileDevice,
    NasUser,
    RegistrationToken,
    check_password,
)
from balupi.sim.nas.timestamps import iso_z, naive_iso
from balupi.sim.nas.tokens import (
    API_KEY_PREFIX,
    TokenError,
    api_key_digest,
    mint_access_token,
    mint_refresh_token,
    read_token,
    subject_user_id,
)

router = APIRouter(prefix="/api")

RETRY_AFTER_SECONDS = 60
REGISTRATION_TOKEN_SECONDS = 5 * 60
MAX_ACTIVE_API_KEYS = 25


class LoginRequest(BaseModel):
    username: str
    password: str


class RefreshRequest(BaseModel):
    refresh_token: str


def _camel_or_snake(camel: str, snake: str) -> AliasChoices:
    # BaluHost documents camelCase, BaluApp sends snake_case: accept both
    # (docs/compat/clients.md §1.2).
    return AliasChoices(camel, snake)


class DeviceInfo(BaseModel):
    device_name: str = Field(validation_alias=_camel_or_snake("deviceName", "device_name"))
    device_type: str = Field(
        "android", validation_alias=_camel_or_snake("deviceType", "device_type")
    )
    device_model: str | None = Field(
        None, validation_alias=_camel_or_snake("deviceModel", "device_model")
    )
    os_version: str | None = Field(
        None, validation_alias=_camel_or_snake("osVersion", "os_version")
    )
    app_version: str | None = Field(
        None, validation_alias=_camel_or_snake("appVersion", "app_version")
    )


class MobileRegisterRequest(BaseModel):
    token: str
    device_info: DeviceInfo = Field(validation_alias=_camel_or_snake("deviceInfo", "device_info"))
    push_token: str | None = Field(
        None, validation_alias=_camel_or_snake("pushToken", "push_token")
    )
    token_validity_days: int = Field(
        90,
        ge=30,
        le=180,
        validation_alias=_camel_or_snake("tokenValidityDays", "token_validity_days"),
    )


class ApiKeyCreate(BaseModel):
    name: str = Field(min_length=1, max_length=100)
    target_user_id: int
    expires_in_days: int | None = Field(None, ge=1, le=365)


def _client_ip(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def _too_many_requests() -> JSONResponse:
    """slowapi's 429 as BaluHost configures it: its own body shape and ``Retry-After``."""
    return JSONResponse(
        {
            "error": "Too Many Requests",
            "detail": "Rate limit exceeded. Please try again later.",
            "retry_after": RETRY_AFTER_SECONDS,
        },
        status_code=429,
        headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
    )


def _token_response(state: EmulatedNas, user: NasUser) -> dict[str, Any]:
    return {
        "access_token": mint_access_token(state, user),
        "token_type": "bearer",
        "user": user.public(),
    }


@router.post("/auth/login", response_model=None)
def login(body: LoginRequest, request: Request, state: State) -> dict[str, Any] | Response:
    """Password login. Issues no refresh token, and does not look at ``is_active`` (as BaluHost)."""
    if not state.login_limiter.hit(_client_ip(request)):
        return _too_many_requests()
    user = state.user_by_name(body.username)
    if user is None or not check_password(body.password, user.password_hash):
        raise unauthorized("Invalid credentials")
    return _token_response(state, user)


@router.get("/auth/me")
def me(user: CurrentUser) -> dict[str, Any]:
    return user.public()


@router.post("/auth/refresh", response_model=None)
def refresh(body: RefreshRequest, request: Request, state: State) -> dict[str, Any] | Response:
    """A new access token for a stored refresh token; refresh tokens are not rotated."""
    if not state.refresh_limiter.hit(_client_ip(request)):
        return _too_many_requests()
    try:
        claims = read_token(state, body.refresh_token, expected="refresh")
        user_id = subject_user_id(claims)
    except TokenError as exc:
        raise unauthorized("Invalid refresh token") from exc
    # BaluHost looks the jti up in its refresh_tokens table: an unknown jti counts as revoked.
    if claims.get("jti") not in state.refresh_jtis:
        raise unauthorized("Refresh token has been revoked")
    user = state.users.get(user_id)
    if user is None:
        raise unauthorized("Invalid refresh token")
    if not user.is_active:
        raise unauthorized("User account is inactive")
    return _token_response(state, user)


@router.post("/auth/logout")
def logout(user: CurrentUser, state: State) -> dict[str, str]:
    """Revokes the user's refresh tokens; access tokens stay valid until they expire."""
    state.revoke_refresh_tokens(user.id)
    return {"message": "Logged out"}


@router.post("/mobile/token/generate")
def generate_registration_token(
    user: CurrentUser,
    state: State,
    request: Request,
    device_name: Annotated[str, Query()],
    token_validity_days: Annotated[int, Query(ge=30, le=180)] = 90,
    include_vpn: bool = False,
    vpn_type: str = "auto",
) -> dict[str, Any]:
    """A one-time ``reg_…`` token for the QR code a phone scans (no VPN config in the emulator)."""
    now = state.clock()
    token = RegistrationToken(
        token=f"reg_{secrets.token_urlsafe(32)}",
        user_id=user.id,
        device_name=device_name,
        expires_at=now + REGISTRATION_TOKEN_SECONDS,
    )
    with state.lock:
        state.registration_tokens[token.token] = token
    server_url = state.server_url or str(request.base_url).rstrip("/")
    expires_at = iso_z(token.expires_at)
    qr_payload = {
        "token": token.token,
        "server": server_url,
        "expires_at": expires_at,
        "device_token_validity_days": token_validity_days,
    }
    return {
        "token": token.token,
        "server_url": server_url,
        "expires_at": expires_at,
        "qr_code": _qr_placeholder_png(json.dumps(qr_payload)),
        "vpn_config": None,
        "device_token_validity_days": token_validity_days,
        "vpn_fallback": None,
    }


def _qr_placeholder_png(payload: str) -> str:
    """A base64 PNG standing in for the QR image; it carries the payload as a text chunk."""
    from PIL import Image, PngImagePlugin

    info = PngImagePlugin.PngInfo()
    info.add_text("qr-payload", payload)
    buffer = io.BytesIO()
    Image.new("1", (29, 29), 1).save(buffer, format="PNG", pnginfo=info)
    return base64.b64encode(buffer.getvalue()).decode()


@router.post("/mobile/register")
def register_mobile_device(body: MobileRegisterRequest, state: State) -> dict[str, Any]:
    """Trade a registration token for access + refresh tokens and a device record."""
    now = state.clock()
    with state.lock:
        registration = state.registration_tokens.get(body.token)
        if registration is None or registration.used or registration.expires_at <= now:
            raise unauthorized("Invalid or expired registration token")
        registration.used = True
    user = state.users.get(registration.user_id)
    if user is None or not user.is_active:
        raise unauthorized("User account is inactive")
    device = MobileDevice(
        id=str(uuid.uuid4()),
        user_id=user.id,
        device_name=body.device_info.device_name,
        device_type=body.device_info.device_type,
        device_model=body.device_info.device_model,
        last_seen=now,
    )
    with state.lock:
        state.mobile_devices[device.id] = device
    return {
        "access_token": mint_access_token(state, user),
        "refresh_token": mint_refresh_token(state, user, validity_days=body.token_validity_days),
        "token_type": "bearer",
        "user": {
            "id": user.id,
            "username": user.username,
            "email": user.email,
            "role": user.role,
            # NasUser keeps naive UTC; this hand-built response adds milliseconds and a Z.
            "created_at": iso_z(user.created_at.replace(tzinfo=UTC).timestamp(), "milliseconds"),
            "is_active": user.is_active,
        },
        "device": {
            "id": device.id,
            "user_id": device.user_id,
            "device_name": device.device_name,
            "device_type": device.device_type,
            "device_model": device.device_model,
            "last_seen": iso_z(device.last_seen, "milliseconds"),
            "is_active": device.is_active,
        },
    }


@router.post("/api-keys", status_code=201)
def create_api_key(body: ApiKeyCreate, admin: AdminUser, state: State) -> dict[str, Any]:
    """A ``balu_`` key acting as ``target_user_id``; the raw key is returned this once only."""
    target = state.users.get(body.target_user_id)
    if target is None:
        raise HTTPException(status_code=404, detail="Target user not found")
    if target.role == "admin" and target.id != admin.id:
        raise HTTPException(status_code=400, detail="Cannot create API keys for other admins")
    active = sum(
        1 for key in state.api_keys.values() if key.created_by_id == admin.id and key.is_active
    )
    if active >= MAX_ACTIVE_API_KEYS:
        raise HTTPException(
            status_code=400, detail=f"Maximum of {MAX_ACTIVE_API_KEYS} active API keys reached"
        )
    raw_key = API_KEY_PREFIX + secrets.token_urlsafe(30)  # 40 url-safe characters
    now = state.clock()
    expires_at = now + body.expires_in_days * 86_400 if body.expires_in_days else None
    key = state.add_api_key(
        api_key_digest(raw_key),
        ApiKey(
            user_id=target.id,
            expires_at=expires_at,
            name=body.name,
            key_prefix=raw_key[: len(API_KEY_PREFIX) + 7],
            created_by_id=admin.id,
            created_at=now,
        ),
    )
    return {
        "id": key.id,
        "name": key.name,
        "key": raw_key,
        "key_prefix": key.key_prefix,
        "target_user_id": target.id,
        "target_username": target.username,
        "created_by_username": admin.username,
        "expires_at": naive_iso(expires_at) if expires_at is not None else None,
        "created_at": naive_iso(now),
    }
