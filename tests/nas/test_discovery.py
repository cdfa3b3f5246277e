"""mDNS: the Pi follows the NAS's ``_baluhost._tcp`` announcements and advertises ``_balupi._tcp``.

The rules (which instance is ours, which URL, which interfaces) are tested without a network. The
real multicast tests run zeroconf in a **private network namespace**: a thread calls
``unshare(CLONE_NEWNET)``, brings up that namespace's own loopback with multicast on, and runs its
event loop there, so every socket it opens lives in a network with no other interface. Nothing
reaches the LAN, nothing from the LAN (or another test run) gets in, and the host's loopback is
left as it was. Without the privilege for that (CI runs as root; a developer may not), the tests
fall back to the host's loopback if it already has MULTICAST, and skip with the reason otherwise.
"""

from __future__ import annotations

import asyncio
import ctypes
import fcntl
import os
import socket
import struct
import threading
from collections.abc import Callable, Coroutine
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr
from zeroconf import InterfaceChoice, ServiceStateChange, Zeroconf
from zeroconf.asyncio import AsyncServiceBrowser, AsyncServiceInfo, AsyncZeroconf

from balupi.app import create_app
from balupi.config import Settings
from balupi.db.models import NasState
from balupi.services.container import Services
from balupi.services.nas.discovery import (
    BALUHOST_SERVICE_TYPE,
    BALUPI_SERVICE_TYPE,
    MdnsDiscovery,
    NasAnnouncement,
    PiAdvertisement,
    advertised_addresses,
    mdns_interfaces,
)
from balupi.services.nas.history import TransitionRecord
from balupi.sim.nas.server import NasEmulator, NasEmulatorConfig
from tests.nas.conftest import link_reaches

DEADLINE = 15.0
LOOPBACK = ["127.0.0.1"]

# -- the rules, without a network ------------------------------------------------------------------


def _announcement(
    instance: str = "BaluHost on nas",
    addresses: tuple[str, ...] = ("192.168.1.10",),
    port: int = 8000,
    server: str | None = "baluhost.local.",
) -> NasAnnouncement:
    return NasAnnouncement(
        name=f"{instance}.{BALUHOST_SERVICE_TYPE}",
        port=port,
        addresses=addresses,
        server=server,
        properties={"api": f"https://{addresses[0]}:{port}"},
    )


def test_the_url_is_plain_http_whatever_the_txt_says() -> None:
    announcement = _announcement()
    assert announcement.properties["api"] == "https://192.168.1.10:8000"
    assert announcement.base_url() == "http://192.168.1.10:8000"
    assert announcement.instance == "BaluHost on nas"


def test_the_url_keeps_the_current_address_prefers_ipv4_and_skips_link_local() -> None:
    multi = _announcement(addresses=("fe80::1", "2001:db8::5", "192.168.1.11", "192.168.1.10"))
    assert multi.base_url("http://192.168.1.10:8000") == "http://192.168.1.10:8000"
    assert multi.base_url("http://192.168.1.99:8000") == "http://192.168.1.11:8000"
    assert _announcement(addresses=("fe80::1", "2001:db8::5")).base_url() == (
        "http://[2001:db8::5]:8000"
    )
    assert _announcement(addresses=("fe80::1",)).base_url() is None


def test_an_instance_is_at_a_url_by_address_or_srv_target_and_port() -> None:
    announcement = _announcement()
    assert announcement.is_at("http://192.168.1.10:8000")
    assert announcement.is_at("http://BALUHOST.local:8000/")
    assert not announcement.is_at("http://192.168.1.10:8001")
    assert not announcement.is_at("http://192.168.1.10")  # port 80
    assert not announcement.is_at("http://192.168.1.12:8000")


def test_mdns_runs_where_balupi_listens_unless_told_otherwise() -> None:
    assert mdns_interfaces("127.0.0.1", []) == ["127.0.0.1"]
    assert mdns_interfaces("localhost", []) == ["127.0.0.1"]
    assert mdns_interfaces("0.0.0.0", []) is InterfaceChoice.All
    assert mdns_interfaces("192.168.1.20", []) == ["192.168.1.20"]
    assert mdns_interfaces("0.0.0.0", ["192.168.1.20", "10.0.0.2"]) == ["192.168.1.20", "10.0.0.2"]
    assert advertised_addresses("127.0.0.1", []) == ("127.0.0.1",)
    assert advertised_addresses("0.0.0.0", ["10.0.0.2"]) == ("10.0.0.2",)
    assert "127.0.0.1" not in advertised_addresses("0.0.0.0", [])


