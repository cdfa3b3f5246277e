"""Wake-on-LAN magic packets: six ``0xFF`` bytes, then the target MAC sixteen times.

An optional 4- or 6-byte SecureOn password may follow. A NIC scans the whole frame for the
pattern, so the parser does too. Used by BaluPi's waker and by the NAS emulator's listener.
"""

from __future__ import annotations

import re

_SYNC = b"\xff" * 6
_MAC_REPEATS = 16
_MAC_LENGTH = 6
_MAC_PATTERN = re.compile(r"^[0-9a-f]{2}([:-]?)([0-9a-f]{2}\1){4}[0-9a-f]{2}$")


def normalize_mac(mac: str) -> str:
    """``aa:bb:cc:dd:ee:ff`` for ``:``, ``-`` or no separators; ValueError for anything else."""
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
