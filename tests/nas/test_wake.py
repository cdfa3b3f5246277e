"""``NasWaker`` with real UDP: one packet for many waiting requests, and the emulator wakes."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from balupi.clock import SystemClock
from balupi.db.models import NasState
from balupi.errors import NasAsleep
from balupi.services.nas.link import LinkTiming, NasLink
from balupi.services.nas.magic_packet import build_magic_packet, normalize_mac
from balupi.services.nas.wake import NasWaker, WakeTarget
from balupi.sim.nas.server import NasEmulator, NasEmulatorConfig
from tests.nas.conftest import running_link

TIMING = LinkTiming(health_interval=0.05, waking_interval=0.02, boot_timeout=10)


@pytest.fixture
async def asleep_nas(tmp_path: Path) -> AsyncIterator[NasEmulator]:
    config = NasEmulatorConfig(storage=tmp_path / "nas", boot_seconds=0.3)
    async with NasEmulator(config) as nas:
        await nas.sleep()
        yield nas


@pytest.fixture
async def link_to(
    asleep_nas: NasEmulator, sessions: async_sessionmaker[AsyncSession]
) -> AsyncIterator[NasLink]:
    async with running_link(asleep_nas.api_url, sessions, TIMING, NasState.SLEEPING) as link:
        yield link


@pytest.mark.parametrize(
    "spelling", ["AA:BB:CC:DD:EE:FF", "aa-bb-cc-dd-ee-ff", "aabbccddeeff", " aa:bb:cc:dd:ee:ff "]
)
def test_mac_spellings_are_accepted(spelling: str) -> None:
    assert normalize_mac(spelling) == "aa:bb:cc:dd:ee:ff"


@pytest.mark.parametrize("bad", ["", "aa:bb:cc:dd:ee", "aa:bb-cc:dd:ee:ff", "gg:bb:cc:dd:ee:ff"])
def test_anything_else_is_refused(bad: str) -> None:
    with pytest.raises(ValueError, match="not a MAC address"):
        normalize_mac(bad)


def test_magic_packet_layout() -> None:
    packet = build_magic_packet("01:02:03:04:05:06")
    assert len(packet) == 102
    assert packet[:6] == b"\xff" * 6
    assert packet[6:] == bytes([1, 2, 3, 4, 5, 6]) * 16


async def test_twenty_waiting_requests_send_one_packet_and_all_see_the_nas_up(
    asleep_nas: NasEmulator, link_to: NasLink
) -> None:
    target = WakeTarget(asleep_nas.config.mac, "127.0.0.1", asleep_nas.wol_port or 0)
    waker = NasWaker(link_to, target, SystemClock())
    served_before = asleep_nas.nas.requests_served

    await asyncio.gather(*(waker.ensure_available(reason="test") for _ in range(20)))

    assert waker.packets_sent == 1
    assert asleep_nas.status()["wol_wakeups"] == 1
    assert link_to.state is NasState.ONLINE
    assert asleep_nas.nas.requests_served > served_before  # the link's health checks


async def test_a_nas_that_does_not_wake_in_time_is_reported_asleep(
    asleep_nas: NasEmulator, link_to: NasLink
) -> None:
    wrong_port = WakeTarget(asleep_nas.config.mac, "127.0.0.1", 9)  # nobody listens there
    waker = NasWaker(link_to, wrong_port, SystemClock())

    with pytest.raises(NasAsleep) as caught:
        await waker.ensure_available(reason="test", timeout=0.3)

    assert caught.value.retry_after >= 5
    assert asleep_nas.state.value == "asleep"
