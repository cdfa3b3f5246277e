"""``NasEmulator``: one emulated BaluHost machine on loopback, with its power behaviour.

It owns the NAS's API (``create_nas_app`` served by uvicorn), the control channel
(``control.py``), a UDP Wake-on-LAN listener and, optionally, the lifecycle notices to a BaluPi.
The ``PowerModel`` says which state the machine is in; this class makes each state real:

* asleep or off: the API socket is closed (connections refused), ``EmulatedNas`` lives on;
* booting: still closed for ``boot_seconds``, then the API listens again on the same port;
* a cold boot (from off) is a backend start, so it ends with a coming-online notice; resuming from
  sleep is not, and sends none, exactly like the real NAS (docs/compat/nas-api.md §5.1);
* ``shutdown`` (and leaving the ``async with``) is a graceful backend stop: going-offline notice
  first, then the socket closes;
* BaluHost's sleep service (``sleep.py``) runs while the API is up: a background ticker drives its
  timers (``sleep_tick_seconds``; None leaves that to the caller's ``sleep_tick()``), and when it
  decides on a true suspend the machine suspends exactly as ``sleep()`` does, without a notice.

    async with NasEmulator(NasEmulatorConfig(storage=tmp)) as nas:
        nas.api_url, nas.control_url, nas.wol_port
        await nas.sleep(); await nas.wake(); nas.state, nas.power_w

Size: one emulated machine. Each power transition (sleep, wake, boot, shutdown, power cut, the sleep
service's suspend) opens or closes the same API socket and background tasks and sends or withholds
the same notices, so they are read together; the API itself (``app.py``), the power model
(``power.py``), the control channel and Wake-on-LAN live in their own modules.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import logging
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any, Self

import httpx

from balupi.sim.asgi_server import AsgiServer
from balupi.sim.nas.app import NAS_VERSION, create_nas_app
from balupi.sim.nas.control import create_control_app
from balupi.sim.nas.notices import LifecycleNotifier, build_snapshot
from balupi.sim.nas.power import PowerModel, PowerState, PowerTransitionError
from balupi.sim.nas.sleep import CHECK_INTERVAL_S, SleepConfig, SleepService
from balupi.sim.nas.state import EmulatedNas
from balupi.sim.nas.timestamps import iso_z
from balupi.sim.nas.users import DEFAULT_JWT_SECRET, DEFAULT_MAC, DEFAULT_USERS, UserSpec
from balupi.sim.nas.wol import MagicPacketListener, listen_for_magic_packets, normalize_mac

log = logging.getLogger(__name__)

_UP = (PowerState.IDLE, PowerState.BUSY, PowerState.SOFT_SLEEP)


@dataclass(frozen=True)
class NasEmulatorConfig:
    """Everything that shapes one emulated NAS; ports 0 pick free ones."""

    storage: Path
    host: str = "127.0.0.1"
    port: int = 0
    control_port: int = 0
    wol_host: str = "127.0.0.1"
    wol_port: int | None = 0  # None: no Wake-on-LAN listener
    mac: str = DEFAULT_MAC
    jwt_secret: str = DEFAULT_JWT_SECRET
    users: tuple[UserSpec, ...] = DEFAULT_USERS
    boot_seconds: float = 5.0
    busy_seconds: float = 3.0
    start_asleep: bool = False
    access_token_minutes: int = 15
    login_rate_limit: int | None = 5
    refresh_rate_limit: int | None = 10
    notify_url: str | None = None
    handshake_secret: str | None = None
    hostname: str = "baluhost"
    sleep: SleepConfig = field(default_factory=SleepConfig)  # the sleep service's at start
    sleep_time_scale: float = 1.0  # emulated sleep-service seconds per real second
    sleep_tick_seconds: float | None = 1.0  # how often its timers run; None: only on sleep_tick()

    def __post_init__(self) -> None:
        normalize_mac(self.mac)  # fail early on a bad MAC
        if self.boot_seconds < 0:
            raise ValueError("boot_seconds must not be negative")
        if self.sleep_time_scale <= 0:
            raise ValueError("sleep_time_scale must be positive")
        if self.sleep_tick_seconds is not None and self.sleep_tick_seconds <= 0:
            raise ValueError("sleep_tick_seconds must be positive")
        if (self.notify_url is None) != (self.handshake_secret is None):
            raise ValueError("notify_url and handshake_secret go together")


class _Lifecycle(enum.Enum):
    UNOPENED = "unopened"  # built, nothing bound yet
    OPENED = "opened"  # sockets bound, machine running (in whatever power state)
    CLOSED = "closed"  # everything released; cannot be reopened


class NasEmulator:
    """An emulated BaluHost machine; use it as an async context manager."""

    def __init__(
        self,
        config: NasEmulatorConfig,
        *,
        state: EmulatedNas | None = None,
        notice_transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.config = config
        self.nas = state or EmulatedNas(
            config.storage,
            config.jwt_secret,
            access_token_minutes=config.access_token_minutes,
            login_rate_limit=config.login_rate_limit,
            refresh_rate_limit=config.refresh_rate_limit,
        )
        self.nas.sleep = SleepService(
            self.nas.clock,
            config=config.sleep,
            time_scale=config.sleep_time_scale,
            active_uploads=lambda: len(self.nas.chunked_uploads),
        )
        self.nas.sleep.on_suspend = self._suspend_for_sleep_service
        self._suspend_task: asyncio.Task[None] | None = None
        self.power = PowerModel(
            clock=self.nas.clock,
            activity=self.nas,
            busy_seconds=config.busy_seconds,
            start_asleep=config.start_asleep,
            dozing=lambda: self.nas.sleep.dozing,
        )
        self._api = AsgiServer(create_nas_app(self.nas), config.host, config.port)
        self._control = AsgiServer(create_control_app(self), config.host, config.control_port)
        self._notifier = (
            LifecycleNotifier(
                config.notify_url,
                config.handshake_secret,
                clock=self.nas.clock,
                transport=notice_transport,
            )
            if config.notify_url is not None and config.handshake_secret is not None
            else None
        )
        self._wol: asyncio.DatagramTransport | None = None
        self._wol_listener: MagicPacketListener | None = None
        self.wol_port: int | None = None
        self._lifecycle = _Lifecycle.UNOPENED
        self._transitions = asyncio.Lock()  # one machine transition at a time
        self._boot_task: asyncio.Task[None] | None = None
        self._background: set[asyncio.Task[Any]] = set()
        self.power.add_listener(
            lambda reading: log.info("power: %s (%.1f W)", reading.state, reading.power_w)
        )

    # -- reading ------------------------------------------------------------------------------
    @property
    def api_url(self) -> str:
        return self._api.url

    @property
    def control_url(self) -> str:
        return self._control.url

    @property
    def state(self) -> PowerState:
        return self.power.state

    @property
    def power_w(self) -> float:
        return self.power.power_w

    def status(self) -> dict[str, Any]:
        """What the control channel's ``GET /state`` answers."""
        reading = self.power.reading()
        listener = self._wol_listener
        return {
            "state": reading.state.value,
            "since": iso_z(reading.since),
            "power_w": reading.power_w,
            "off_reason": reading.off_reason.value if reading.off_reason else None,
            "api_listening": self._api.listening,
            "api_url": self.api_url,
            "control_url": self.control_url,
            "wol_port": self.wol_port,
            "mac": normalize_mac(self.config.mac),
            "boot_seconds": self.config.boot_seconds,
            "requests_served": self.nas.requests_served,
            "requests_in_flight": self.nas.requests_in_flight,
            "sleep_state": self.nas.sleep.state.value,
            "wol_datagrams": listener.datagrams if listener else 0,
            "wol_wakeups": listener.wakeups if listener else 0,
        }

    # -- lifecycle ----------------------------------------------------------------------------
    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    async def start(self) -> None:
        """Create users and storage, open the control channel and WoL, and boot (unless asleep)."""
        if self._lifecycle is not _Lifecycle.UNOPENED:
            raise RuntimeError(f"cannot start an emulator that is {self._lifecycle.value}")
        self._lifecycle = _Lifecycle.OPENED
        try:
            await self._open()
        except BaseException:
            await self.close()  # a port was taken, say: release what was already bound
            raise

    async def _open(self) -> None:
        await asyncio.to_thread(self._prepare_storage)
        self._api.reserve()
        self.nas.server_url = self.api_url
        await self._control.start()
        if self.config.wol_port is not None:
            self._wol, self._wol_listener = await listen_for_magic_packets(
                self.config.wol_host, self.config.wol_port, self.config.mac, self.request_wake
            )
            self.wol_port = self._wol.get_extra_info("sockname")[1]
        if not self.config.start_asleep:
            await self._api.start()
            self.nas.mark_booted()
            self._spawn(self._announce_online())
        if self.config.sleep_tick_seconds is not None:
            # Compressed time ticks faster, so no tick spans more than one idle check.
            period = min(
                self.config.sleep_tick_seconds, CHECK_INTERVAL_S / self.nas.sleep.time_scale
            )
            self._spawn(self._sleep_ticker(period))

    async def close(self) -> None:
        """A graceful stop of the machine (notice if it is up), then release every socket."""
        if self._lifecycle is not _Lifecycle.OPENED:
            self._lifecycle = _Lifecycle.CLOSED
            return
        if self._api.listening:  # up: the backend process stops gracefully
            with contextlib.suppress(PowerTransitionError):
                await self.shutdown()
        self._lifecycle = _Lifecycle.CLOSED
        if self._wol is not None:
            self._wol.close()
        async with self._transitions:
            await self._cancel_boot()
            await asyncio.gather(self._api.close(), self._control.close())
        for task in list(self._background):
            task.cancel()
        await asyncio.gather(*self._background, return_exceptions=True)

    def _prepare_storage(self) -> None:
        (self.config.storage / "Shared").mkdir(parents=True, exist_ok=True)
        for user in self.config.users:
            if self.nas.user_by_name(user.username) is None:
                self.nas.add_user(user.username, user.password, user.role)

    # -- transitions --------------------------------------------------------------------------
    async def sleep(self) -> bool:
        """Suspend: the API socket closes, then the state is ``asleep``. No notice is sent."""
        async with self._transitions:
            if self.power.state is PowerState.ASLEEP:
                return False
            self._require_up("sleep")
            await self._api.stop()
            return self.power.sleep()

    async def wake(self, *, wait: bool = True) -> bool:
        """Start booting (like WoL or the power button); with ``wait``, until the API is up and
        a cold boot's coming-online notice has been sent.

        Returns False if the machine was already up or booting. Bound the wait with
        ``asyncio.timeout`` if a test must not hang.
        """
        async with self._transitions:
            started = self._begin_boot(self.power.wake)
        if wait:
            await self.wait_until_up()
        return started

    async def wait_until_up(self) -> None:
        """Wait for a boot in progress to finish; PowerTransitionError if it was interrupted."""
        task = self._boot_task
        if task is not None:
            await asyncio.wait({task})
        if self.power.state not in _UP:
            raise PowerTransitionError(f"the machine is {self.power.state}, not up")

    async def shutdown(self) -> bool:
        """Graceful shutdown: going-offline notice, API closed, ``off`` with standby power."""
        async with self._transitions:
            if self.power.state is PowerState.OFF:
                return False
            self._require_up("shut down")
            await self._announce_offline()
            await self._api.stop()
            return self.power.shut_down()

    async def cut_power(self) -> bool:
        """The plug is switched off: off at once, a boot in progress is lost, no notice."""
        async with self._transitions:
            await self._cancel_boot()
            await self._api.stop()
            return self.power.cut_power()

    async def restore_power(self) -> bool:
        """The plug is switched on: a machine whose power was cut boots (cold)."""
        async with self._transitions:
            return self._begin_boot(self.power.restore_power)

    def request_sleep(self) -> None:
        """Suspend from synchronous code (a signal handler); failures are logged."""
        self._spawn(self._discard(self.sleep()))

    def request_wake(self) -> None:
        """Boot from synchronous code (WoL, a signal handler); failures are logged."""
        self._spawn(self._discard(self.wake(wait=False)))

    @staticmethod
    async def _discard(transition: Coroutine[Any, Any, bool]) -> None:
        await transition

    def _require_up(self, action: str) -> None:
        if self.power.state not in _UP:
            raise PowerTransitionError(f"cannot {action} while {self.power.state}")

    def _begin_boot(self, transition: Callable[[], bool]) -> bool:
        if not transition():
            return False
        self._boot_task = self._spawn(self._boot())
        return True

    async def _boot(self) -> None:
        await asyncio.sleep(self.config.boot_seconds)
        async with self._transitions:
            await self._api.start()
            cold = self.power.cold_boot
            if cold:
                self.nas.mark_booted()
                self.nas.sleep.restarted()
            else:
                self.nas.sleep.resumed()
            self.power.boot_complete()
        if cold:
            await self._announce_online()

    async def _cancel_boot(self) -> None:
        task, self._boot_task = self._boot_task, None
        if task is not None and not task.done():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    # -- the sleep service ----------------------------------------------------------------------
    async def sleep_tick(self) -> None:
        """Run the sleep service's due timers now (while the API is up) and wait for a suspend it
        decided on, or one a ``POST /api/system/sleep/suspend`` asked for, to finish."""
        self._tick_if_up()
        task = self._suspend_task
        if task is not None:
            await asyncio.wait({task})

    async def _sleep_ticker(self, seconds: float) -> None:
        while True:
            await asyncio.sleep(seconds)
            self._tick_if_up()

    def _tick_if_up(self) -> None:
        if self._api.listening and self.power.state in _UP:
            self.nas.sleep.tick()

    def _suspend_for_sleep_service(self) -> None:
        """The sleep service suspends the machine. In the background: the request that asked
        for it must get its answer before the API closes."""
        self._suspend_task = self._spawn(self._suspend_machine())

    async def _suspend_machine(self) -> None:
        try:
            await self.sleep()
        except PowerTransitionError as exc:
            log.warning("sleep service could not suspend: %s", exc)
            self.nas.sleep.suspend_failed()

    # -- notices ------------------------------------------------------------------------------
    async def _announce_online(self) -> None:
        if self._notifier is not None:
            await self._notifier.coming_online()

    async def _announce_offline(self) -> None:
        if self._notifier is not None:
            snapshot = await asyncio.to_thread(
                build_snapshot, self.nas, hostname=self.config.hostname, version=NAS_VERSION
            )
            await self._notifier.going_offline(snapshot)

    # -- background work ----------------------------------------------------------------------
    def _spawn(self, work: Coroutine[Any, Any, None]) -> asyncio.Task[None]:
        """Run ``work`` in the background, owned by the emulator: logged if it fails."""
        task = asyncio.get_running_loop().create_task(work)
        self._background.add(task)
        task.add_done_callback(self._finished)
        return task

    def _finished(self, task: asyncio.Task[Any]) -> None:
        self._background.discard(task)
        if not task.cancelled() and (exc := task.exception()) is not None:
            log.warning("emulator task failed: %s", exc)

    def __repr__(self) -> str:
        return f"<NasEmulator {self.api_url} {self.power.state} ({self._lifecycle.value})>"
