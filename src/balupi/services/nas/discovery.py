"""mDNS: hear the NAS's ``_baluhost._tcp`` announcements; advertise the Pi as ``_balupi._tcp``.

Why mDNS at all: an announcement is evidence that the NAS is up which costs the NAS nothing (no
HTTP request, so its disks and idle timer are left alone). It is evidence of presence only: the
Pi keeps talking to ``NAS_URL`` whatever address is announced (``NasLink.report_announced``).
Announcements are unauthenticated, so following one could hand logins, passwords included, to
whoever announced, and an announced port that does not answer made a NAS that did look asleep.
A NAS that moves for good is followed by changing ``NAS_URL`` (a DHCP reservation avoids that).

What the NAS publishes (docs/compat/nas-api.md §6): ``BaluHost on <hostname>._baluhost._tcp.local.``
with the backend's port, an A record, and TXT ``api=https://<ip>:<port>``. The TXT lies about the
scheme: port 8000 speaks plain HTTP. So the Pi ignores TXT ``api`` and builds
``http://<address>:<port>`` from the SRV port and the A record.

Which announcement is *our* NAS: mDNS is unauthenticated and a LAN may hold more than one
BaluHost. The Pi follows one instance name. It adopts a name when that instance is announced at
the address in ``NAS_URL`` (SRV target or A record, and port), or when the name is the one the NAS
itself reported in its last signed shutdown snapshot (``BaluHost on <system.hostname>``); from
then on that name's announcements count as the NAS's presence at any address. Other instances
are logged and ignored, their goodbyes too. (Anyone on the LAN can still announce the followed
name, which at most makes the Pi ask ``NAS_URL`` sooner, or withdraw it: set
``MDNS_ENABLED=false`` on a LAN you do not trust.)

Where it runs: by default on the networks BaluPi listens on (``HOST``): all interfaces for
``0.0.0.0``, only loopback for ``127.0.0.1`` (the development default, which keeps a developer's
``balupi serve`` off the LAN); ``MDNS_INTERFACES`` overrides that with explicit addresses.

Events are handled one at a time, in the order zeroconf reports them, so a goodbye can never be
overtaken by the resolution of an earlier announcement.

zeroconf is imported when mDNS starts, not with this module: with ``MDNS_ENABLED=false`` it is
never loaded (issue 14: every module a configuration does not use costs a Pi memory and start-up).
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import socket
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol
from urllib.parse import urlsplit

from balupi import __version__
from balupi.lifecycle import Lifecycle
from balupi.logs import get_logger

if TYPE_CHECKING:
    from zeroconf import InterfaceChoice, ServiceStateChange, Zeroconf
    from zeroconf.asyncio import AsyncServiceBrowser, AsyncServiceInfo, AsyncZeroconf

log = get_logger(__name__)

BALUHOST_SERVICE_TYPE = "_baluhost._tcp.local."
BALUPI_SERVICE_TYPE = "_balupi._tcp.local."
BALUHOST_INSTANCE_PREFIX = "BaluHost on "  # BaluHost names its instance after its hostname
RESOLVE_TIMEOUT_MS = 3000
MAX_PENDING_EVENTS = 64  # a LAN announcing more BaluHost changes than this at once is hostile
_WILDCARD_HOSTS = frozenset({"", "0.0.0.0", "::"})
_DNS_LABEL_MAX = 63


class AnnouncementSink(Protocol):
    """Where mDNS evidence goes: ``NasLink`` in the app, a recorder in tests."""

    async def report_announced(self, base_url: str | None, evidence: str) -> None: ...

    async def report_withdrawn(self, evidence: str = ...) -> None: ...


@dataclass(frozen=True)
class NasAnnouncement:
    """One resolved ``_baluhost._tcp`` instance: its name, addresses and port."""

    name: str
    port: int
    addresses: tuple[str, ...]
    server: str | None = None
    properties: Mapping[str, str | None] = field(default_factory=dict)

    @classmethod
    def from_info(cls, info: AsyncServiceInfo) -> NasAnnouncement | None:
        """The announcement in a resolved ``ServiceInfo``; None without a port or an address."""
        addresses = tuple(info.parsed_addresses())
        if info.port is None or not addresses:
            return None
        return cls(
            name=info.name,
            port=info.port,
            addresses=addresses,
            server=info.server,
            properties=dict(info.decoded_properties),
        )

    @property
    def instance(self) -> str:
        """The instance label: ``BaluHost on nas`` of ``BaluHost on nas._baluhost._tcp.local.``."""
        return self.name.removesuffix("." + BALUHOST_SERVICE_TYPE)

    def base_url(self, current: str | None = None) -> str | None:
        """The NAS's API base URL: ``http``, whatever TXT ``api`` says (docs/compat/nas-api.md §6).

        Prefers the address the Pi already uses (a NAS with two addresses must not make the Pi
        flap between them), then IPv4, then a global IPv6 address; link-local IPv6 addresses
        need a zone and cannot go into a URL, so they are skipped.
        """
        current_host = _host_of(current)
        if current_host in self.addresses:
            return _http_url(current_host, self.port)
        usable = [a for a in self.addresses if not ipaddress.ip_address(a).is_link_local]
        usable.sort(key=lambda address: ipaddress.ip_address(address).version)
        return _http_url(usable[0], self.port) if usable else None

    def is_at(self, url: str) -> bool:
        """Whether this instance serves ``url``: same port, and its host is an address or the
        SRV target of the instance (``NAS_URL`` may use ``baluhost.local``)."""
        parts = urlsplit(url)
        host = (parts.hostname or "").lower()
        port = parts.port or (443 if parts.scheme == "https" else 80)
        if port != self.port:
            return False
        server = (self.server or "").rstrip(".").lower()
        return host in self.addresses or (bool(server) and host == server)


@dataclass(frozen=True)
class PiAdvertisement:
    """What the Pi publishes as ``_balupi._tcp``: its port and addresses, TXT version and path."""

    hostname: str
    port: int
    addresses: tuple[str, ...]

    @property
    def name(self) -> str:
        instance = f"BaluPi on {self.hostname}"
        return f"{instance[:_DNS_LABEL_MAX]}.{BALUPI_SERVICE_TYPE}"

    @property
    def properties(self) -> dict[str, str]:
        """TXT: BaluPi's version and where its API lives; the scheme is said plainly."""
        return {"version": __version__, "path": "/api", "scheme": "http", "hostname": self.hostname}

    def service_info(self) -> AsyncServiceInfo:
        # The host name is BaluPi's own, never the machine's: the OS's mDNS responder (Avahi on
        # Raspberry Pi OS) owns <hostname>.local and would rename itself on a conflict.
        from zeroconf.asyncio import AsyncServiceInfo

        label = _dns_label(f"balupi-{self.hostname}")
        return AsyncServiceInfo(
            BALUPI_SERVICE_TYPE,
            self.name,
            port=self.port,
            properties=self.properties,
            server=f"{label}.local.",
            parsed_addresses=list(self.addresses),
        )


