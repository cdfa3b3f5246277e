"""The HTTP side of the emulated sleep service: the request guard and ``/api/system/sleep/*``.

``SleepGuard`` stands in for BaluHost's auto-wake middleware plus its sync guard: it counts every
request but presence heartbeats toward the idle metric, wakes a soft-sleeping machine on any
request outside the wake whitelist, and refuses background sync (``X-Sync-Trigger: auto`` or
``scheduled``) with the scrubbed 503 while the machine is not awake, without waking it.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.datastructures import Headers
from starlette.types import ASGIApp, Receive, Scope, Send

from balupi.sim.nas.deps import AdminUser, CurrentUser, State
from balupi.sim.nas.sleep import (
    HEARTBEAT_INTERVAL_S,
    SleepConfig,
    SleepConfigUpdate,
    SleepState,
    SleepTrigger,
)
from balupi.sim.nas.state import EmulatedNas

PRESENCE_PATH = "/api/system/sleep/presence"

# Paths (prefixes) that never wake a soft-sleeping NAS. ``/health`` is on the list although the
# backend serves nothing there (404): in production nginx answers it.
WAKE_WHITELIST = (
    "/api/system/sleep/status",
    "/api/system/sleep/config",
    "/api/system/sleep/history",
    "/api/system/sleep/capabilities",
    PRESENCE_PATH,
    "/api/power/status",
    "/api/system/info",
    "/api/monitoring/",
    "/api/admin/services",
    "/api/sync/preflight",
    "/health",
    "/docs",
    "/openapi.json",
    "/redoc",
)

# Sync routes that refuse background requests while the NAS is not awake.
SYNC_GUARDED = (
    "/api/sync/changes",
    "/api/sync/state",
    "/api/sync/report-folders",
    "/api/sync/upload",
)
BACKGROUND_TRIGGERS = frozenset({"auto", "scheduled"})

# What BaluHost's 5xx scrubber leaves of the sync guard's 503 (no Retry-After either).
_SCRUBBED = {"detail": "Internal server error"}


class SleepGuard:
    """Plain ASGI, inside ``RequestAccounting``: sees every request before routing (and 404s)."""

    def __init__(self, app: ASGIApp, state: EmulatedNas) -> None:
        self.app = app
        self.state = state

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and await self._refused(scope, receive, send):
            return
        await self.app(scope, receive, send)

    async def _refused(self, scope: Scope, receive: Receive, send: Send) -> bool:
        """Count the request and wake the NAS if it must; True if it was answered here."""
        sleep = self.state.sleep
        path, method = str(scope["path"]), str(scope["method"])
        if not path.startswith(PRESENCE_PATH):
            sleep.record_request()
        trigger = Headers(scope=scope).get("x-sync-trigger", "").strip().lower()
        if trigger in BACKGROUND_TRIGGERS:
            if sleep.state is not SleepState.AWAKE and path.startswith(SYNC_GUARDED):
                await JSONResponse(_SCRUBBED, status_code=503)(scope, receive, send)
                return True
        elif sleep.state is SleepState.SOFT_SLEEP and not path.startswith(WAKE_WHITELIST):
            sleep.exit_soft_sleep(f"auto_wake: {method} {path}")
        return False


class SoftSleepRequest(BaseModel):
    reason: str | None = None


class SuspendRequest(BaseModel):
    wake_at: str | None = None  # accepted; the emulated machine has no RTC alarm
    reason: str | None = None


class PresenceHeartbeat(BaseModel):
    client_id: str
    client_type: str = "unknown"


router = APIRouter(prefix="/api/system/sleep")


def _done(message: str) -> dict[str, Any]:
    return {"success": True, "message": message}


def _conflict(detail: str) -> HTTPException:
    return HTTPException(status_code=409, detail=detail)


@router.get("/status")
async def sleep_status(user: CurrentUser, state: State) -> dict[str, Any]:
    return state.sleep.status()


@router.get("/config")
async def get_config(user: AdminUser, state: State) -> SleepConfig:
    return state.sleep.config


@router.put("/config")
async def put_config(body: SleepConfigUpdate, user: AdminUser, state: State) -> SleepConfig:
    return state.sleep.update_config(body)


@router.get("/history")
async def history(
    user: AdminUser,
    state: State,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> dict[str, Any]:
    return state.sleep.history(limit, offset)


@router.get("/capabilities")
async def capabilities(user: AdminUser) -> dict[str, Any]:
    return {
        "hdparm_available": True,
        "rtcwake_available": True,
        "systemctl_available": True,
        "can_suspend": True,
        "wol_interfaces": ["eth0"],
        "data_disk_devices": ["/dev/sda", "/dev/sdb"],
    }


@router.post("/soft")
async def enter_soft_sleep(
    user: AdminUser, state: State, body: SoftSleepRequest | None = None
) -> dict[str, Any]:
    reason = (body.reason if body else None) or f"manual by {user.username}"
    if not state.sleep.enter_soft_sleep(reason, SleepTrigger.MANUAL):
        raise _conflict("Cannot enter soft sleep from current state")
    return _done("Entered soft sleep mode")


@router.post("/wake")
async def wake(user: AdminUser, state: State) -> dict[str, Any]:
    if not state.sleep.exit_soft_sleep(f"manual wake by {user.username}"):
        raise _conflict("Cannot wake from current state")
    return _done("Exited soft sleep mode")


@router.post("/suspend")
async def suspend(
    user: AdminUser, state: State, body: SuspendRequest | None = None
) -> dict[str, Any]:
    """The answer goes out first; the emulator then closes the API (see ``NasEmulator``)."""
    reason = (body.reason if body else None) or f"manual suspend by {user.username}"
    if not state.sleep.enter_true_suspend(reason, SleepTrigger.MANUAL):
        raise _conflict("Cannot suspend from current state")
    return _done("System suspended")


@router.post("/presence")
async def presence(body: PresenceHeartbeat, user: CurrentUser, state: State) -> dict[str, Any]:
    """Marks a client present: blocks only an automatic suspend, never counts as activity."""
    state.sleep.record_presence(body.client_id)
    return {"status": "ok", "heartbeat_interval_seconds": HEARTBEAT_INTERVAL_S}
