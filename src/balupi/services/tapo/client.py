"""The python-kasa boundary: connecting to Tapo plugs, reading them, switching them.

Nothing else in BaluPi imports ``kasa``, and this module only when a plug is first connected or
looked for: python-kasa and aiohttp under it cost an install without plugs megabytes and seconds
on a Pi (issue 14). Errors are translated here, once, the way Home
Assistant's tplink coordinator does it: ``AuthenticationError`` becomes ``PlugAuthFailed``, every
other ``KasaException`` (and a plain ``OSError`` or timeout) becomes ``PlugUnavailable``, always
``from`` the original. Readings are taken through python-kasa's ``Module.Energy`` interface (W,
V, A, kWh floats) and turned into the integer units BaluPi stores (mW, mV, mA, Wh) in one place.

Connecting uses ``Device.connect`` with a ``DeviceConfig``, never UDP discovery: the connection
parameters python-kasa negotiated (transport, login version, HTTP port) are cached per plug
(``PlugConnection.connection_params``) and handed back on the next connect, so a reconnect is one
login and nothing more. Without a cache the known Tapo plug transports are tried in turn: KLAP v2
(current P110/P115 firmware), then AES "securePassthrough" (older firmware, e.g. P110 1.2.3).
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import ipaddress
import math
import re
import socket
import sys
from collections.abc import Awaitable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import TYPE_CHECKING, Any, TypeVar

from balupi.errors import PlugAddressInvalid, PlugAuthFailed, PlugError, PlugUnavailable
from balupi.logs import get_logger
from balupi.services.nas.magic_packet import normalize_mac

if TYPE_CHECKING:  # python-kasa (with aiohttp) is imported on the first connection, not before
    from kasa import Credentials, Device, DeviceConfig
    from kasa.deviceconfig import DeviceConnectionParameters

log = get_logger(__name__)

_T = TypeVar("_T")


async def load_kasa() -> None:
    """Import python-kasa in a worker thread the first time: a second of importing on a Pi
    would otherwise stall the event loop (and every request) just after start-up."""
    if "kasa" not in sys.modules:
        await asyncio.to_thread(importlib.import_module, "kasa")


@cache
def tapo_transports() -> tuple[DeviceConnectionParameters, ...]:
    """Tried in this order when a plug's parameters are not cached yet."""
    from kasa.deviceconfig import DeviceConnectionParameters, DeviceEncryptionType, DeviceFamily

    return (
        DeviceConnectionParameters(DeviceFamily.SmartTapoPlug, DeviceEncryptionType.Klap, 2),
        DeviceConnectionParameters(DeviceFamily.SmartTapoPlug, DeviceEncryptionType.Aes, 2),
    )


@dataclass(frozen=True)
class PlugAddress:
    """Where a plug is reached; ``port`` only for plugs (emulators) off the standard port."""

    host: str
    port: int | None = None

    def __str__(self) -> str:
        return self.host if self.port is None else f"{self.host}:{self.port}"

    @classmethod
    def checked(cls, host: str, port: int | None = None) -> PlugAddress:
        """The address an admin entered, if a plug can have it; else ``PlugAddressInvalid``.

        python-kasa writes the host into a URL unescaped, so anything but an IPv4 address or
        a host name (a ``\\``, a ``[``, a ``:port``, bad IDNA, IPv6) would fail in there with
        a ``ValueError`` or ``UnicodeError`` instead of a plain refusal.
        """
        if not (_is_ipv4(host) or _is_host_name(host)):
            raise PlugAddressInvalid(
                "Not a plug address: give the plug's IPv4 address or host name "
                "(and its port, if any, as port)."
            )
        return cls(host, port)


_HOST_LABEL = re.compile(r"(?!-)[A-Za-z0-9_-]{1,63}(?<!-)")


def _is_ipv4(host: str) -> bool:
    try:
        return isinstance(ipaddress.ip_address(host), ipaddress.IPv4Address)
    except ValueError:
        return False


def _is_host_name(host: str) -> bool:
    """A DNS name (IDNA allowed): labels of letters, digits, ``-`` and ``_``, at most 253 bytes."""
    try:
        name = host.encode("idna").decode("ascii")
        for label in name.split("."):
            if label.lower().startswith("xn--"):
                label.encode("ascii").decode("idna")  # punycode that decodes to nothing valid
    except UnicodeError:
        return False
    labels = name.removesuffix(".").split(".")
    return len(name) <= 253 and all(_HOST_LABEL.fullmatch(label) for label in labels)