def mdns_interfaces(host: str, configured: Sequence[str]) -> list[str] | InterfaceChoice:
    """Where zeroconf runs: ``MDNS_INTERFACES``, else the listen address (all for a wildcard)."""
    from zeroconf import InterfaceChoice

    if configured:
        return list(configured)
    if host in _WILDCARD_HOSTS:
        return InterfaceChoice.All
    if host == "localhost":
        return ["127.0.0.1"]
    if _is_ip(host):
        return [host]
    return InterfaceChoice.All  # a host name to listen on: let zeroconf use every interface


def advertised_addresses(host: str, configured: Sequence[str]) -> tuple[str, ...]:
    """The addresses the Pi's ``_balupi._tcp`` record names: where clients can reach it.

    Explicit ``MDNS_INTERFACES`` first, else the listen address, else (listening everywhere) the
    primary outbound address. Empty when none is known: the Pi then browses but does not
    advertise.
    """
    if configured:
        return tuple(configured)
    if host == "localhost":
        return ("127.0.0.1",)
    if _is_ip(host) and host not in _WILDCARD_HOSTS:
        return (host,)
    primary = _primary_ipv4()
    return (primary,) if primary else ()


class MdnsDiscovery(Lifecycle):
    """Browses for the NAS and advertises the Pi, on one zeroconf instance. An async context
    manager; a failure to start (no multicast, say) is logged and leaves the Pi without mDNS."""

    def __init__(
        self,
        sink: AnnouncementSink,
        nas_url: Callable[[], str | None],
        *,
        interfaces: list[str] | InterfaceChoice | None = None,  # None: every interface
        advertisement: PiAdvertisement | None = None,
        nas_hostname: Callable[[], str | None] = lambda: None,
    ) -> None:
        self._sink = sink
        self._nas_url = nas_url
        self._nas_hostname = nas_hostname
        self._interfaces = interfaces
        self._advertisement = advertisement
        self._zeroconf: AsyncZeroconf | None = None
        self._browser: AsyncServiceBrowser | None = None
        self._events: asyncio.Queue[tuple[str, ServiceStateChange]] = asyncio.Queue(
            MAX_PENDING_EVENTS
        )
        self._followed: str | None = None
        self.advertised_name: str | None = None

    @property
    def running(self) -> bool:
        return self._zeroconf is not None

    @property
    def followed(self) -> str | None:
        """The instance name taken to be our NAS, once one was seen."""
        return self._followed

    async def _open(self) -> None:
        """Open the mDNS sockets, start browsing and (in the background) advertising."""
        from zeroconf import InterfaceChoice
        from zeroconf.asyncio import AsyncServiceBrowser, AsyncZeroconf

        if self._interfaces is None:
            self._interfaces = InterfaceChoice.All
        try:
            # Built on the running loop so zeroconf uses it rather than a thread of its own.
            self._zeroconf = AsyncZeroconf(interfaces=self._interfaces)
        except OSError as exc:
            log.error("mdns unavailable", error=str(exc), interfaces=str(self._interfaces))
            return
        self._spawn(self._follow(), name="mdns-follow")
        self._browser = AsyncServiceBrowser(
            self._zeroconf.zeroconf, BALUHOST_SERVICE_TYPE, handlers=[self._on_change]
        )
        if self._advertisement is not None:
            # Probing and announcing take about two seconds; start-up does not wait for them.
            self._spawn(self._advertise(), name="mdns-advertise")
        log.info("mdns started", interfaces=str(self._interfaces))

    async def _close(self) -> None:
        """Stop browsing, say goodbye for the Pi's record, close the sockets.

        The follow and advertise tasks have ended by now: no event is half-handled while the
        sockets close."""
        zeroconf = self._zeroconf
        if zeroconf is None:
            return
        if self._browser is not None:
            await self._browser.async_cancel()
            self._browser = None
        self._zeroconf = None
        await zeroconf.async_close()  # unregisters the Pi's service: goodbye packets

    # -- the NAS ------------------------------------------------------------------------------
    def _on_change(
        self,
        zeroconf: Zeroconf,
        service_type: str,
        name: str,
        state_change: ServiceStateChange,
    ) -> None:
        """zeroconf's browser callback (on the event loop, keyword arguments): queue the event."""
        try:
            self._events.put_nowait((name, state_change))
        except asyncio.QueueFull:
            log.warning("mdns event dropped: too many pending", name=name)

    async def _follow(self) -> None:
        from zeroconf import ServiceStateChange

        while True:
            name, change = await self._events.get()
            try:
                if change is ServiceStateChange.Removed:
                    await self.on_withdrawn(name)
                else:
                    announcement = await self._resolve(name)
                    if announcement is not None:
                        await self.on_announced(announcement)
            except Exception:  # one bad event must not end discovery
                log.exception("mdns event failed", name=name)

    async def _resolve(self, name: str) -> NasAnnouncement | None:
        from zeroconf.asyncio import AsyncServiceInfo

        assert self._zeroconf is not None
        info = AsyncServiceInfo(BALUHOST_SERVICE_TYPE, name)
        if not await info.async_request(self._zeroconf.zeroconf, RESOLVE_TIMEOUT_MS):
            log.info("mdns: could not resolve", name=name)
            return None
        announcement = NasAnnouncement.from_info(info)
        if announcement is None:
            log.info("mdns: announcement without address or port", name=name)
        return announcement

    async def on_announced(self, announcement: NasAnnouncement) -> None:
        """An instance was added or changed: if it is our NAS, tell the sink it is present."""
        current = self._nas_url()
        if not self._is_our_nas(announcement, current):
            log.info(
                "mdns: another BaluHost, ignored",
                name=announcement.name,
                url=announcement.base_url(),
                nas_url=current,
            )
            return
        url = announcement.base_url(current)
        await self._sink.report_announced(url, f"mdns: {announcement.instance} at {url}")

    async def on_withdrawn(self, name: str) -> None:
        """An instance said goodbye (or its records expired): only our NAS's counts."""
        if name != self._followed:
            return
        await self._sink.report_withdrawn(
            f"mdns: {name.removesuffix('.' + BALUHOST_SERVICE_TYPE)} withdrawn"
        )

    def _is_our_nas(self, announcement: NasAnnouncement, current: str | None) -> bool:
        if current is None:  # no NAS configured: nothing to follow, but say what is out there
            return False
        if self._followed is not None:
            return announcement.name == self._followed
        hostname = self._nas_hostname()
        if announcement.is_at(current) or (
            hostname is not None
            and announcement.instance.lower() == f"{BALUHOST_INSTANCE_PREFIX}{hostname}".lower()
        ):
            self._followed = announcement.name
            log.info("mdns: following", name=announcement.name)
            return True
        return False

    # -- the Pi -------------------------------------------------------------------------------
    async def _advertise(self) -> None:
        assert self._zeroconf is not None
        assert self._advertisement is not None
        info = self._advertisement.service_info()
        try:
            done = await self._zeroconf.async_register_service(info, allow_name_change=True)
            await done
        except Exception:  # never fatal: the Pi works without being found
            log.exception("mdns: advertising failed")
            return
        self.advertised_name = info.name
        log.info("mdns: advertised", name=info.name, port=info.port)


def _http_url(host: str, port: int) -> str:
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


def _host_of(url: str | None) -> str | None:
    return urlsplit(url).hostname if url else None


def _is_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


def _dns_label(text: str) -> str:
    cleaned = "".join(c if c.isalnum() or c == "-" else "-" for c in text.lower()).strip("-")
    return cleaned[:_DNS_LABEL_MAX] or "balupi"


def _primary_ipv4() -> str | None:
    """The address of the default route, as BaluHost finds its own: a UDP ``connect`` picks
    the route and sends nothing."""
    with contextlib.suppress(OSError), socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.connect(("192.0.2.1", 9))  # TEST-NET-1: never contacted
        address: str = probe.getsockname()[0]
        return None if address.startswith("127.") else address
    return None
