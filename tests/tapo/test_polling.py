"""Poll rounds: units, one commit per round, dead plugs never delay live ones, offline and back."""

from __future__ import annotations

import asyncio
import time
from typing import cast

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from balupi.clock import ManualClock
from balupi.db.models import EnergySample, TapoDevice
from balupi.errors import PlugAuthFailed, PlugUnavailable
from balupi.services.tapo import PlugAddress, PlugState, TapoService
from balupi.services.tapo.client import PlugIdentity
from balupi.services.tapo.devices import PlugStore
from balupi.services.tapo.poller import PlugCoordinator, PlugPoller, PollResult
from tests.tapo.conftest import (
    TIMING,
    DeadAddress,
    PlugFactory,
    ServiceFactory,
    address,
    counting_commits,
    live,
    mac,
)
from tests.waiting import eventually


async def _samples(sessions: async_sessionmaker[AsyncSession]) -> list[EnergySample]:
    async with sessions() as session:
        return list(
            await session.scalars(
                select(EnergySample).order_by(EnergySample.device_id, EnergySample.ts)
            )
        )


async def _register(
    sessions: async_sessionmaker[AsyncSession], n: int, where: PlugAddress, clock: ManualClock
) -> None:
    """A plug as a previous run stored it (BaluPi knows it; it may be gone since)."""
    identity = PlugIdentity(mac=mac(n), model="P110", alias=f"plug {n}", firmware=None)
    await PlugStore(sessions).upsert(identity, where, {}, seen_at=clock.now())


