"""The one gate every request from BaluPi to the NAS passes through (issue 12, item 3).

A ``NasClient`` over a ``RequestGate`` over a transport that records what reached "the NAS":
background work is held back, without a byte sent, while the NAS is not known to be up; it
carries ``X-Sync-Trigger: auto`` when it goes; user requests always go; all is counted.
"""

from __future__ import annotations

from datetime import UTC, datetime

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from balupi.clock import ManualClock
from balupi.db.models import NasState
from balupi.errors import NasUnreachable
from balupi.services.nas.client import NasClient
from balupi.services.nas.gate import Purpose, RequestGate, current_purpose, nas_purpose
from balupi.services.nas.history import LinkHistory
from balupi.services.nas.link import NasLink


class Recorder:
    def __init__(self) -> None:
        self.seen: list[httpx.Request] = []

    def handle(self, request: httpx.Request) -> httpx.Response:
        self.seen.append(request)
        return httpx.Response(200, json={"ok": True})


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(datetime(2026, 12, 8, tzinfo=UTC))


def gated(clock: ManualClock, state: list[NasState]) -> tuple[RequestGate, Recorder]:
    recorder = Recorder()
    gate = RequestGate(clock, httpx.MockTransport(recorder.handle))
    gate.follow(lambda: state[0])
    return gate, recorder


@pytest.mark.parametrize(
    "asleep", [NasState.SLEEPING, NasState.OFFLINE, NasState.SHUTTING_DOWN, NasState.WAKING]
)
async def test_background_work_is_refused_without_sending_while_the_nas_is_not_up(
    clock: ManualClock, asleep: NasState
) -> None:
    gate, nas = gated(clock, [asleep])
    async with NasClient("http://nas.test", transport=gate) as client:
        with nas_purpose(Purpose.BACKGROUND), pytest.raises(NasUnreachable):
            await client.request("GET", "/api/sync/changes")
        with nas_purpose(Purpose.BACKGROUND), pytest.raises(NasUnreachable):
            async with client.stream("PUT", "/api/files/upload", content=b"x"):
                pass
    assert nas.seen == []
    assert gate.report()["requests_refused"]["background"] == 2
    assert gate.report()["requests_sent"] == {p.value: 0 for p in Purpose}


async def test_a_user_request_goes_whatever_the_nas_is_believed_to_do(
    clock: ManualClock,
) -> None:
    """A person waits for it: the gate lets it through (waking is the waker's decision)."""
    gate, nas = gated(clock, [NasState.SLEEPING])
    async with NasClient("http://nas.test", transport=gate) as client:
        response = await client.request("GET", "/api/files/mountpoints")
    assert response.status_code == 200
    assert [r.url.path for r in nas.seen] == ["/api/files/mountpoints"]
    assert "x-sync-trigger" not in nas.seen[0].headers
    assert gate.sent[Purpose.USER] == 1


async def test_background_work_on_an_awake_nas_is_marked_not_to_wake_it(
    clock: ManualClock,
) -> None:
    """If the NAS fell asleep since the link last looked, BaluHost does not wake on it."""
    gate, nas = gated(clock, [NasState.ONLINE])
    async with NasClient("http://nas.test", transport=gate) as client:
        with nas_purpose(Purpose.BACKGROUND):
            await client.request("POST", "/api/sync/report-folders", json={})
    assert nas.seen[0].headers["x-sync-trigger"] == "auto"
    assert gate.sent[Purpose.BACKGROUND] == 1


async def test_counts_by_purpose_and_the_last_minute(clock: ManualClock) -> None:
    gate, _ = gated(clock, [NasState.ONLINE])
    async with NasClient("http://nas.test", transport=gate) as client:
        with nas_purpose(Purpose.PROBE):
            await client.request("GET", "/api/system/sleep/status")
        clock.advance(45)
        await client.request("GET", "/api/files/mountpoints")
        with nas_purpose(Purpose.PROBE):
            await client.request("GET", "/api/system/sleep/status")
        assert gate.report() == {
            "requests_sent": {"user": 1, "probe": 2, "wake": 0, "background": 0},
            "requests_refused": {"user": 0, "probe": 0, "wake": 0, "background": 0},
            "requests_last_minute": 3,
        }
        clock.advance(30)  # the first probe is now 75 s old
        assert gate.last_minute() == 2


def test_purpose_defaults_to_user_and_is_restored() -> None:
    assert current_purpose() is Purpose.USER
    with nas_purpose(Purpose.BACKGROUND):
        assert current_purpose() is Purpose.BACKGROUND
    assert current_purpose() is Purpose.USER


async def test_work_a_change_of_the_nas_state_sets_off_is_background(
    clock: ManualClock, sessions: async_sessionmaker[AsyncSession]
) -> None:
    """The warming burst and listing again after a wake are started by the link's listeners:
    their requests, and those of the tasks they start, are background work."""
    link = NasLink(None, LinkHistory(sessions), clock)
    await link.start()
    seen: list[Purpose] = []
    link.add_listener(lambda old, new: seen.append(current_purpose()))
    await link.report_power(2.0)  # standby: sleeping
    assert seen == [Purpose.BACKGROUND]
    assert current_purpose() is Purpose.USER  # the caller's own purpose is untouched
