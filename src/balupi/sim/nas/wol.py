"""The emulated NAS's Wake-on-LAN side: a UDP listener for magic packets, and a test sender.

Packets are built and parsed by BaluPi's own ``balupi.services.nas.magic_packet``, so the
emulator recognises exactly what the product sends (and what any other WoL tool sends).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from balupi.services.nas import wake
from balupi.services.nas.magic_packet import build_magic_packet, normalize_mac, parse_magic_packet

log = logging.getLogger(__name__)

__all__ = [
    "MagicPacketListener",
    "build_magic_packet",
    "listen_for_magic_packets",
    "normalize_mac",
    "parse_magic_packet",
    "send_magic_packet",
]


def send_magic_packet(mac: str, host: str, port: int) -> None:
    """Send one magic packet for ``mac`` to ``host:port`` the way BaluPi's waker does."""
    wake.send_magic_packet(wake.WakeTarget(mac, host, port))


class MagicPacketListener(asyncio.DatagramProtocol):
    """Calls ``on_wake`` for each datagram carrying a magic packet for ``mac``; ignores the rest."""

    def __init__(self, mac: str, on_wake: Callable[[], None]) -> None:
        self.mac = normalize_mac(mac)
        self._on_wake = on_wake
        self.datagrams = 0  # everything that arrived, so a test can tell "ignored" from "not yet"
        self.wakeups = 0  # magic packets for this MAC

    def datagram_received(self, data: bytes, addr: tuple[str | object, int]) -> None:
        self.datagrams += 1
        target = parse_magic_packet(data)
        if target is None:
            log.debug("not a magic packet from %s (%d bytes)", addr, len(data))
        elif target != self.mac:
            log.info("magic packet for %s ignored (this machine is %s)", target, self.mac)
        else:
            log.info("magic packet from %s", addr)
            self.wakeups += 1
            self._on_wake()


async def listen_for_magic_packets(
    host: str, port: int, mac: str, on_wake: Callable[[], None]
) -> tuple[asyncio.DatagramTransport, MagicPacketListener]:
    """Bind a UDP listener on ``host:port`` (0 picks a port); close the transport to stop it."""
    loop = asyncio.get_running_loop()
    return await loop.create_datagram_endpoint(
        lambda: MagicPacketListener(mac, on_wake), local_addr=(host, port)
    )
