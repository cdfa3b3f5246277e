"""Running one emulated plug on loopback: ``async with PlugEmulator(PlugConfig(...)) as plug``.

Inside the block the plug listens (``plug.port``; port 0 picks a free one), sources that must be
asked (the NAS) are sampled in the background, and ``plug.power_w``, ``plug.is_on``,
``plug.today`` / ``plug.this_month`` show what python-kasa will read. Leaving the block stops
the server and closes the source's connections.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass, field
from types import TracebackType
from typing import Self
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from balupi.clock import Clock, SystemClock
from balupi.server import RunningServer, running_server
from balupi.sim.plug.app import create_plug_app
from balupi.sim.plug.counters import EnergyLedger, Usage
from balupi.sim.plug.device import PlugDevice
from balupi.sim.plug.klap import DEFAULT_SESSION_TIMEOUT_S, KlapSessions
from balupi.sim.plug.power import PowerSource, parse_power_spec
from balupi.sim.plug.smart import Model, PlugIdentity, SmartApi

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PlugConfig:
    """One plug's settings. ``power`` is a spec (``constant:W``, ``profile:FILE``, ``nas:URL``).

    ``username``/``password`` are the Tapo account the plug is bound to; both empty makes a
    factory-fresh plug that python-kasa reaches with any credentials (see ``klap.py``).
    """

    username: str
    password: str
    host: str = "127.0.0.1"
    port: int = 0
    model: Model = "P110"
    mac: str = "50-C7-BF-00-00-01"
    alias: str = "BaluPi plug"
    power: str = "constant:0"
    timezone: str = "Europe/Berlin"
    voltage_v: float = 230.0
    on: bool = True
    session_timeout_s: int = DEFAULT_SESSION_TIMEOUT_S
    clock: Clock = field(default_factory=SystemClock, compare=False)


def load_timezone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown timezone {name!r}") from None


class PlugEmulator:
    """An emulated Tapo plug served over HTTP while the ``async with`` block runs (once).

    The constructor builds the plug and checks the whole configuration (``ValueError`` with a
    one-line reason), so a command line can report a mistake before anything listens. The
    counters start at construction.
    """

    def __init__(self, config: PlugConfig) -> None:
        self.config = config
        tz = load_timezone(config.timezone)
        self.identity = PlugIdentity(
            model=config.model, mac=config.mac, alias=config.alias, ip=config.host
        )
        self.sessions = KlapSessions(
            config.username,
            config.password,
            clock=config.clock,
            timeout_s=config.session_timeout_s,
        )
        self.device = PlugDevice(
            parse_power_spec(config.power, tz=tz),
            ledger=EnergyLedger(tz),
            clock=config.clock,
            voltage_v=config.voltage_v,
            on=config.on,
        )
        self._app = create_plug_app(
            self.sessions, SmartApi(self.device, self.identity), self.device
        )
        self._server: RunningServer | None = None
        self._stack: contextlib.AsyncExitStack | None = None

    async def __aenter__(self) -> Self:
        if self._stack is not None:
            raise RuntimeError("a PlugEmulator runs once; build a new one")
        self._stack = stack = contextlib.AsyncExitStack()
        source = self.device.source
        stack.push_async_callback(source.aclose)
        try:
            await self.device.refresh()  # a first reading before anyone asks
            self._server = await stack.enter_async_context(
                running_server(self._app, host=self.config.host, port=self.config.port)
            )
            if source.poll_interval_s is not None:
                sampler = asyncio.create_task(_sample(self.device, source.poll_interval_s))
                stack.push_async_callback(_cancel, sampler)
        except BaseException:
            await stack.aclose()
            raise
        log.info("plug emulator %s %s at %s", self.config.model, self.identity.mac, self.url)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._server = None
        if self._stack is not None:
            await self._stack.aclose()

    @property
    def host(self) -> str:
        return self.config.host

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("the plug emulator is not running")
        return self._server.port

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def is_on(self) -> bool:
        return self.device.is_on

    @property
    def power_w(self) -> float:
        return self.device.power_w

    @property
    def today(self) -> Usage:
        return self.device.today()

    @property
    def this_month(self) -> Usage:
        return self.device.this_month()

    @property
    def source(self) -> PowerSource:
        return self.device.source


async def _sample(device: PlugDevice, interval_s: float) -> None:
    """Keep readings fresh between requests, so the integral follows the load closely."""
    while True:
        await asyncio.sleep(interval_s)
        await device.refresh()


async def _cancel(task: asyncio.Task[None]) -> None:
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
