"""Misses beyond ``FILL_LIMIT`` wait for a turn, before the NAS is asked; a fill gives its turn
back however it ends.

A fill holds the NAS's answer, a temp file and a descriptor, and is the flight that later
requesters of the path join. Waiting for a turn with the NAS's answer open kept one of the NAS
client's connections idle and stalled the NAS's send; and a fill cancelled while it waited never
ran its cleanup, so its flight stayed registered and every later download of the path hung.
"""

from __future__ import annotations

import asyncio
import os
import threading
from collections.abc import AsyncIterator, Sequence
from contextlib import AsyncExitStack
from pathlib import Path
from typing import cast

import httpx
import pytest

from balupi.db.models import NasState
from balupi.services.cache import filling
from balupi.services.cache.fetch import Fill, FillFailed, FillResult, FillSlots, FillState
from balupi.services.cache.store import BlobWriter
from balupi.tasks import TaskOwner
from tests.cache.conftest import CacheHome, MiB, pattern
from tests.waiting import eventually


class HeldStream:
    """A NAS answer whose bytes come only when the test lets them."""

    def __init__(self) -> None:
        self.chunks: asyncio.Queue[bytes | None] = asyncio.Queue()
        self.closed = False

    async def aiter_raw(self) -> AsyncIterator[bytes]:
        while (chunk := await self.chunks.get()) is not None:
            yield chunk


async def begin(
    fill: Fill,
    stream: HeldStream,
    temp: Path,
    tasks: TaskOwner,
    slots: FillSlots,
    finished: list[Fill],
) -> None:
    resources = AsyncExitStack()
    resources.callback(lambda: setattr(stream, "closed", True))

    async def commit(_: Fill, result: FillResult) -> str:
        result.writer.finish()
        return str(result.writer.path)

    fill.start(
        cast(httpx.Response, stream),
        resources,
        BlobWriter(temp),
        3,
        {},
        expected_sha256=None,
        commit=commit,
        finished=finished.append,
        tasks=tasks,
        slots=slots,
    )


def open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


async def test_a_fill_left_by_its_reader_cleans_up_and_gives_its_turn_back(
    tmp_path: Path,
) -> None:
    tasks, slots = TaskOwner("fills"), FillSlots(1)
    finished: list[Fill] = []
    left, left_bytes = Fill("b"), HeldStream()
    fds = open_fds()
    await slots.acquire()  # the leader's turn, handed to the fill
    await begin(left, left_bytes, tmp_path / "b.part", tasks, slots, finished)
    await asyncio.sleep(0.01)

    async with left.reading():
        pass  # its only reader leaves before any byte came: the copy is cancelled

    await asyncio.wait_for(asyncio.sleep(0.05), 1)
    assert finished == [left]  # the flight is released: a later requester leads anew
    assert left.state is FillState.FAILED  # readers that joined meanwhile fail, never hang
    assert left_bytes.closed  # the NAS connection is closed
    assert not (tmp_path / "b.part").exists()  # the temp file is deleted
    assert open_fds() == fds  # and its descriptor closed
    assert not slots.locked()  # and its turn given back
    try:
        await asyncio.wait_for(left.wait(), 1)
    except FillFailed:
        pass
    else:
        raise AssertionError("a fill cancelled before it copied is not a complete file")

    running, running_bytes = Fill("a"), HeldStream()  # the next fill takes the turn
    await slots.acquire()
    await begin(running, running_bytes, tmp_path / "a.part", tasks, slots, finished)
    for chunk in (b"abc", None):
        await running_bytes.chunks.put(chunk)
    await asyncio.wait_for(running.wait(), 5)
    assert running.state is FillState.VERIFIED
    await asyncio.sleep(0)
    assert not slots.locked()

    unstarted = Fill("c")  # cancelled before its task ever ran: the turn comes back all the same
    await slots.acquire()
    await begin(unstarted, HeldStream(), tmp_path / "c.part", tasks, slots, finished)
    await tasks.aclose()
    assert not slots.locked()


