"""``POST /api/nas/wol``: a MAC other than the NAS's is admin-only and never touches the link.

A user's packet to a made-up MAC used to put the link in ``waking`` and spend the waker's
packet interval, so the NAS's own wake was skipped and real requests waited for nothing.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from balupi.db.models import NasState
from balupi.sim.nas.server import NasEmulator
from tests.nas import test_passthrough
from tests.nas.test_passthrough import ADMIN, MARIA, Pi, PiFactory, fall_asleep, login
from tests.waiting import eventually

# The pass-through tests' fixtures: BaluPi under Uvicorn in front of the NAS emulator.
make_pi = test_passthrough.make_pi
nas = test_passthrough.nas

OTHER_MAC = "02:00:5e:10:20:30"


@pytest.fixture
async def asleep_pi(make_pi: PiFactory, nas: NasEmulator) -> AsyncIterator[Pi]:
    async with make_pi(
        nas.api_url, nas_mac=nas.config.mac, wol_broadcast="127.0.0.1", wol_port=nas.wol_port
    ) as pi:
        await fall_asleep(pi, nas, suspend=True)
        yield pi


async def test_a_user_cannot_wake_another_mac_nor_spend_the_nas_wake(
    asleep_pi: Pi, nas: NasEmulator
) -> None:
    pi = asleep_pi
    await nas.wake()  # only to log in; then it sleeps again, the Pi still believing it asleep
    maria, admin = await login(nas.api_url, MARIA), await login(nas.api_url, ADMIN)
    await nas.sleep()
    nas.nas.reset_counters()

    refused = await pi.http.post("/api/nas/wol", json={"mac": OTHER_MAC}, headers=maria)
    assert refused.status_code == 403
    assert refused.json() == {
        "detail": "Only an administrator can send Wake-on-LAN to another device.",
        "code": "permission_denied",
    }

    sent = await pi.http.post("/api/nas/wol", json={"mac": OTHER_MAC}, headers=admin)
    assert sent.status_code == 200
    assert sent.json() == {"sent": True, "state": "sleeping", "mac": OTHER_MAC}
    assert pi.link_state is NasState.SLEEPING  # not the NAS's wake: no "waking"
    assert nas.status()["wol_wakeups"] == 0

    # The NAS's own wake is not held back by the packet to the other machine.
    spelled = nas.config.mac.upper().replace(":", "-")
    woke = await pi.http.post("/api/nas/wol", json={"mac": spelled}, headers=maria)
    assert woke.status_code == 200
    assert woke.json()["sent"] is True
    await eventually(lambda: pi.link_state is NasState.ONLINE)
    assert nas.status()["wol_wakeups"] == 1
