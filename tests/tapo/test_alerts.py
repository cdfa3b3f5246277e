"""Energy alerts: each kind raised when its cause appears, stored, and cleared when it is gone."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from balupi.clock import ManualClock
from balupi.db.models.energy import AlertKind, DeviceRole, EnergyAlert
from balupi.services.nas.link import NasLink
from balupi.services.tapo import AlertRules, PlugChanges, PlugView, TapoService
from tests.tapo.conftest import TIMING, PlugFactory, ServiceFactory, address, live

RULES = AlertRules(
    offline_after=timedelta(minutes=5),
    voltage_min_mv=207_000,
    voltage_max_mv=253_000,
    nas_mismatch_after=timedelta(minutes=5),
)


async def _rows(sessions: async_sessionmaker[AsyncSession]) -> list[EnergyAlert]:
    async with sessions() as session:
        return list(await session.scalars(select(EnergyAlert).order_by(EnergyAlert.id)))


async def _active(tapo: TapoService) -> dict[AlertKind, str]:
    return {alert.kind: alert.message for alert in await tapo.alerts(active_only=True)}


async def _round(tapo: TapoService, clock: ManualClock, seconds: float = 30) -> None:
    clock.advance(seconds)
    await tapo.poll_round()


async def test_power_above_the_limit(
    services: ServiceFactory,
    plugs: PlugFactory,
    clock: ManualClock,
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    tapo = await services(rules=RULES)
    view, _ = await tapo.add(address(await plugs(1, power="constant:40")))
    await tapo.change(view.record.id, PlugChanges(power_limit_mw=25_000))
    await _round(tapo, clock)

    assert await _active(tapo) == {
        AlertKind.POWER_OVER_LIMIT: "40.0 W is above the limit of 25.0 W"
    }
    await _round(tapo, clock)  # still over: the same alert, not a second one
    assert len(await _rows(sessions)) == 1

    await tapo.change(view.record.id, PlugChanges(power_limit_mw=50_000))
    await _round(tapo, clock)

    assert await _active(tapo) == {}
    (row,) = await _rows(sessions)
    assert row.kind is AlertKind.POWER_OVER_LIMIT
    assert row.device_id == view.record.id
    assert row.cleared_at == clock.now()
    assert row.raised_at == clock.now() - timedelta(seconds=60)


async def test_voltage_out_of_range(
    services: ServiceFactory, plugs: PlugFactory, clock: ManualClock
) -> None:
    tapo = await services(rules=RULES)
    plug = await plugs(1, voltage_v=198.0)
    await tapo.add(address(plug))
    await _round(tapo, clock)
    assert await _active(tapo) == {
        AlertKind.VOLTAGE_OUT_OF_RANGE: "mains at 198.0 V, outside 207–253 V"
    }

    plug.device.voltage_v = 229.0  # the grid recovered
    await _round(tapo, clock)

    assert await _active(tapo) == {}


async def test_a_plug_offline_longer_than_the_limit(
    services: ServiceFactory, plugs: PlugFactory, clock: ManualClock
) -> None:
    tapo = await services(rules=RULES)
    plug = await plugs(1)
    view, _ = await tapo.add(address(plug))
    await plug.__aexit__(None, None, None)
    for _ in range(TIMING.failures_before_offline):
        await _round(tapo, clock)
    assert live(tapo, view.record.id).online is False
    assert await _active(tapo) == {}  # offline, but for 1.5 min only

    await _round(tapo, clock, seconds=4 * 60)

    assert await _active(tapo) == {AlertKind.PLUG_OFFLINE: "no answer for 5 min"}

    await tapo.add(address(await plugs(1)))  # back, at a new port

    assert await _active(tapo) == {}


async def _nas_plug(tapo: TapoService, plugs: PlugFactory, power: str) -> PlugView:
    view, _ = await tapo.add(address(await plugs(1, power=power)))
    return await tapo.change(view.record.id, PlugChanges(role=DeviceRole.NAS))


async def test_the_nas_drawing_power_while_not_reachable(
    services: ServiceFactory, plugs: PlugFactory, clock: ManualClock, nas_link: NasLink
) -> None:
    # 85 W: the NAS runs, but nothing says it is online (no health answer, no notice).
    tapo = await services(rules=RULES)
    await _nas_plug(tapo, plugs, "constant:85")
    await _round(tapo, clock, seconds=4 * 60)
    assert await _active(tapo) == {}  # booting takes a while: a grace period

    await _round(tapo, clock, seconds=60)

    assert await _active(tapo) == {
        AlertKind.NAS_POWER_WHILE_ASLEEP: "the NAS draws 85.0 W (active) but is waking"
    }

    await nas_link.report_coming_online("test: health answered")
    await _round(tapo, clock)

    assert await _active(tapo) == {}


async def test_the_nas_drawing_nothing_while_online(
    services: ServiceFactory, plugs: PlugFactory, clock: ManualClock, nas_link: NasLink
) -> None:
    tapo = await services(rules=RULES)
    view = await _nas_plug(tapo, plugs, "constant:40")
    await nas_link.report_coming_online("test: health answered")

    await tapo.switch(view.record.id, on=False, force=True)  # as if its power was cut

    assert await _active(tapo) == {
        AlertKind.NAS_NO_POWER_WHILE_AWAKE: "the NAS plug reads 0.0 W while the NAS was online"
    }
    await _round(tapo, clock)  # the link now says offline; the alert stays until power returns
    assert AlertKind.NAS_NO_POWER_WHILE_AWAKE in await _active(tapo)

    await tapo.switch(view.record.id, on=True)

    assert await _active(tapo) == {}


async def test_the_nas_kinds_clear_when_the_plug_stops_being_the_nas_plug(
    services: ServiceFactory, plugs: PlugFactory, clock: ManualClock
) -> None:
    tapo = await services(rules=RULES)
    view = await _nas_plug(tapo, plugs, "constant:85")
    await _round(tapo, clock, seconds=6 * 60)
    assert AlertKind.NAS_POWER_WHILE_ASLEEP in await _active(tapo)

    await tapo.change(view.record.id, PlugChanges(role=DeviceRole.GENERIC))
    await _round(tapo, clock)

    assert await _active(tapo) == {}


async def test_active_alerts_survive_a_restart_without_a_duplicate(
    services: ServiceFactory,
    plugs: PlugFactory,
    clock: ManualClock,
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    first = await services(rules=RULES)
    view, _ = await first.add(address(await plugs(1, power="constant:40")))
    await first.change(view.record.id, PlugChanges(power_limit_mw=10_000))
    await _round(first, clock)

    restarted = await services(rules=RULES)
    await _round(restarted, clock)

    (row,) = await _rows(sessions)
    assert row.cleared_at is None
    assert [a.kind for a in await restarted.alerts(active_only=True)] == [
        AlertKind.POWER_OVER_LIMIT
    ]


async def test_listing_shows_cleared_alerts_on_request_and_prunes_old_ones(
    services: ServiceFactory, plugs: PlugFactory, clock: ManualClock
) -> None:
    tapo = await services(rules=RULES)
    view, _ = await tapo.add(address(await plugs(1, power="constant:40")))
    await tapo.change(view.record.id, PlugChanges(power_limit_mw=10_000))
    await _round(tapo, clock)
    await tapo.change(view.record.id, PlugChanges(power_limit_mw=None))
    await _round(tapo, clock)

    assert await tapo.alerts(active_only=True) == []
    (cleared,) = await tapo.alerts(active_only=False)
    assert cleared.device_name == "plug 1"
    assert cleared.cleared_at == clock.now()

    clock.advance(366 * 24 * 3600)
    assert await tapo.prune_alerts() == 1
    assert await tapo.alerts(active_only=False) == []
