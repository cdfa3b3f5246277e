"""The NAS plug: its power is the NAS link's evidence, and it is not cut while the NAS is awake.

The plug's load is the NAS emulator itself (``power="nas:<control url>"``): when the emulated NAS
suspends, the plug reads its standby draw, the poll hands it to ``NasLink``, and the link decides.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from balupi.db.models import DeviceRole, NasState
from balupi.errors import PlugRefused
from balupi.services.nas.link import NasLink
from balupi.services.nas.power import PowerClass, PowerThresholds
from balupi.services.tapo import PlugChanges, PlugView, TapoService
from balupi.sim.nas.power import PowerState
from balupi.sim.nas.server import NasEmulator, NasEmulatorConfig
from balupi.sim.plug import PlugEmulator
from tests.tapo.conftest import PlugFactory, address


@pytest.fixture
async def nas(tmp_path: Path) -> AsyncIterator[NasEmulator]:
    config = NasEmulatorConfig(storage=tmp_path / "nas", boot_seconds=0, wol_port=None)
    async with NasEmulator(config) as emulator:
        yield emulator


@pytest.fixture
async def nas_plug(plugs: PlugFactory, nas: NasEmulator) -> PlugEmulator:
    return await plugs(1, alias="NAS", power=f"nas:{nas.control_url}")


async def _make_nas_plug(
    tapo: TapoService, plug: PlugEmulator, thresholds: PowerThresholds | None = None
) -> PlugView:
    view, _ = await tapo.add(address(plug))
    return await tapo.change(
        view.record.id, PlugChanges(role=DeviceRole.NAS, thresholds=thresholds)
    )


async def test_the_nas_plug_power_drives_the_nas_link(
    tapo: TapoService, nas: NasEmulator, nas_plug: PlugEmulator, nas_link: NasLink
) -> None:
    await _make_nas_plug(tapo, nas_plug)
    await nas_link.report_coming_online("test: health answered")
    await tapo.poll_round()
    assert nas_link.snapshot.power_class is PowerClass.IDLE
    assert nas_link.state is NasState.ONLINE

    await nas.sleep()
    await tapo.poll_round()

    assert nas_link.snapshot.power_w == pytest.approx(3.0)
    assert nas_link.snapshot.power_class is PowerClass.STANDBY
    assert nas_link.state is NasState.SLEEPING
    assert "plug 3.0 W (standby)" in nas_link.snapshot.evidence


async def test_a_running_draw_wakes_the_link_from_sleeping(
    tapo: TapoService, nas: NasEmulator, nas_plug: PlugEmulator, nas_link: NasLink
) -> None:
    await nas.sleep()
    await _make_nas_plug(tapo, nas_plug)  # the first reading already goes to the link
    assert nas_link.state is NasState.SLEEPING

    await nas.wake()
    await tapo.poll_round()

    assert nas_link.state is NasState.WAKING  # it runs: the link may now ask it


async def test_the_plugs_own_thresholds_classify_its_power(
    tapo: TapoService, nas_plug: PlugEmulator, nas_link: NasLink
) -> None:
    # This NAS idles at 40 W, below its plug's standby bound of 50 W: it counts as asleep.
    thresholds = PowerThresholds(off_below_w=2.0, standby_below_w=50.0, idle_below_w=90.0)
    view = await _make_nas_plug(tapo, nas_plug, thresholds)
    assert nas_link.thresholds == thresholds
    await nas_link.report_coming_online("test: health answered")

    await tapo.poll_round()

    assert nas_link.snapshot.power_class is PowerClass.STANDBY
    assert nas_link.state is NasState.SLEEPING

    await tapo.change(view.record.id, PlugChanges(role=DeviceRole.MONITOR))
    assert nas_link.thresholds == PowerThresholds()  # no NAS plug: the defaults again


async def test_other_plugs_say_nothing_to_the_nas_link(
    tapo: TapoService, plugs: PlugFactory, nas_link: NasLink
) -> None:
    await tapo.add(address(await plugs(2, power="constant:3")))
    await tapo.poll_round()
    assert nas_link.snapshot.power_w is None
    assert nas_link.state is NasState.UNKNOWN


async def test_the_nas_plug_is_not_cut_while_the_nas_is_online(
    tapo: TapoService, nas: NasEmulator, nas_plug: PlugEmulator, nas_link: NasLink
) -> None:
    view = await _make_nas_plug(tapo, nas_plug)
    await nas_link.report_coming_online("test: health answered")

    for on in (None, False):
        with pytest.raises(PlugRefused, match=r"the NAS is online.*force=true"):
            await tapo.switch(view.record.id, on=on)
    assert nas_plug.is_on
    assert nas.state is PowerState.IDLE

    switched = await tapo.switch(view.record.id, force=True)

    assert not nas_plug.is_on
    assert nas.state is PowerState.OFF
    assert switched.live.reading is not None
    assert switched.live.reading.is_on is False
    assert nas_link.state is NasState.OFFLINE  # the reading after the switch reached the link
    # Switching it on again is always allowed.
    await tapo.switch(view.record.id, on=True)
    assert nas_plug.is_on


async def test_the_nas_plug_may_be_cut_while_the_nas_sleeps(
    tapo: TapoService, nas: NasEmulator, nas_plug: PlugEmulator, nas_link: NasLink
) -> None:
    await nas.sleep()
    view = await _make_nas_plug(tapo, nas_plug)
    assert nas_link.state is NasState.SLEEPING

    await tapo.switch(view.record.id, on=False)

    assert not nas_plug.is_on


async def test_other_plugs_switch_freely(tapo: TapoService, plugs: PlugFactory) -> None:
    plug = await plugs(2)
    view, _ = await tapo.add(address(plug))

    off = await tapo.switch(view.record.id)
    assert not plug.is_on
    assert off.live.reading is not None
    assert off.live.reading.power_mw == 0
    await tapo.switch(view.record.id)
    assert plug.is_on