@dataclass(frozen=True)
class PlugIdentity:
    """Who a plug is. ``mac`` (``AA:BB:CC:DD:EE:FF``) is what BaluPi matches plugs by."""

    mac: str
    model: str
    alias: str
    firmware: str | None


@dataclass(frozen=True)
class PlugReading:
    """One reading in BaluPi's units. ``power_mw`` is None for a plug without an energy meter."""

    at: datetime
    is_on: bool
    power_mw: int | None
    voltage_mv: int | None = None
    current_ma: int | None = None
    today_wh: int | None = None
    month_wh: int | None = None

    @property
    def power_w(self) -> float | None:
        return None if self.power_mw is None else self.power_mw / 1000

    @property
    def voltage_v(self) -> float | None:
        return None if self.voltage_mv is None else self.voltage_mv / 1000

    @property
    def current_a(self) -> float | None:
        return None if self.current_ma is None else self.current_ma / 1000


def _milli(value: float | None) -> int | None:
    """W → mW, V → mV, A → mA, kWh → Wh: python-kasa divided the plug's integers by 1000."""
    return None if value is None else round(value * 1000)


@contextlib.contextmanager
def kasa_errors(address: PlugAddress) -> Iterator[None]:
    """Translate python-kasa's errors for the plug at ``address`` into BaluPi's."""
    from kasa import AuthenticationError, KasaException

    try:
        yield
    except AuthenticationError as exc:
        raise PlugAuthFailed(f"the plug at {address} refused the Tapo credentials") from exc
    except (KasaException, OSError) as exc:  # kasa's TimeoutError is a KasaException
        raise PlugUnavailable(_unreachable(address, exc)) from exc


def _unreachable(address: PlugAddress, exc: BaseException) -> str:
    """A plain sentence for the admin: the exception's own text (a repr of aiohttp's error, an
    HTTP status) stays in the chained cause, for the logs."""
    cause: BaseException | None = exc
    while cause is not None:
        if isinstance(cause, socket.gaierror):
            return (
                f"No device called {address.host} was found on the network. "
                "Check the plug's address."
            )
        cause = cause.__cause__ or cause.__context__
    return (
        f"The plug at {address} did not answer. Check that it is plugged in, "
        "on the same network, and that the address is right."
    )


async def within(timeout_s: float, address: PlugAddress, work: Awaitable[_T]) -> _T:
    """Await ``work`` for at most ``timeout_s``; running out of time is a ``PlugUnavailable``.

    python-kasa retries inside one call, so its own request timeout does not bound a whole
    connect or read; this does, and cancels the call (python-kasa closes what it opened).
    Importing python-kasa the first time is not the plug's slowness: it happens before the clock
    starts.
    """
    await load_kasa()
    try:
        async with asyncio.timeout(timeout_s):
            return await work
    except TimeoutError as exc:  # ours: python-kasa's own timeouts are mapped by kasa_errors
        raise PlugUnavailable(
            f"the plug at {address} did not answer within {timeout_s:g} s"
        ) from exc


class PlugConnection:
    """One open connection to one plug (a python-kasa ``Device``). Close it when done."""

    def __init__(self, device: Device, address: PlugAddress) -> None:
        self._device = device
        self.address = address

    @property
    def identity(self) -> PlugIdentity:
        device = self._device
        firmware = device.hw_info.get("sw_ver")
        return PlugIdentity(
            mac=normalize_mac(device.mac).upper(),
            model=device.model,
            alias=device.alias or device.model,
            firmware=str(firmware) if firmware else None,
        )

    @property
    def connection_params(self) -> dict[str, Any]:
        """What to cache for the next connect: python-kasa's negotiated connection type."""
        return {"connection_type": self._device.config.connection_type.to_dict()}

    def reading(self, at: datetime) -> PlugReading:
        """What the plug said at its last update (no I/O), stamped ``at``."""
        from kasa import Module

        device = self._device
        energy = device.modules.get(Module.Energy)
        if energy is None:
            return PlugReading(at=at, is_on=device.is_on, power_mw=None)
        return PlugReading(
            at=at,
            is_on=device.is_on,
            power_mw=_milli(energy.current_consumption),
            voltage_mv=_milli(energy.voltage),
            current_ma=_milli(energy.current),
            today_wh=_milli(energy.consumption_today),
            month_wh=_milli(energy.consumption_this_month),
        )

    async def update(self) -> None:
        """Ask the plug for its state and energy (python-kasa batches it into few requests)."""
        with kasa_errors(self.address):
            await self._device.update(update_children=False)

    async def read(self, at: datetime) -> PlugReading:
        await self.update()
        return self.reading(at)

    async def switch(self, on: bool) -> None:
        with kasa_errors(self.address):
            if on:
                await self._device.turn_on()
            else:
                await self._device.turn_off()

    async def close(self) -> None:
        """Close the plug's HTTP session; never raises (a dead plug must still be droppable)."""
        try:
            await self._device.disconnect()
        except Exception as exc:  # closing is best effort: the session is gone either way
            log.debug("plug disconnect failed", plug=str(self.address), error=str(exc))