async def test_a_round_stores_samples_in_milli_units_with_the_counters(
    tapo: TapoService,
    plugs: PlugFactory,
    clock: ManualClock,
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    plug = await plugs(1, power="constant:42.5", voltage_v=231.2)
    view, _ = await tapo.add(address(plug))
    clock.advance(2 * 3600)  # 85 Wh at 42.5 W

    (result,) = await tapo.poll_round()

    assert result.reading is not None
    samples = await _samples(sessions)
    latest = samples[-1]
    assert latest.device_id == view.record.id
    assert latest.ts == clock.now()
    assert latest.power_mw == 42_500
    assert latest.voltage_mv == 231_200
    assert latest.current_ma == round(42.5 / 231.2 * 1000)
    assert latest.today_wh == 85
    assert latest.month_wh == 85
    assert [s.ts for s in samples] == [clock.now().replace(hour=9), clock.now()]


async def test_a_round_is_one_commit_whatever_the_number_of_plugs(
    tapo: TapoService, plugs: PlugFactory, engine: AsyncEngine, clock: ManualClock
) -> None:
    for n in range(1, 4):
        await tapo.add(address(await plugs(n)))
    clock.advance(30)

    with counting_commits(engine) as commits:
        results = await tapo.poll_round()

    assert len(results) == 3
    assert len(commits) == 1


async def test_two_dead_plugs_of_ten_cost_the_round_one_timeout(
    services: ServiceFactory,
    plugs: PlugFactory,
    sessions: async_sessionmaker[AsyncSession],
    clock: ManualClock,
    stalled: PlugAddress,
    dead: DeadAddress,
) -> None:
    for n in range(1, 9):
        plug = await plugs(n, power=f"constant:{10 * n}")
        await _register(sessions, n, address(plug), clock)
    await _register(sessions, 9, dead(), clock)  # nothing listens
    await _register(sessions, 10, stalled, clock)  # accepts, never answers
    tapo = await services()
    clock.advance(30)

    started = time.monotonic()
    results = await tapo.poll_round()
    elapsed = time.monotonic() - started

    # The two dead plugs' timeouts run side by side: one after the other would take two
    # timeouts or more. (Not a tighter bound: a busy machine stretches the live plugs' round.)
    assert elapsed < 2 * TIMING.timeout_s, elapsed
    by_mac = {plug.name: plug for plug in tapo.current().plugs}
    assert {name for name, plug in by_mac.items() if plug.state is PlugState.OK} == {
        f"plug {n}" for n in range(1, 9)
    }
    assert by_mac["plug 9"].state is PlugState.UNREACHABLE
    assert by_mac["plug 10"].state is PlugState.UNREACHABLE
    assert "did not answer" in (by_mac["plug 10"].error or "")
    assert tapo.current().total_power_mw == sum(10_000 * n for n in range(1, 9))
    assert sum(1 for r in results if r.reading is not None) == 8
    stored = {s.power_mw for s in await _samples(sessions) if s.ts == clock.now()}
    assert stored == {10_000 * n for n in range(1, 9)}


async def test_offline_after_three_failures_and_online_at_the_first_answer(
    tapo: TapoService,
    plugs: PlugFactory,
    clock: ManualClock,
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    plug = await plugs(1)
    view, _ = await tapo.add(address(plug))
    device_id, port = view.record.id, plug.port
    await plug.__aexit__(None, None, None)  # unplugged

    for failures in (1, 2):
        clock.advance(30)
        (result,) = await tapo.poll_round()
        assert isinstance(result.error, PlugUnavailable)
        assert live(tapo, device_id).online
        assert (await tapo.device(device_id)).record.status.consecutive_failures == failures
    clock.advance(30)
    await tapo.poll_round()
    gone = live(tapo, device_id)
    assert not gone.online
    assert gone.state is PlugState.UNREACHABLE
    assert gone.reading is not None
    assert gone.reading.power_mw == 40_000  # kept, marked stale
    assert tapo.current().total_power_mw == 0
    async with sessions() as session:
        row = await session.get(TapoDevice, device_id)
        assert row is not None
        assert (row.is_online, row.consecutive_failures) == (False, 3)
        assert row.last_error is not None
        assert "did not answer" in row.last_error

    # Offline plugs are retried every error interval, not every round.
    clock.advance(30)
    assert await tapo.poll_round() == []

    back = await plugs(1, port=port)  # plugged in again
    clock.advance(TIMING.error_interval_s)
    (result,) = await tapo.poll_round()
    assert result.reading is not None
    returned = live(tapo, device_id)
    assert returned.online
    assert returned.state is PlugState.OK
    assert tapo.current().total_power_mw == round(back.power_w * 1000)
    async with sessions() as session:
        row = await session.get(TapoDevice, device_id)
        assert row is not None
        assert (row.is_online, row.consecutive_failures, row.last_error) == (True, 0, None)


async def test_a_wrong_tapo_password_marks_the_plug_and_polling_goes_on(
    services: ServiceFactory,
    plugs: PlugFactory,
    clock: ManualClock,
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    good, locked = await plugs(1), await plugs(2)
    first = await services()
    await first.add(address(good))
    await first.add(address(locked))
    # The account's password changes in the settings, but only plug 1 was re-bound to it.
    good_again = await plugs(3, username="owner@example.com", password="new password")
    restarted = await services(password="new password")
    await restarted.add(address(good_again))
    clock.advance(30)

    results = {r.device_id: r for r in await restarted.poll_round()}

    states = {plug.name: plug for plug in restarted.current().plugs}
    assert states["plug 3"].state is PlugState.OK
    for name in ("plug 1", "plug 2"):
        assert states[name].state is PlugState.AUTH_FAILED
        assert "refused the Tapo credentials" in (states[name].error or "")
    assert sum(isinstance(r.error, PlugAuthFailed) for r in results.values()) == 2
    async with sessions() as session:
        errors = {row.name: row.last_error for row in await session.scalars(select(TapoDevice))}
    assert errors["plug 1"] is not None
    assert "refused the Tapo credentials" in errors["plug 1"]


async def test_a_restart_restores_the_plugs_and_their_state(
    services: ServiceFactory, plugs: PlugFactory, clock: ManualClock
) -> None:
    plug = await plugs(1)
    first = await services()
    view, _ = await first.add(address(plug))

    restarted = await services()

    (restored,) = restarted.current().plugs
    assert restored.device_id == view.record.id
    assert restored.state is PlugState.PENDING
    assert restored.online
    clock.advance(30)
    await restarted.poll_round()
    assert live(restarted, view.record.id).state is PlugState.OK


@pytest.mark.parametrize("power", ["constant:0", "constant:2300"])
async def test_live_total_sums_the_plugs_online(
    tapo: TapoService, plugs: PlugFactory, power: str
) -> None:
    await tapo.add(address(await plugs(1, power=power)))
    await tapo.add(address(await plugs(2, power="constant:12.5")))

    current = tapo.current()

    watts = float(power.split(":")[1])
    assert current.total_power_mw == round((watts + 12.5) * 1000)


class _CountingPlug:
    """Stands in for a ``PlugCoordinator``: always due, counts the rounds that asked it."""

    device_id = 1

    def __init__(self) -> None:
        self.asked = 0

    def due(self) -> bool:
        return True

    async def refresh(self) -> None:
        self.asked += 1

    async def close(self) -> None:
        pass


async def test_the_poll_loop_steps_on_manual_time(clock: ManualClock) -> None:
    """The first round runs at once; the next only when the clock has moved one interval."""
    rounds: list[list[PollResult]] = []

    async def sink(results: list[PollResult]) -> None:
        rounds.append(results)

    plug = _CountingPlug()
    poller = PlugPoller(TIMING, sink, clock)
    poller.add(cast(PlugCoordinator, plug))
    async with poller:
        await eventually(lambda: plug.asked == 1 and clock.sleepers == 1)
        clock.advance(TIMING.interval_s / 2)
        await asyncio.sleep(0.05)
        assert plug.asked == 1
        clock.advance(TIMING.interval_s / 2)
        await eventually(lambda: plug.asked == 2 and clock.sleepers == 1)
        clock.advance(3.5 * TIMING.interval_s)  # a long pause: one round, not three back to back
        await eventually(lambda: plug.asked == 3 and clock.sleepers == 1)
    assert len(rounds) == 3
