"""Adding, re-adding, changing and removing plugs: matched by MAC, connection parameters cached."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from balupi.db.models import DeviceRole, EnergySample, TapoDevice
from balupi.errors import PlugAuthFailed, PlugNotFound, PlugRefused, PlugUnavailable
from balupi.services.nas.power import PowerThresholds
from balupi.services.tapo import PlugAddress, PlugChanges, PlugState, TapoService
from tests.tapo.conftest import (
    DeadAddress,
    PlugFactory,
    ServiceFactory,
    address,
    mac,
)


async def test_adding_a_plug_by_host_and_port_stores_it_by_its_mac(
    tapo: TapoService, plugs: PlugFactory
) -> None:
    plug = await plugs(1, alias="Desk", model="P115")

    view, created = await tapo.add(address(plug))

    assert created
    record = view.record
    assert record.mac == mac(1)
    assert (record.name, record.model, record.role) == ("Desk", "P115", DeviceRole.GENERIC)
    assert record.address == address(plug)
    assert record.firmware
    assert record.connection_params == {
        "connection_type": {
            "device_family": "SMART.TAPOPLUG",
            "encryption_type": "KLAP",
            "login_version": 2,
            "https": False,
        }
    }
    # Live at once: the connect's own reading, without waiting for a round.
    assert view.live.state is PlugState.OK
    assert view.live.reading is not None
    assert view.live.reading.power_mw == 40_000
    assert [v.record.mac for v in await tapo.devices()] == [mac(1)]


async def test_the_same_mac_at_another_port_is_the_same_plug(
    tapo: TapoService, plugs: PlugFactory
) -> None:
    first = await plugs(1)
    view, _ = await tapo.add(address(first))
    await tapo.change(view.record.id, PlugChanges(name="NAS", role=DeviceRole.NAS))

    moved = await plugs(1, alias="renamed on the plug")  # same MAC, a new port (a new lease)
    again, created = await tapo.add(address(moved))

    assert not created
    assert again.record.id == view.record.id
    assert again.record.address == address(moved)
    assert (again.record.name, again.record.role) == ("NAS", DeviceRole.NAS)  # kept
    assert len(await tapo.devices()) == 1
    await tapo.poll_round()
    assert again.record.id in {p.device_id for p in tapo.current().plugs if p.online}


async def test_reconnects_use_the_cached_connection_parameters(
    services: ServiceFactory,
    plugs: PlugFactory,
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    # The stored row knows no port; only the cached parameters (python-kasa's http_port, as
    # discovery records it) say where the plug listens. A poll that reaches it used the cache.
    plug = await plugs(1)
    tapo = await services()
    view, _ = await tapo.add(PlugAddress(plug.host, plug.port))
    async with sessions.begin() as session:
        row = await session.get(TapoDevice, view.record.id)
        assert row is not None
        assert row.device_config is not None
        row.port = None
        row.device_config = {
            "connection_type": {**row.device_config["connection_type"], "http_port": plug.port}
        }
    restarted = await services()

    (result,) = await restarted.poll_round()

    assert result.error is None
    assert result.reading is not None
    assert result.connection_params is None  # nothing new to cache


async def test_a_plug_refusing_the_account_is_not_added(
    tapo: TapoService, plugs: PlugFactory
) -> None:
    plug = await plugs(1, password="someone else's")

    with pytest.raises(PlugAuthFailed, match="refused the Tapo credentials"):
        await tapo.add(address(plug))
    assert await tapo.devices() == []


async def test_nothing_at_the_address_is_unavailable(tapo: TapoService, dead: DeadAddress) -> None:
    with pytest.raises(PlugUnavailable, match="did not answer"):
        await tapo.add(dead())


async def test_changing_name_role_thresholds_and_limit(
    tapo: TapoService, plugs: PlugFactory
) -> None:
    view, _ = await tapo.add(address(await plugs(1)))
    thresholds = PowerThresholds(off_below_w=1.0, standby_below_w=8.0, idle_below_w=50.0)

    changed = await tapo.change(
        view.record.id,
        PlugChanges(name="NAS", role=DeviceRole.NAS, thresholds=thresholds, power_limit_mw=150_000),
    )
    assert (changed.record.name, changed.record.role) == ("NAS", DeviceRole.NAS)
    assert changed.record.thresholds == thresholds
    assert changed.record.power_limit_mw == 150_000
    assert tapo.current().plugs[0].name == "NAS"

    # Fields not given stay; None resets to the defaults and removes the limit.
    reset = await tapo.change(view.record.id, PlugChanges(thresholds=None, power_limit_mw=None))
    assert (reset.record.name, reset.record.role) == ("NAS", DeviceRole.NAS)
    assert reset.record.thresholds is None
    assert reset.record.power_limit_mw is None


async def test_only_one_plug_is_the_nas_plug(tapo: TapoService, plugs: PlugFactory) -> None:
    first, _ = await tapo.add(address(await plugs(1)))
    second, _ = await tapo.add(address(await plugs(2)))
    await tapo.change(first.record.id, PlugChanges(role=DeviceRole.NAS))

    with pytest.raises(PlugRefused, match="already the NAS plug"):
        await tapo.change(second.record.id, PlugChanges(role=DeviceRole.NAS))

    await tapo.change(first.record.id, PlugChanges(role=DeviceRole.MONITOR))
    moved = await tapo.change(second.record.id, PlugChanges(role=DeviceRole.NAS))
    assert moved.record.role is DeviceRole.NAS


async def test_removing_a_plug_drops_it_with_its_samples(
    tapo: TapoService,
    plugs: PlugFactory,
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    view, _ = await tapo.add(address(await plugs(1)))
    await tapo.poll_round()

    await tapo.remove(view.record.id)

    assert await tapo.devices() == []
    assert tapo.current().plugs == []
    assert await tapo.poll_round() == []
    async with sessions() as session:
        assert await session.scalar(select(func.count()).select_from(EnergySample)) == 0
    with pytest.raises(PlugNotFound):
        await tapo.remove(view.record.id)
    with pytest.raises(PlugNotFound):
        await tapo.switch(view.record.id)