def test_the_settings_take_addresses_comma_separated(settings: Settings) -> None:
    parsed = Settings.model_validate(
        {"mdns_interfaces": "192.168.1.20, 10.0.0.2", "mdns_enabled": "false"}
    )
    assert parsed.mdns_interfaces == ["192.168.1.20", "10.0.0.2"]
    assert parsed.mdns_enabled is False
    with pytest.raises(ValueError, match="not an IP address"):
        Settings.model_validate({"mdns_interfaces": "eth0"})
    assert settings.mdns_enabled is False  # the suite's apps stay off the LAN


def test_the_pi_advertises_its_port_version_and_api_path() -> None:
    info = PiAdvertisement("pi", 8000, ("192.168.1.20",)).service_info()
    assert info.name == f"BaluPi on pi.{BALUPI_SERVICE_TYPE}"
    assert info.port == 8000
    assert info.server == "balupi-pi.local."  # not pi.local., which the OS's responder owns
    assert info.parsed_addresses() == ["192.168.1.20"]
    assert info.decoded_properties["path"] == "/api"
    assert info.decoded_properties["scheme"] == "http"
    assert info.decoded_properties["version"]


class RecordingSink:
    """Stands in for ``NasLink``: keeps what mDNS reported."""

    def __init__(self) -> None:
        self.announced: list[tuple[str | None, str]] = []
        self.withdrawn: list[str] = []
        self._changed = asyncio.Event()

    async def report_announced(self, base_url: str | None, evidence: str) -> None:
        self.announced.append((base_url, evidence))
        self._changed.set()

    async def report_withdrawn(self, evidence: str = "mdns goodbye") -> None:
        self.withdrawn.append(evidence)
        self._changed.set()

    async def wait_until(self, condition: Callable[[], bool]) -> None:
        async with asyncio.timeout(DEADLINE):
            while not condition():
                await self._changed.wait()
                self._changed.clear()

    @property
    def urls(self) -> list[str | None]:
        return [url for url, _ in self.announced]


async def test_only_our_nas_is_followed_and_only_its_goodbye_counts() -> None:
    sink = RecordingSink()
    discovery = MdnsDiscovery(sink, lambda: "http://192.168.1.10:8000")
    await discovery.on_announced(_announcement("BaluHost on other", ("192.168.1.50",)))
    await discovery.on_withdrawn(f"BaluHost on other.{BALUHOST_SERVICE_TYPE}")
    assert sink.announced == []
    assert sink.withdrawn == []

    await discovery.on_announced(_announcement())  # at the configured address: adopted
    assert discovery.followed == f"BaluHost on nas.{BALUHOST_SERVICE_TYPE}"
    await discovery.on_announced(_announcement(addresses=("192.168.1.77",)))  # it moved
    await discovery.on_announced(_announcement("BaluHost on other", ("192.168.1.10",)))
    assert sink.urls == ["http://192.168.1.10:8000", "http://192.168.1.77:8000"]
    assert sink.announced[1][1] == "mdns: BaluHost on nas at http://192.168.1.77:8000"

    await discovery.on_withdrawn(f"BaluHost on nas.{BALUHOST_SERVICE_TYPE}")
    assert sink.withdrawn == ["mdns: BaluHost on nas withdrawn"]


async def test_the_hostname_from_a_signed_snapshot_identifies_a_moved_nas() -> None:
    sink = RecordingSink()
    discovery = MdnsDiscovery(sink, lambda: "http://192.168.1.10:8000", nas_hostname=lambda: "nas")
    await discovery.on_announced(_announcement(addresses=("192.168.1.77",)))
    assert sink.urls == ["http://192.168.1.77:8000"]


async def test_without_a_configured_nas_nothing_is_followed() -> None:
    sink = RecordingSink()
    discovery = MdnsDiscovery(sink, lambda: None)
    await discovery.on_announced(_announcement())
    assert sink.announced == []
    assert discovery.followed is None


# -- real multicast, in a private network namespace ------------------------------------------------

_CLONE_NEWNET = 0x40000000
_SIOCGIFFLAGS = 0x8913
_SIOCSIFFLAGS = 0x8914
_IFF_UP = 0x1
_IFF_MULTICAST = 0x1000
_IFREQ = "16sH14x"


