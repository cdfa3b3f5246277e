"""The emulator's control channel: a small HTTP API on its own port, beside the NAS's API.

Tests, ``balupi demo`` and the plug emulator use it to read the machine's power state and draw
(``GET /state``) and to act on the machine as a person or a smart plug would: suspend it, press its
power button, switch its plug off and on, shut it down. It stays up while the NAS's API is closed.

| Method & path          | Effect                                                     |
|------------------------|------------------------------------------------------------|
| GET /state             | the status (below)                                         |
| POST /sleep            | suspend (no notice); returns once the API socket is closed |
| POST /wake             | start booting at once; returns while still booting         |
| POST /shutdown         | graceful shutdown: going-offline notice, then off          |
| POST /power/off        | the plug is switched off: off at once, whatever it was     |
| POST /power/on         | the plug is switched on: a cut machine boots               |
| POST /reset-counters   | ``requests_served`` back to 0                              |

Every answer is the status; a transition the machine cannot make is a 409 with ``detail``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from fastapi import APIRouter, FastAPI, HTTPException

from balupi.sim.nas.power import PowerTransitionError

if TYPE_CHECKING:
    from balupi.sim.nas.server import NasEmulator


def create_control_app(emulator: NasEmulator) -> FastAPI:
    """The control API of ``emulator``."""
    router = APIRouter()

    async def act(action: Callable[[], Awaitable[object]]) -> dict[str, Any]:
        try:
            await action()
        except PowerTransitionError as exc:
            raise HTTPException(status_code=409, detail=str(exc)) from exc
        return emulator.status()

    @router.get("/state")
    async def state() -> dict[str, Any]:
        return emulator.status()

    @router.post("/sleep")
    async def sleep() -> dict[str, Any]:
        return await act(emulator.sleep)

    @router.post("/wake")
    async def wake() -> dict[str, Any]:
        return await act(lambda: emulator.wake(wait=False))

    @router.post("/shutdown")
    async def shutdown() -> dict[str, Any]:
        return await act(emulator.shutdown)

    @router.post("/power/off")
    async def power_off() -> dict[str, Any]:
        return await act(emulator.cut_power)

    @router.post("/power/on")
    async def power_on() -> dict[str, Any]:
        return await act(emulator.restore_power)

    @router.post("/reset-counters")
    async def reset_counters() -> dict[str, Any]:
        emulator.nas.reset_counters()
        return emulator.status()

    app = FastAPI(title="BaluHost emulator control", docs_url=None, redoc_url=None)
    app.include_router(router)
    return app