@dataclass(frozen=True)
class Discovered:
    """One answer to a discovery broadcast: a connection, or why there is none."""

    host: str
    mac: str | None
    connection: PlugConnection | None = None
    error: PlugError | None = None


class PlugConnector:
    """Opens ``PlugConnection``s with the Tapo account from the settings.

    ``request_timeout_s`` is python-kasa's own per-request timeout; callers bound whole
    operations (connect + read) with ``asyncio.timeout`` on top, since python-kasa retries.
    """

    def __init__(
        self, username: str | None, password: str | None, *, request_timeout_s: float = 5.0
    ) -> None:
        self._username = username
        self._password = password or ""
        self._request_timeout = max(1, math.ceil(request_timeout_s))

    @property
    def _credentials(self) -> Credentials | None:
        """None without an account: python-kasa tries a factory-fresh plug's blank one."""
        from kasa import Credentials

        return Credentials(self._username, self._password) if self._username else None

    def _config(self, address: PlugAddress, params: DeviceConnectionParameters) -> DeviceConfig:
        from kasa import DeviceConfig

        return DeviceConfig(
            host=address.host,
            port_override=address.port,
            timeout=self._request_timeout,
            credentials=self._credentials,
            connection_type=params,
        )

    async def connect(
        self, address: PlugAddress, cached: Mapping[str, Any] | None = None
    ) -> PlugConnection:
        """Connect and read the plug once; with ``cached`` parameters, without trying others."""
        await load_kasa()
        from kasa import Device

        params = _cached_params(cached)
        candidates = (params,) if params is not None else tapo_transports()
        failure: PlugError | None = None
        for candidate in candidates:
            try:
                with kasa_errors(address):
                    device = await Device.connect(config=self._config(address, candidate))
            except PlugAuthFailed:
                raise  # it speaks this transport and refused the account: no point going on
            except PlugUnavailable as exc:
                failure = exc
                continue
            connection = PlugConnection(device, address)
            log.info(
                "plug connected",
                plug=str(address),
                mac=connection.identity.mac,
                transport=candidate.encryption_type.value,
            )
            return connection
        assert failure is not None  # candidates is never empty
        raise failure

    async def discover(self, target: str, *, wait_s: float) -> list[Discovered]:
        """Broadcast python-kasa's discovery to ``target`` and connect to every plug that answers.

        Devices python-kasa cannot drive are left out; a plug that refuses the account is
        reported with its ``PlugAuthFailed``.
        """
        await load_kasa()
        from kasa import Discover, KasaException

        try:
            found = await Discover.discover(
                target=target,
                discovery_timeout=max(1, math.ceil(wait_s)),
                credentials=self._credentials,
                timeout=self._request_timeout,
            )
        except (KasaException, OSError) as exc:
            raise PlugUnavailable(
                f"Looking for plugs on {target} failed. Check the network and try again."
            ) from exc
        results: list[Discovered] = []
        for host, device in found.items():
            address = PlugAddress(host)
            mac = normalize_mac(device.mac).upper() if device.mac else None
            connection = PlugConnection(device, address)
            try:
                await connection.update()  # discovery tells the type; the rest needs a login
            except PlugError as exc:
                await connection.close()
                results.append(Discovered(host, mac, error=exc))
            else:
                results.append(Discovered(host, mac, connection=connection))
        return results


def _cached_params(cached: Mapping[str, Any] | None) -> DeviceConnectionParameters | None:
    """The cached connection type, or None if there is none or it no longer parses."""
    if not cached or "connection_type" not in cached:
        return None
    from kasa.deviceconfig import DeviceConnectionParameters

    try:
        return DeviceConnectionParameters.from_dict(cached["connection_type"])
    except Exception:  # written by an older python-kasa, say: negotiate afresh
        log.warning("ignoring unreadable cached plug connection parameters", cached=dict(cached))
        return None
