"""Wake-on-LAN, mDNS and the clock: what the Pi's network and time look like."""

from __future__ import annotations

import ipaddress
import socket
from datetime import datetime
from email.utils import parsedate_to_datetime

import httpx
from zeroconf.asyncio import AsyncZeroconf

from balupi.doctor.base import DoctorBase
from balupi.doctor.findings import Finding, Parts, Status
from balupi.doctor.helpers import (
    host_of,
    is_loopback_host,
)
from balupi.doctor.host import (
    arp_table,
    clock_synchronised,
    ipv4_networks,
)
from balupi.services.nas.discovery import mdns_interfaces

CLOCK_SKEW_WARN_S = 5.0
CLOCK_SKEW_FAIL_S = 60.0  # beyond this the NAS's signed notices fall out of their replay window


class NetworkChecks(DoctorBase):
    """``wol``, ``mdns`` and ``clock``."""

    # -- Wake-on-LAN --------------------------------------------------------------------------
    def check_wake_on_lan(self) -> list[Finding]:
        settings = self.settings
        problem = self._problem("nas_mac")
        if problem:
            return [
                Finding(
                    "wol", Status.FAIL, problem, "the NAS's wired MAC: ip link on the NAS (ether)"
                )
            ]
        if settings.nas_mac is None:
            return [
                Finding(
                    "wol",
                    Status.WARN,
                    "BALUPI_NAS_MAC is not set: the Pi cannot wake the NAS",
                    "set BALUPI_NAS_MAC to the NAS's wired MAC address",
                )
            ]
        parts = Parts("wol")
        parts.add(Status.OK, f"MAC {settings.nas_mac}")
        self._judge_broadcast(parts)
        self._compare_arp(parts)
        return [parts.finding()]

    def _judge_broadcast(self, parts: Parts) -> None:
        target = self.settings.wol_broadcast
        port = f"{target}:{self.settings.wol_port}"
        try:
            address = ipaddress.IPv4Address(socket.gethostbyname(target))
        except (OSError, ValueError):
            parts.add(Status.FAIL, f"{target} is no IPv4 address", "set BALUPI_WOL_BROADCAST")
            return
        nas_host = host_of(self.settings.nas_url)
        if address.is_loopback:
            if nas_host is not None and is_loopback_host(nas_host):
                parts.add(Status.OK, f"to {port} (loopback, like the NAS: an emulator)")
            else:
                parts.add(
                    Status.FAIL,
                    f"to {port}: loopback never reaches the NAS",
                    "set BALUPI_WOL_BROADCAST to the LAN's broadcast, e.g. 192.168.1.255",
                )
            return
        if address == ipaddress.IPv4Address("255.255.255.255"):
            parts.add(Status.OK, f"to {port} (leaves by the interface of the default route)")
            return
        networks = list(ipv4_networks())
        if any(address == net.broadcast_address for net in networks):
            parts.add(Status.OK, f"to {port} (a broadcast address of this Pi's network)")
        elif any(address in net for net in networks):
            parts.add(
                Status.WARN,
                f"to {port}, a single host: a sleeping NAS may not get it",
                "use the subnet's broadcast address, e.g. 192.168.1.255",
            )
        else:
            parts.add(
                Status.FAIL,
                f"to {port}, which is on none of this Pi's networks",
                "set BALUPI_WOL_BROADCAST to the LAN's broadcast address",
            )

    def _compare_arp(self, parts: Parts) -> None:
        """Compare NAS_MAC with the MAC the NAS's IP answered from, when the kernel knows it."""
        host = host_of(self.settings.nas_url)
        if host is None or self.settings.nas_mac is None:
            return
        try:
            nas_ip = socket.gethostbyname(host)
        except OSError:
            return
        seen = arp_table().get(nas_ip)
        if seen is None:
            return
        if seen != self.settings.nas_mac:
            parts.add(
                Status.FAIL,
                f"but the NAS at {nas_ip} answers from {seen}",
                f"set BALUPI_NAS_MAC={seen} (the NIC the NAS wakes on)",
            )
        else:
            parts.add(Status.OK, f"matches the NAS's ARP entry ({nas_ip})")

    # -- mDNS and the clock -------------------------------------------------------------------
    async def check_mdns(self) -> list[Finding]:
        if not self.settings.mdns_enabled:
            return [Finding("mdns", Status.SKIP, "MDNS_ENABLED=false")]
        interfaces = mdns_interfaces(self.settings.host, self.settings.mdns_interfaces)
        where = ", ".join(interfaces) if isinstance(interfaces, list) else "all interfaces"
        try:
            zeroconf = AsyncZeroconf(interfaces=interfaces)
        except OSError as exc:
            return [
                Finding(
                    "mdns",
                    Status.WARN,
                    f"zeroconf cannot start on {where} ({exc}); BaluPi runs without mDNS",
                    "check BALUPI_MDNS_INTERFACES and that the network allows multicast",
                )
            ]
        await zeroconf.async_close()
        return [Finding("mdns", Status.OK, f"zeroconf starts on {where}")]

    def check_clock(self) -> list[Finding]:
        parts = Parts("clock")
        synced, source = clock_synchronised()
        if synced is None:
            parts.add(Status.WARN, f"cannot tell whether NTP synchronises the clock ({source})")
        elif synced:
            parts.add(Status.OK, f"synchronised ({source})")
        else:
            parts.add(
                Status.WARN,
                f"not synchronised ({source}); a Pi has no battery clock",
                "enable NTP: sudo timedatectl set-ntp true",
            )
        skew = skew_to(self._health, self._health_received)
        if skew is not None:
            text = (
                f"the NAS's clock differs by {skew:+.0f} s"
                if skew
                else "the NAS's clock agrees (within a second)"
            )
            if abs(skew) > CLOCK_SKEW_FAIL_S:
                parts.add(Status.FAIL, text, "synchronise both clocks with NTP")
            elif abs(skew) > CLOCK_SKEW_WARN_S:
                parts.add(Status.WARN, text, "synchronise both clocks with NTP")
            else:
                parts.add(Status.OK, text)
        return [parts.finding()]


def skew_to(response: httpx.Response | None, received: datetime | None) -> float | None:
    """Seconds the NAS's clock (its ``Date`` header) is ahead of this Pi's; None if unknown."""
    if response is None or received is None or "date" not in response.headers:
        return None
    try:
        theirs = parsedate_to_datetime(response.headers["date"])
    except (TypeError, ValueError):
        return None
    # The NAS wrote the header about half the round trip before it arrived, in whole seconds
    # (so half a second after the truncated time, on average).
    written = received - response.elapsed / 2
    skew = (theirs - written).total_seconds() + 0.5
    return 0.0 if abs(skew) < 1.5 else skew
