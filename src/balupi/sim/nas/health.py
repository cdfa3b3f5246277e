"""Emulated BaluHost routes that tell a client whether and how the NAS is there.

Health (docs/compat/nas-api.md §1), the system info the apps' dashboards poll, sync preflight and
desktop registration (docs/compat/nas-api.md §4.1). The sleep service's own routes are in
``sleep_api.py``; suspended or off, the socket is closed and none of these answer.
"""

from __future__ import annotations

import shutil
from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel

from balupi.sim.nas.deps import CurrentUser, State
from balupi.sim.nas.sleep import EMULATED_CPU_PERCENT, SleepState
from balupi.sim.nas.state import DesktopDevice

NAS_VERSION = "1.38.0"
API_VERSION = "1"

router = APIRouter(prefix="/api")

_HEALTH = {
    "status": "ok",
    "version": NAS_VERSION,
    "api_version": API_VERSION,
    "min_api_version": API_VERSION,
}

# What the emulated machine claims to be; the numbers are plausible, not measured.
CPU_MODEL = "AMD Ryzen 5 5600G (emulated)"
MEMORY_TOTAL_BYTES = 16 * 1024**3
_CPU = {"cores": 6, "frequency_mhz": 3900.0, "model": CPU_MODEL}


class DesktopRegistration(BaseModel):
    device_id: str
    device_name: str | None = None


@router.get("/health")
def health() -> dict[str, str]:
    """No auth, no hostname, no checks: exactly the NAS's body (HEAD is a 405 there too)."""
    return dict(_HEALTH)


@router.get("/ping")
def ping() -> dict[str, str]:
    return dict(_HEALTH)


@router.get("/system/mode")
def system_mode() -> dict[str, bool]:
    """Production mode: no dev credentials are advertised."""
    return {"dev_mode": False}


@router.get("/system/info")
def system_info(user: CurrentUser, state: State) -> dict[str, Any]:
    """SystemInfo with both ``free`` and ``available`` (BaluApp reads one, BaluDesk the other)."""
    disk = shutil.disk_usage(state.storage)
    memory_used = MEMORY_TOTAL_BYTES // 4
    uptime = state.uptime_seconds()
    return {
        "cpu": {"usage": EMULATED_CPU_PERCENT, "temperature_celsius": 41.0, **_CPU},
        "memory": {
            "total": MEMORY_TOTAL_BYTES,
            "used": memory_used,
            "free": MEMORY_TOTAL_BYTES - memory_used,
            "available": MEMORY_TOTAL_BYTES - memory_used,
            "speed_mts": 3200,
            "type": "DDR4",
        },
        "disk": {
            "total": disk.total,
            "used": disk.used,
            "free": disk.free,
            "available": disk.free,
        },
        "uptime": uptime,
        "system_uptime": uptime,
        "dev_mode": False,
    }


@router.get("/sync/preflight")
def sync_preflight(user: CurrentUser, state: State) -> dict[str, Any]:
    """Whitelisted (never wakes the NAS): sync is allowed only while the sleep service is awake."""
    current = state.sleep.state
    awake = current is SleepState.AWAKE
    return {
        "sync_allowed": awake,
        "current_sleep_state": current.value,
        "sleep_schedule": None,
        "next_sleep_at": None,
        "next_wake_at": None,
        "block_reason": None if awake else "sleep_active",
    }


@router.post("/sync/register-desktop")
def register_desktop(body: DesktopRegistration, user: CurrentUser, state: State) -> dict[str, Any]:
    """Registers a BaluDesk install once; a repeat answers ``already_registered``."""
    with state.lock:
        known = body.device_id in state.desktop_devices
        if not known:
            state.desktop_devices[body.device_id] = DesktopDevice(
                body.device_id, user.id, body.device_name
            )
        device = state.desktop_devices[body.device_id]
    return {
        "device_id": device.device_id,
        "device_name": device.device_name,
        "status": "already_registered" if known else "registered",
        "change_token": None,
    }
