"""``NasLink``: state from evidence, stored transitions, and no request to a sleeping NAS."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from balupi.clock import ManualClock
from balupi.db.models import NasState, NasTransition
from balupi.services.nas.client import NasClient
from balupi.services.nas.history import LinkHistory, TransitionRecord, time_by_state
from balupi.services.nas.link import LinkSnapshot, LinkTiming, NasLink
from balupi.services.nas.power import PowerClass, PowerThresholds
from tests.clocks import RealSleepClock
from tests.nas.conftest import FakeNas
from tests.waiting import eventually

FAST = LinkTiming(
    health_interval=0.02,
    waking_interval=0.01,
    first_retry=0.01,
    max_retry=0.02,
    failures_before_down=3,
    boot_timeout=60,
    shutdown_grace=30,
)


@pytest.fixture
def clock() -> ManualClock:
    return RealSleepClock(datetime(2026, 11, 26, 12, 0, tzinfo=UTC))


@pytest.fixture
async def link(
    sessions: async_sessionmaker[AsyncSession], fake_nas: FakeNas, clock: ManualClock
) -> AsyncIterator[NasLink]:
    async with NasClient("http://nas.test", transport=fake_nas.transport) as client:
        nas_link = NasLink(
            client, LinkHistory(sessions), clock, mac="aa:bb:cc:dd:ee:ff", timing=FAST
        )
        await nas_link.start()
        yield nas_link
        await nas_link.aclose()


def test_power_thresholds_leave_no_gap() -> None:
    thresholds = PowerThresholds()
    order = list(PowerClass)
    previous = PowerClass.OFF
    for tenth in range(0, 2000):
        current = thresholds.classify(tenth / 10)
        assert order.index(current) >= order.index(previous)
        previous = current
    assert thresholds.classify(0.5) is PowerClass.OFF
    assert thresholds.classify(3.0) is PowerClass.STANDBY
    assert thresholds.classify(40.0) is PowerClass.IDLE
    assert thresholds.classify(85.0) is PowerClass.ACTIVE
    with pytest.raises(ValueError, match="must rise"):
        PowerThresholds(off_below_w=20, standby_below_w=10)


async def test_a_fresh_link_checks_once_and_goes_online(link: NasLink, fake_nas: FakeNas) -> None:
    await eventually(lambda: link.state is NasState.ONLINE)
    assert link.snapshot.nas_version == "1.38.0"
    assert link.snapshot.evidence == "health check answered"


async def test_failures_while_online_back_off_then_declare_it_asleep(
    link: NasLink, fake_nas: FakeNas
) -> None:
    await eventually(lambda: link.state is NasState.ONLINE)
    fake_nas.up = False
    await eventually(lambda: link.state is NasState.SLEEPING)
    assert "(3x)" in link.snapshot.evidence


async def test_a_sleeping_nas_gets_no_request_at_all(link: NasLink, fake_nas: FakeNas) -> None:
    await eventually(lambda: link.state is NasState.ONLINE)
    fake_nas.up = False
    await eventually(lambda: link.state is NasState.SLEEPING)
    counted = len(fake_nas.requests)

    # Many health intervals pass (the interval here is 20 ms): nothing may reach the NAS.
    await asyncio.sleep(0.3)

    assert len(fake_nas.requests) == counted


async def test_unreachable_nas_drawing_power_is_offline_not_asleep(
    link: NasLink, fake_nas: FakeNas
) -> None:
    await eventually(lambda: link.state is NasState.ONLINE)
    await link.report_power(45.0)  # running …
    fake_nas.up = False  # … but not answering: crashed or hung, not asleep
    await eventually(lambda: link.state is NasState.OFFLINE)


@pytest.mark.parametrize(
    ("start", "watts", "expected"),
    [
        (NasState.ONLINE, 0.3, NasState.OFFLINE),
        (NasState.ONLINE, 3.0, NasState.SLEEPING),
        (NasState.SLEEPING, 0.3, NasState.OFFLINE),
        (NasState.SLEEPING, 3.0, NasState.SLEEPING),
        (NasState.SLEEPING, 60.0, NasState.WAKING),
        (NasState.OFFLINE, 40.0, NasState.WAKING),
        (NasState.OFFLINE, 3.0, NasState.SLEEPING),  # unreachable but drawing standby: asleep
        (NasState.WAKING, 3.0, NasState.WAKING),
    ],
)
async def test_plug_power_moves_the_state(
    link: NasLink, fake_nas: FakeNas, start: NasState, watts: float, expected: NasState
) -> None:
    fake_nas.up = False  # keep the health loop from deciding anything
    await _force(link, start)
    await link.report_power(watts)
    assert link.state is expected


async def test_transitions_are_stored_with_evidence(
    link: NasLink, sessions: async_sessionmaker[AsyncSession]
) -> None:
    await eventually(lambda: link.state is NasState.ONLINE)
    await link.report_going_offline()

    async with sessions() as session:
        rows = (await session.scalars(select(NasTransition).order_by(NasTransition.id))).all()
    assert [(r.from_state, r.to_state) for r in rows] == [
        (NasState.UNKNOWN, NasState.ONLINE),
        (NasState.ONLINE, NasState.SHUTTING_DOWN),
    ]
    assert rows[1].evidence == "lifecycle notice: going offline"


async def test_a_restarted_pi_remembers_a_sleeping_nas_and_does_not_poll_it(
    sessions: async_sessionmaker[AsyncSession], fake_nas: FakeNas, clock: ManualClock
) -> None:
    async with NasClient("http://nas.test", transport=fake_nas.transport) as client:
        first = NasLink(client, LinkHistory(sessions), clock, timing=FAST)
        await first.start()
        await eventually(lambda: first.state is NasState.ONLINE)
        await first.report_power(3.0)
        await first.aclose()
        counted = len(fake_nas.requests)

        second = NasLink(client, LinkHistory(sessions), clock, timing=FAST)
        await second.start()
        await asyncio.sleep(0.1)
        await second.aclose()

    assert second.state is NasState.SLEEPING
    assert len(fake_nas.requests) == counted


async def test_a_wake_that_never_finishes_ends_offline(
    link: NasLink, fake_nas: FakeNas, clock: ManualClock
) -> None:
    fake_nas.up = False
    await _force(link, NasState.SLEEPING)
    await link.report_wake_sent()
    assert link.state is NasState.WAKING

    clock.advance(FAST.boot_timeout + 1)

    await eventually(lambda: link.state is NasState.OFFLINE)
    assert "boot timeout" in link.snapshot.evidence


async def test_a_wake_ends_online_when_the_nas_answers(link: NasLink, fake_nas: FakeNas) -> None:
    fake_nas.up = False
    await _force(link, NasState.SLEEPING)
    await link.report_wake_sent()
    fake_nas.up = True
    assert await link.wait_online(5)


async def test_shutdown_grace_ends_offline(link: NasLink, clock: ManualClock) -> None:
    await eventually(lambda: link.state is NasState.ONLINE)
    await link.report_going_offline()
    clock.advance(FAST.shutdown_grace + 1)
    await link.report_announced(None, "poke")  # not a state change; the grace runs out by itself
    await eventually(lambda: link.state is NasState.OFFLINE, timeout=FAST.shutdown_grace)


async def test_listeners_hear_accepted_transitions_only(link: NasLink, fake_nas: FakeNas) -> None:
    heard: list[tuple[NasState, NasState]] = []

    def listener(old: LinkSnapshot, new: LinkSnapshot) -> None:
        heard.append((old.state, new.state))

    remove = link.add_listener(listener)
    await eventually(lambda: link.state is NasState.ONLINE)
    await link.report_coming_online()  # already online: no transition
    await link.report_power(3.0)
    remove()
    await link.report_power(0.2)

    assert heard == [(NasState.UNKNOWN, NasState.ONLINE), (NasState.ONLINE, NasState.SLEEPING)]


def test_time_by_state_splits_a_day() -> None:
    day = datetime(2026, 11, 26, tzinfo=UTC)
    records = [
        TransitionRecord(day - timedelta(hours=2), NasState.UNKNOWN, NasState.SLEEPING, None),
        TransitionRecord(day + timedelta(hours=8), NasState.SLEEPING, NasState.WAKING, None),
        TransitionRecord(
            day + timedelta(hours=8, minutes=1), NasState.WAKING, NasState.ONLINE, None
        ),
        TransitionRecord(day + timedelta(hours=10), NasState.ONLINE, NasState.SLEEPING, None),
    ]
    totals = time_by_state(records, day, day + timedelta(hours=12))
    assert totals["asleep"] == timedelta(hours=10)
    assert totals["awake"] == timedelta(hours=1, minutes=59)


async def _force(link: NasLink, state: NasState) -> None:
    """Put the link into ``state`` through its own transition path (as evidence would)."""
    await link._transition(state, "test setup")


async def test_the_health_loop_steps_on_manual_time(
    sessions: async_sessionmaker[AsyncSession], fake_nas: FakeNas
) -> None:
    """On a ``ManualClock`` the loop checks again only when the test moves the clock on."""
    clock = ManualClock(datetime(2026, 11, 26, 12, 0, tzinfo=UTC))
    client = NasClient("http://nas.test", transport=fake_nas.transport)
    async with client, NasLink(client, LinkHistory(sessions), clock, timing=FAST) as link:
        await eventually(lambda: link.state is NasState.ONLINE and clock.sleepers == 1)
        checked = len(fake_nas.requests)
        await asyncio.sleep(10 * FAST.health_interval)  # real time passes: no check
        assert len(fake_nas.requests) == checked
        for step in range(1, 4):
            clock.advance(FAST.health_interval)
            await eventually(lambda: clock.sleepers == 1)
            assert len(fake_nas.requests) == checked + step
