"""API errors carry a stable machine ``code`` on BaluPi's own endpoints, and only there (issue 13).

The dashboard translates by the code, so a code is a contract: every BaluPi error class names its
own, unique one, and the ones below never change. The BaluHost-compatible routes keep BaluHost's
bodies exactly (docs/compat/clients.md §6): no ``code`` is added there.
"""

from __future__ import annotations

import importlib
import pkgutil
import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

import balupi
from balupi.api.errors import HTTP_CODES, INVALID_INPUT, speaks_codes
from balupi.errors import BaluPiError

# The codes the dashboard translates (web/src/i18n.ts, ``apiError.code.<code>``): never rename one.
PINNED = {
    "NasAsleep": "nas_asleep",
    "NasUnreachable": "nas_unreachable",
    "AuthUndecided": "auth_undecided",
    "NotAuthenticated": "not_authenticated",
    "PermissionDenied": "permission_denied",
    "TooManyAttempts": "too_many_attempts",
    "PlugError": "plug_error",
    "PlugAuthFailed": "plug_auth_failed",
    "PlugUnavailable": "plug_unavailable",
    "PlugNotFound": "plug_not_found",
    "PlugAddressInvalid": "plug_address_invalid",
    "PlugRefused": "plug_refused",
    "DeviceNotFound": "device_not_found",
    "TariffNotFound": "tariff_not_found",
    "TariffInvalid": "tariff_invalid",
    "TariffConflict": "tariff_conflict",
    "WindowInvalid": "window_invalid",
    "InsufficientStorage": "disk_full",
}


def _error_classes() -> Iterator[type[BaluPiError]]:
    """Every BaluPi error class, after importing every module that could define one."""
    for module in pkgutil.walk_packages(balupi.__path__, "balupi."):
        if module.name.endswith("__main__") or module.name.startswith("balupi.db.migrations"):
            continue
        importlib.import_module(module.name)
    pending: list[type[BaluPiError]] = [BaluPiError]
    while pending:
        cls = pending.pop()
        yield cls
        pending.extend(cls.__subclasses__())


def test_every_error_class_names_its_own_unique_snake_case_code() -> None:
    classes = list(_error_classes())
    unnamed = [cls.__qualname__ for cls in classes if "code" not in vars(cls)]
    assert unnamed == []
    codes = [cls.code for cls in classes]
    assert len(set(codes)) == len(codes), sorted(codes)
    assert all(re.fullmatch(r"[a-z]+(_[a-z]+)*", code) for code in codes), codes


def test_the_codes_the_dashboard_translates_are_stable() -> None:
    by_name = {cls.__name__: cls.code for cls in _error_classes()}
    assert {name: by_name[name] for name in PINNED} == PINNED


async def test_a_plug_address_that_cannot_be_is_answered_with_its_code(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    answer = await client.post("/api/tapo/devices", headers=admin_headers, json={"host": "a b"})
    assert answer.status_code == 422
    assert answer.json()["code"] == "plug_address_invalid"
    assert answer.json()["detail"].startswith("Not a plug address")


async def test_tariff_dates_the_wrong_way_round_are_answered_with_its_code(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    body = {
        "name": "Arbeitspreis",
        "price_per_kwh": "0.3412",
        "valid_from": "2026-01-01",
        "valid_until": "2025-12-31",
    }
    answer = await client.post("/api/energy/tariffs", headers=admin_headers, json=body)
    assert answer.status_code == 422
    assert answer.json() == {
        "detail": "The end date must come after the start date.",
        "code": "tariff_invalid",
    }


@pytest.mark.parametrize(
    ("method", "path", "status", "code"),
    [
        ("GET", "/api/tapo/devices/9999", 404, "plug_not_found"),
        ("DELETE", "/api/energy/tariffs/9999", 404, "tariff_not_found"),
        ("GET", "/api/energy/history?from=yesterday", 422, "invalid_input"),
        ("PUT", "/api/sync/policies", 422, "invalid_input"),
    ],
)
async def test_errors_on_the_pis_own_routes_carry_a_code(
    client: httpx.AsyncClient,
    admin_headers: dict[str, str],
    method: str,
    path: str,
    status: int,
    code: str,
) -> None:
    answer = await client.request(method, path, headers=admin_headers, json=[])
    assert answer.status_code == status, answer.text
    assert answer.json()["code"] == code


async def test_a_missing_login_on_a_pi_route_carries_a_code(client: httpx.AsyncClient) -> None:
    answer = await client.get("/api/system/status")
    assert answer.status_code == 401
    assert answer.json() == {
        "detail": "No authentication token provided",
        "code": "not_authenticated",
    }


@pytest.mark.parametrize(
    ("method", "path", "status", "as_admin"),
    [
        ("GET", "/api/files/list", 401, False),
        ("GET", "/api/auth/me", 401, False),
        ("POST", "/api/sync/register-desktop", 422, True),
        ("POST", "/api/handshake/nas-going-offline", 503, False),
    ],
)
async def test_baluhost_compatible_routes_keep_a_detail_only_body(
    client: httpx.AsyncClient,
    admin_headers: dict[str, str],
    method: str,
    path: str,
    status: int,
    as_admin: bool,
) -> None:
    headers = {**admin_headers, "Content-Type": "application/json"} if as_admin else {}
    answer = await client.request(method, path, headers=headers, content=b"{")
    assert answer.status_code == status, answer.text
    assert set(answer.json()) == {"detail"}


def test_the_dashboard_has_a_sentence_for_every_code_it_can_show() -> None:
    i18n = (Path(__file__).parent.parent / "web" / "src" / "i18n.ts").read_text(encoding="utf-8")
    shown = {*PINNED.values(), INVALID_INPUT, *HTTP_CODES.values()} - {"method_not_allowed"}
    # once in English, once in German (the German table must hold every English key)
    missing = sorted(code for code in shown if i18n.count(f"'apiError.code.{code}':") != 2)
    assert missing == []


def test_baluhosts_own_system_routes_passed_through_are_not_the_pis() -> None:
    """BaluApp polls ``/api/system/info`` and the sleep status through the Pi: BaluHost's bodies."""
    assert speaks_codes("/api/system/status")
    assert not speaks_codes("/api/system/info")
    assert not speaks_codes("/api/system/sleep/status")
