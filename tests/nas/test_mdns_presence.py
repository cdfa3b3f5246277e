"""An mDNS announcement is evidence that the NAS is up, never an address to talk to.

After a restart the NAS announced itself at a port that did not answer, the Pi followed it,
judged the NAS asleep while ``NAS_URL`` answered, and queued uploads stopped landing; and a
login forwarded to a followed (unauthenticated) address would carry a password there.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from balupi.db.models import NasState
from balupi.services.nas.link import LinkTiming, NasLink
from balupi.sim.measure import free_port
from balupi.sim.nas.server import NasEmulator, NasEmulatorConfig
from tests.nas.conftest import running_link
from tests.waiting import eventually

TIMING = LinkTiming(health_interval=0.02, waking_interval=0.02, first_retry=0.01, max_retry=0.02)


@pytest.fixture
async def nas(tmp_path: Path) -> AsyncIterator[NasEmulator]:
    async with NasEmulator(NasEmulatorConfig(storage=tmp_path / "nas", boot_seconds=0)) as nas:
        yield nas


@pytest.fixture
async def link(
    nas: NasEmulator, sessions: async_sessionmaker[AsyncSession]
) -> AsyncIterator[NasLink]:
    async with running_link(nas.api_url, sessions, TIMING, NasState.ONLINE) as link:
        yield link


async def test_an_announced_address_is_not_followed_while_nas_url_answers(
    nas: NasEmulator, link: NasLink
) -> None:
    silent = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    await link.report_announced(silent, f"mdns: BaluHost on nas at {silent}")

    assert link.client.base_url == nas.api_url  # credentials only ever go to NAS_URL
    served = nas.nas.requests_served
    await eventually(lambda: nas.nas.requests_served >= served + 3)  # checks still reach it
    assert link.state is NasState.ONLINE


async def test_an_announcement_is_presence_and_the_configured_address_is_asked(
    nas: NasEmulator, link: NasLink
) -> None:
    await nas.sleep()
    await eventually(lambda: link.state is NasState.SLEEPING)
    await nas.wake()
    silent = f"http://127.0.0.1:{free_port()}"
    await link.report_announced(silent, f"mdns: BaluHost on nas at {silent}")

    await eventually(lambda: link.state is NasState.ONLINE)
    assert link.client.base_url == nas.api_url
