"""What the doctor reads from this machine: mounts, networks, the ARP table, the kernel clock."""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import ipaddress
import socket
import stat
import subprocess
from collections.abc import Iterator
from pathlib import Path

import psutil

STA_UNSYNC = 0x0040  # adjtimex(2): the kernel clock is not synchronised
TIME_ERROR = 5


def open_to_others(directory: Path) -> bool:
    """Whether other users can get at ``directory``: it grants them access, and so does the way
    there (a 0755 directory inside a 0700 one, like the demo's, is closed)."""
    if not stat.S_IMODE(directory.stat().st_mode) & stat.S_IRWXO:
        return False
    return all(parent.stat().st_mode & stat.S_IXOTH for parent in directory.parents)


def mount_of(path: Path) -> tuple[str, str, str] | None:
    """(device, mount point, type) of the mount holding ``path``, from ``/proc/mounts``."""
    try:
        lines = Path("/proc/mounts").read_text().splitlines()
    except OSError:
        return None
    best: tuple[str, str, str] | None = None
    for line in lines:
        fields = line.split()
        if len(fields) < 3:
            continue
        device, point, fstype = fields[0], _unescape(fields[1]), fields[2]
        inside = path == Path(point) or Path(point) in path.parents
        if inside and (best is None or len(point) >= len(best[1])):
            best = (device, point, fstype)
    return best


def _unescape(field_text: str) -> str:
    """``/proc/mounts`` writes spaces and tabs in paths as octal escapes."""
    return field_text.replace("\\040", " ").replace("\\011", "\t").replace("\\134", "\\")


def ipv4_networks() -> Iterator[ipaddress.IPv4Network]:
    for addresses in psutil.net_if_addrs().values():
        for address in addresses:
            if address.family == socket.AF_INET and address.netmask:
                yield ipaddress.IPv4Network(f"{address.address}/{address.netmask}", strict=False)


def arp_table() -> dict[str, str]:
    """IPv4 address → MAC from the kernel's neighbour table (complete entries only)."""
    table: dict[str, str] = {}
    with contextlib.suppress(OSError):
        for line in Path("/proc/net/arp").read_text().splitlines()[1:]:
            fields = line.split()
            if len(fields) >= 4 and fields[2] != "0x0" and fields[3] != "00:00:00:00:00:00":
                table[fields[0]] = fields[3].lower()
    return table


def clock_synchronised() -> tuple[bool | None, str]:
    """Whether NTP keeps the clock: systemd's view (timedatectl), else the kernel's (adjtimex)."""
    with contextlib.suppress(OSError, subprocess.SubprocessError):
        result = subprocess.run(
            ["timedatectl", "show", "--property=NTPSynchronized", "--value"],
            capture_output=True,
            text=True,
            timeout=5,
            check=False,
        )
        if result.returncode == 0 and result.stdout.strip() in ("yes", "no"):
            return result.stdout.strip() == "yes", "timedatectl"
    status = _adjtimex_status()
    if status is None:
        return None, "neither timedatectl nor adjtimex answered"
    state, flags = status
    return state != TIME_ERROR and not flags & STA_UNSYNC, "the kernel's adjtimex state"


class _Timex(ctypes.Structure):
    """``struct timex`` of adjtimex(2); only ``modes`` (0: read) and ``status`` are used."""

    _fields_ = [
        ("modes", ctypes.c_uint),
        ("offset", ctypes.c_long),
        ("freq", ctypes.c_long),
        ("maxerror", ctypes.c_long),
        ("esterror", ctypes.c_long),
        ("status", ctypes.c_int),
        ("constant", ctypes.c_long),
        ("precision", ctypes.c_long),
        ("tolerance", ctypes.c_long),
        ("time_sec", ctypes.c_long),
        ("time_usec", ctypes.c_long),
        ("tick", ctypes.c_long),
        ("ppsfreq", ctypes.c_long),
        ("jitter", ctypes.c_long),
        ("shift", ctypes.c_int),
        ("stabil", ctypes.c_long),
        ("jitcnt", ctypes.c_long),
        ("calcnt", ctypes.c_long),
        ("errcnt", ctypes.c_long),
        ("stbcnt", ctypes.c_long),
        ("tai", ctypes.c_int),
        ("padding", ctypes.c_int * 11),
    ]


def _adjtimex_status() -> tuple[int, int] | None:
    """The kernel clock's state and status flags (read only: modes 0), or None off Linux."""
    library = ctypes.util.find_library("c")
    if library is None:
        return None
    try:
        libc = ctypes.CDLL(library, use_errno=True)
        timex = _Timex()
        state = int(libc.adjtimex(ctypes.byref(timex)))
    except (OSError, AttributeError):
        return None
    return (state, int(timex.status)) if state >= 0 else None
