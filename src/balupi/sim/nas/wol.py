"""Wake-on-LAN magic packets: building, recognising and sending them, and a UDP listener.

A magic packet is six ``0xFF`` bytes followed by the target MAC sixteen times, optionally followed
by a 4- or 6-byte SecureOn password. A NIC scans the whole frame for that pattern, so the parser
does too (tools that wrap the packet in a larger payload still wake the machine). The builder and
sender are plain functions so BaluPi's own wake path can reuse them.
"""

from __future__ import annotations

import asyncio
import logging
import re
import socket
from collections.abc import Callable

log = logging.getLogger(__name__)

_SYNC = b"\xff" * 6
_MAC_REPEATS = 16
_MAC_LENGTH = 6
_MAC_PATTERN = re.compile(r"^[0-9a-f]{2}([:-]?)([0-9a-f]{2}\1){4}[0-9a-f]{2}$")


def normalize_mac(mac: str) -> str:
    """``aa:bb:cc:dd:ee:ff`` for any of the usual spellings; ValueError for anything else."""
    text = mac.strip().lower()
    if not _MAC_PATTERN.match(text):
        raise ValueError(f"not a MAC address: {mac!r}")
    digits = re.sub(r"[:-]", "", text)
    return ":".join(digits[i : i + 2] for i in range(0, 12, 2))


def build_magic_packet(mac: str, password: bytes = b"") -> bytes:
    """The magic packet for ``mac``, with an optional SecureOn password (4 or 6 bytes)."""
    if len(password) not in (0, 4, 6):
        raise ValueError("a SecureOn password has 4 or 6 bytes")
    return _SYNC + bytes.fromhex(normalize_mac(mac).replace(":", "")) * _MAC_REPEATS + password


def parse_magic_packet(data: bytes) -> str | None:
    """The MAC a magic packet in ``data`` is addressed to (normalised), or None if there is none."""
    start = data.find(_SYNC)
    while start != -1:
        body = data[start + len(_SYNC) : start + len(_SYNC) + _MAC_LENGTH * _MAC_REPEATS]
        mac = body[:_MAC_LENGTH]
        if len(body) == _MAC_LENGTH * _MAC_REPEATS and body == mac * _MAC_REPEATS:
            return ":".join(f"{byte:02x}" for byte in mac)
        start = data.find(_SYNC, start + 1)
    return None


def send_magic_packet(mac: str, host: str, port: int, *, broadcast: bool = False) -> None:
    """Send one magic packet for ``mac`` over UDP to ``host:port``."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        if broadcast:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_BROADCAST, 1)
        sock.sendto(build_magic_packet(mac), (host, port))


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
