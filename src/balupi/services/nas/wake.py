"""``NasWaker``: wakes the NAS with Wake-on-LAN when a request needs it, once for everyone.

``ensure_available()`` returns at once while the NAS is online. Otherwise the first caller sends a
magic packet (at most one per ``min_interval``), tells the ``NasLink`` a wake is under way, and
every caller waits for the same outcome, up to the boot timeout: twenty requests arriving at a
sleeping NAS send one packet.

A NAS in soft sleep (its sleep status said so) is running with its HTTP up, so a magic packet
would do nothing: it is woken by one request off BaluHost's whitelist instead
(``NasLink.wake_from_soft_sleep``), also once for everyone, and needs no MAC.
"""

from __future__ import annotations

import asyncio
import socket
from dataclasses import dataclass, replace

from balupi.clock import Clock
from balupi.db.models import NasState
from balupi.errors import NasAsleep, NasUnreachable
from balupi.logs import get_logger
from balupi.services.nas.link import LinkSnapshot, NasLink
from balupi.services.nas.magic_packet import build_magic_packet, normalize_mac

log = get_logger(__name__)


@dataclass(frozen=True)
class WakeTarget:
    mac: str
    broadcast: str = "255.255.255.255"
    port: int = 9

    def __post_init__(self) -> None:
        object.__setattr__(self, "mac", normalize_mac(self.mac))


def send_magic_packet(target: WakeTarget) -> None:
    """One magic packet over UDP (blocking but instant; a datagram send does not wait)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_BROADCAST, 1)
        sock.sendto(build_magic_packet(target.mac), (target.broadcast, target.port))


@dataclass(frozen=True)
class WakeResult:
    sent: bool  # whether this call sent a packet (False: one went out recently)
    state: NasState


class NasWaker:
    """Sends magic packets for the ``NasLink`` and lets callers wait for the NAS."""

    def __init__(
        self,
        link: NasLink,
        target: WakeTarget | None,
        clock: Clock,
        *,
        min_interval: float = 15.0,
    ) -> None:
        self._link = link
        self._target = target
        self._clock = clock
        self._min_interval = min_interval
        self._last_sent: float | None = None
        self._lock = asyncio.Lock()
        self.packets_sent = 0
        # The packet limit guards one wake in progress; once the NAS is up, the next wake may go.
        link.add_listener(self._on_link_change)

    def _on_link_change(self, old: LinkSnapshot, new: LinkSnapshot) -> None:
        if new.state is NasState.ONLINE:
            self._last_sent = None

    @property
    def configured(self) -> bool:
        return self._target is not None

    def retry_after(self) -> int:
        """Seconds a client should wait before asking again: the rest of the boot timeout."""
        boot = self._link.timing.boot_timeout
        if self._link.state is NasState.WAKING:
            return max(int(boot - self._link.seconds_in_state()) + 1, 5)
        return max(int(boot), 5)

    async def wake(self, reason: str = "wake requested") -> WakeResult:
        """Send the NAS a magic packet unless one went out within ``min_interval``; a
        soft-sleeping NAS gets a wake request instead (a packet if that goes unanswered)."""
        if self._link.snapshot.soft_asleep:
            async with self._lock:  # one wake request for everyone waiting
                if self._link.snapshot.soft_asleep and await self._link.wake_from_soft_sleep(
                    reason
                ):
                    log.info("nas woken from soft sleep", reason=reason)
                    return WakeResult(sent=True, state=self._link.state)
            if self._link.state is NasState.ONLINE:
                return WakeResult(sent=False, state=self._link.state)
        target = self._require_target()
        async with self._lock:
            now = self._clock.monotonic()
            recent = self._last_sent is not None and now - self._last_sent < self._min_interval
            if self._link.state is NasState.ONLINE or recent:
                return WakeResult(sent=False, state=self._link.state)
            send_magic_packet(target)
            self._last_sent = now
            self.packets_sent += 1
            log.info("wake-on-lan sent", mac=target.mac, reason=reason)
        await self._link.report_wake_sent(f"wake-on-lan sent ({reason})")
        return WakeResult(sent=True, state=self._link.state)

    def wake_other(self, mac: str, reason: str) -> WakeResult:
        """One magic packet to another machine on the NAS's broadcast address and port.

        It is not the NAS's wake: the link's state and the NAS's packet interval are left alone,
        so a packet to a made-up MAC can neither fake a boot nor hold back the NAS's own wake.
        """
        target = replace(self._require_target(), mac=mac)
        send_magic_packet(target)
        log.info("wake-on-lan sent to another device", mac=target.mac, reason=reason)
        return WakeResult(sent=True, state=self._link.state)

    def _require_target(self) -> WakeTarget:
        if self._target is None:
            raise NasUnreachable("Wake-on-LAN is not configured (BALUPI_NAS_MAC)", retry_after=60)
        return self._target

    async def ensure_available(self, *, reason: str, timeout: float | None = None) -> None:
        """Return once the NAS is online, waking it if needed; ``NasAsleep`` if it stays down."""
        if self._link.state is NasState.ONLINE:
            return
        if self._link.state is NasState.SHUTTING_DOWN:
            raise NasAsleep("NAS is shutting down", retry_after=self.retry_after())
        await self.wake(reason)
        wait = self._link.timing.boot_timeout if timeout is None else timeout
        if not await self._link.wait_online(wait):
            raise NasAsleep("NAS is waking up", retry_after=self.retry_after())