def _loopback_flags(add: int = 0) -> int:
    """The loopback's interface flags (in the calling thread's namespace), ORed with ``add``."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        request = struct.pack(_IFREQ, b"lo", 0)
        flags: int = struct.unpack(_IFREQ, fcntl.ioctl(sock, _SIOCGIFFLAGS, request))[1]
        if add and flags & add != add:
            fcntl.ioctl(sock, _SIOCSIFFLAGS, struct.pack(_IFREQ, b"lo", flags | add))
            flags |= add
        return flags


def _enter_private_network() -> None:
    """Move this thread (only) into a new network namespace whose loopback is up, multicast on."""
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.unshare(_CLONE_NEWNET) != 0:
        error = ctypes.get_errno()
        raise OSError(error, os.strerror(error))
    _loopback_flags(add=_IFF_UP | _IFF_MULTICAST)


class _NoIsolatedNetwork(Exception):
    pass


def run_isolated(scenario: Callable[[], Coroutine[Any, Any, None]]) -> None:
    """Run ``scenario`` on an event loop in a thread inside a private network namespace."""
    failures: list[BaseException] = []

    def target() -> None:
        try:
            try:
                _enter_private_network()
            except OSError as exc:
                if not _loopback_flags() & _IFF_MULTICAST:
                    raise _NoIsolatedNetwork(
                        f"no private network namespace ({exc.strerror}: needs root/CAP_SYS_ADMIN) "
                        "and the host's loopback has no MULTICAST (ip link set lo multicast on)"
                    ) from None
            asyncio.run(scenario())
        except BaseException as exc:  # handed to the test's thread
            failures.append(exc)

    thread = threading.Thread(target=target, name="mdns-private-network", daemon=True)
    thread.start()
    thread.join(DEADLINE * 4)
    assert not thread.is_alive(), "the mDNS scenario did not finish"
    if failures:
        if isinstance(failures[0], _NoIsolatedNetwork):
            pytest.skip(str(failures[0]))
        raise failures[0]


def _baluhost_info(instance: str, address: str, port: int, server: str) -> AsyncServiceInfo:
    """A service as BaluHost publishes it: TXT ``api`` claims https (docs/compat/nas-api.md §6)."""
    return AsyncServiceInfo(
        BALUHOST_SERVICE_TYPE,
        f"{instance}.{BALUHOST_SERVICE_TYPE}",
        port=port,
        properties={
            "version": "1.0.0",
            "hostname": "baluhost",
            "api": f"https://{address}:{port}",
            "description": "BaluHost - Private Cloud Storage",
        },
        server=server,
        parsed_addresses=[address],
    )


async def _find_pi(zeroconf: AsyncZeroconf) -> AsyncServiceInfo:
    """Browse for ``_balupi._tcp`` like a client would, and resolve the first instance."""
    found: asyncio.Queue[str] = asyncio.Queue()

    def on_change(
        zeroconf: Zeroconf, service_type: str, name: str, state_change: ServiceStateChange
    ) -> None:
        if state_change is ServiceStateChange.Added:
            found.put_nowait(name)

    browser = AsyncServiceBrowser(zeroconf.zeroconf, BALUPI_SERVICE_TYPE, handlers=[on_change])
    try:
        async with asyncio.timeout(DEADLINE):
            name = await found.get()
        info = AsyncServiceInfo(BALUPI_SERVICE_TYPE, name)
        assert await info.async_request(zeroconf.zeroconf, 3000)
        return info
    finally:
        await browser.async_cancel()


def test_the_nas_is_followed_and_the_pi_is_found_over_multicast() -> None:
    async def scenario() -> None:
        sink = RecordingSink()
        pi = PiAdvertisement("testpi", 8765, ("127.0.0.1",))
        async with (
            MdnsDiscovery(
                sink, lambda: "http://127.0.0.1:8123", interfaces=LOOPBACK, advertisement=pi
            ) as discovery,
            AsyncZeroconf(interfaces=LOOPBACK) as lan,
        ):
            assert discovery.running
            other = _baluhost_info("BaluHost on other", "127.0.0.3", 8000, "other.local.")
            await (await lan.async_register_service(other))
            ours = _baluhost_info("BaluHost on testnas", "127.0.0.1", 8123, "testnas.local.")
            await (await lan.async_register_service(ours))
            await sink.wait_until(lambda: bool(sink.announced))
            assert sink.urls[0] == "http://127.0.0.1:8123"  # http, although TXT says https
            assert sink.announced[0][1].startswith("mdns: BaluHost on testnas at ")

            # The NAS comes back elsewhere (new lease, new port): the Pi follows the name.
            moved = _baluhost_info("BaluHost on testnas", "127.0.0.2", 8124, "testnas-2.local.")
            await (await lan.async_update_service(moved))
            await sink.wait_until(lambda: "http://127.0.0.2:8124" in sink.urls)

            # The Pi's own record, as a client browsing the network sees it.
            found = await _find_pi(lan)
            assert found.name == f"BaluPi on testpi.{BALUPI_SERVICE_TYPE}"
            assert found.port == 8765
            assert found.parsed_addresses() == ["127.0.0.1"]
            assert found.decoded_properties["path"] == "/api"
            assert discovery.advertised_name == found.name

            await (await lan.async_unregister_service(other))  # not ours: ignored
            await (await lan.async_unregister_service(moved))
            await sink.wait_until(lambda: bool(sink.withdrawn))
            assert sink.withdrawn == ["mdns: BaluHost on testnas withdrawn"]
            assert set(sink.urls) == {"http://127.0.0.1:8123", "http://127.0.0.2:8124"}

        # Stopped: the Pi's record is withdrawn with a goodbye.
        async with AsyncZeroconf(interfaces=LOOPBACK) as client:
            info = AsyncServiceInfo(BALUPI_SERVICE_TYPE, f"BaluPi on testpi.{BALUPI_SERVICE_TYPE}")
            assert not await info.async_request(client.zeroconf, 500)

    run_isolated(scenario)


# zeroconf leaves its half-made listening socket to the garbage collector when it fails.
@pytest.mark.filterwarnings("ignore:unclosed <socket.socket:ResourceWarning")
def test_without_usable_sockets_the_pi_runs_on_without_mdns() -> None:
    async def scenario() -> None:
        # An address on no interface of this (private) network: joining the group fails.
        async with MdnsDiscovery(RecordingSink(), lambda: None, interfaces=["203.0.113.7"]) as d:
            assert not d.running

    run_isolated(scenario)


def test_balupi_wakes_its_link_on_an_announcement_and_advertises_itself(
    settings: Settings, tmp_path: Path
) -> None:
    """The app as configured: mDNS on the listen address (loopback), the NAS emulator asleep."""

    async def scenario() -> None:
        config = NasEmulatorConfig(
            storage=tmp_path / "nas", start_asleep=True, boot_seconds=0, wol_port=None
        )
        async with NasEmulator(config) as nas:
            pi_settings = settings.model_copy(
                update={
                    "mdns_enabled": True,
                    "port": 8765,
                    "nas_url": nas.api_url,
                    "nas_handshake_secret": SecretStr("s" * 32),
                }
            )
            app = create_app(pi_settings)
            async with app.router.lifespan_context(app), AsyncZeroconf(interfaces=LOOPBACK) as lan:
                services: Services = app.state.services
                assert services.mdns is not None
                await link_reaches(services, NasState.SLEEPING, DEADLINE)  # no answer: asleep

                await nas.wake()  # the Pi does not poll a sleeping NAS; mDNS tells it
                port = int(nas.api_url.rsplit(":", 1)[1])
                announced = _baluhost_info("BaluHost on baluhost", "127.0.0.1", port, "b.local.")
                await (await lan.async_register_service(announced))
                await link_reaches(services, NasState.ONLINE, DEADLINE)
                evidence = [t.evidence for t in await _transitions(services)]
                assert f"mdns: BaluHost on baluhost at {nas.api_url}" in evidence

                found = await _find_pi(lan)
                assert found.port == 8765
                assert found.parsed_addresses() == ["127.0.0.1"]

                await (await lan.async_unregister_service(announced))
                await link_reaches(services, NasState.SHUTTING_DOWN, DEADLINE)
                assert services.nas_link.snapshot.evidence == "mdns: BaluHost on baluhost withdrawn"

    run_isolated(scenario)


async def _transitions(services: Services) -> list[TransitionRecord]:
    return await services.nas_link.history.transitions_since(datetime(2000, 1, 1, tzinfo=UTC))