async def test_a_fill_waits_for_its_slot_before_it_asks_the_nas(
    cache_home: CacheHome, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Not with the NAS's answer open: an answer nobody reads holds one of the NAS client's
    connections (other requests to the NAS then wait for the pool, time out, and the link takes
    the NAS for unreachable) and stalls the NAS's send, which its server may cut."""
    first = cache_home.put("Shared/turns/first.bin", pattern(2 * MiB, 1))
    second = cache_home.put("Shared/turns/second.bin", pattern(MiB, 2))
    cache_home.cache._filler._slots = FillSlots(1)
    writing, release = threading.Event(), threading.Event()
    write = BlobWriter.write

    def held_write(self: BlobWriter, piece: Sequence[bytes]) -> None:
        writing.set()
        release.wait(10)  # the first fill holds the one slot until the test lets it go on
        write(self, piece)

    monkeypatch.setattr(BlobWriter, "write", held_write)
    before = cache_home.nas_requests()
    copying = asyncio.create_task(cache_home.download("maria", "Shared/turns/first.bin"))
    await eventually(writing.is_set)
    waiting = asyncio.create_task(cache_home.download("maria", "Shared/turns/second.bin"))
    await eventually(lambda: cache_home.cache.fills_in_flight == 2)
    await asyncio.sleep(0.3)  # time enough for a request to the NAS, had one been sent
    assert cache_home.nas_requests() == before + 1

    release.set()
    answers = await asyncio.gather(copying, waiting)
    assert [a.content for a in answers] == [first, second]
    await cache_home.settled()
    assert cache_home.nas_requests() == before + 2
    assert cache_home.temp_files() == []


async def test_a_miss_that_gets_no_turn_in_time_is_passed_through_uncached(
    cache_home: CacheHome, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A photo does not wait behind long copies: after ``FILL_TURN_WAIT_S`` it comes from the
    NAS uncached, at once; the next request for it is a fill again."""
    cache_home.put("Shared/turns/video.bin", pattern(2 * MiB, 5))
    photo = cache_home.put("Shared/turns/photo.jpg", pattern(MiB, 6))
    cache_home.cache._filler._slots = FillSlots(1)
    monkeypatch.setattr(filling, "FILL_TURN_WAIT_S", 0.2)
    writing, release = threading.Event(), threading.Event()
    write = BlobWriter.write

    def held_write(self: BlobWriter, piece: Sequence[bytes]) -> None:
        writing.set()
        release.wait(10)  # the video's copy holds the one turn until the test lets it go on
        write(self, piece)

    monkeypatch.setattr(BlobWriter, "write", held_write)
    copying = asyncio.create_task(cache_home.download("maria", "Shared/turns/video.bin"))
    try:
        await eventually(writing.is_set)
        answer = await asyncio.wait_for(
            cache_home.download("maria", "Shared/turns/photo.jpg"), timeout=5
        )
        assert answer.status_code == 200
        assert answer.content == photo
        assert cache_home.cache.catalog.get("Shared/turns/photo.jpg") is None
        assert not copying.done()  # answered while the video still held the only turn
    finally:
        release.set()
    assert (await copying).status_code == 200
    await cache_home.settled()
    again = await cache_home.download("maria", "Shared/turns/photo.jpg")
    assert again.content == photo
    await cache_home.settled()
    assert cache_home.cache.catalog.get("Shared/turns/photo.jpg") is not None
    assert cache_home.temp_files() == []


async def test_a_background_miss_that_waited_for_its_turn_does_not_wake_a_sleeping_nas(
    cache_home: CacheHome, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``X-Sync-Trigger: auto`` was checked against the link before the wait for a turn; the
    NAS may fall asleep meanwhile, and the request sent after it must not wake it."""
    cache_home.put("Shared/turns/big.bin", pattern(2 * MiB, 3))
    cache_home.put("Shared/turns/later.bin", pattern(MiB, 4))
    cache_home.cache._filler._slots = FillSlots(1)
    writing, release = threading.Event(), threading.Event()
    write = BlobWriter.write

    def held_write(self: BlobWriter, piece: Sequence[bytes]) -> None:
        writing.set()
        release.wait(10)
        write(self, piece)

    monkeypatch.setattr(BlobWriter, "write", held_write)
    before = cache_home.nas_requests()
    copying = asyncio.create_task(cache_home.download("maria", "Shared/turns/big.bin"))
    await eventually(writing.is_set)
    auto = {"X-Sync-Trigger": "auto"}
    waiting = asyncio.create_task(cache_home.download("maria", "Shared/turns/later.bin", **auto))
    await eventually(lambda: cache_home.cache.fills_in_flight == 2)
    link = cache_home.home.services.nas_link
    await link._transition(NasState.SLEEPING, "test: the NAS fell asleep meanwhile")

    release.set()
    later = await waiting
    assert later.status_code == 503
    assert cache_home.nas_requests() == before + 1  # nothing sent that could wake it
    assert (await copying).status_code == 200
    await cache_home.settled()
