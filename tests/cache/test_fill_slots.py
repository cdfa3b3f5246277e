"""Fills beyond ``FILL_LIMIT`` wait for a slot; one cancelled while it waits still cleans up.

A fill waiting for its turn already holds the NAS's answer, a temp file and a descriptor, and is
the flight that later requesters of the path join. If its last reader leaves (or shutdown comes)
before it got a slot, the copy never ran: without the cleanup the NAS connection, the temp file
and the descriptor stayed open, and the flight stayed registered, so every later download of the
path attached to a copy that would never move and hung.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from pathlib import Path
from typing import cast

import httpx

from balupi.services.cache.fetch import Fill, FillFailed, FillResult, FillSlots, FillState
from balupi.services.cache.store import BlobWriter
from balupi.tasks import TaskOwner


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


async def test_a_fill_left_while_waiting_for_a_slot_is_cleaned_up(tmp_path: Path) -> None:
    tasks, slots = TaskOwner("fills"), FillSlots(1)
    finished: list[Fill] = []
    running, running_bytes = Fill("a"), HeldStream()
    waiting, waiting_bytes = Fill("b"), HeldStream()
    await begin(running, running_bytes, tmp_path / "a.part", tasks, slots, finished)
    fds = open_fds()
    await begin(waiting, waiting_bytes, tmp_path / "b.part", tasks, slots, finished)
    await asyncio.sleep(0.01)  # "a" copies (holds the one slot), "b" waits for it

    async with waiting.reading():
        pass  # its only reader leaves before "b" ever got a slot: the copy is cancelled

    await asyncio.wait_for(asyncio.sleep(0.05), 1)
    assert finished == [waiting]  # the flight is released: a later requester leads anew
    assert waiting.state is FillState.FAILED  # readers that joined meanwhile fail, never hang
    assert waiting_bytes.closed  # the NAS connection is closed
    assert not (tmp_path / "b.part").exists()  # the temp file is deleted
    assert open_fds() == fds  # and its descriptor closed
    try:
        await asyncio.wait_for(waiting.wait(), 1)
    except FillFailed:
        pass
    else:
        raise AssertionError("a fill cancelled before it copied is not a complete file")

    for chunk in (b"abc", None):  # the running fill is untouched by all this
        await running_bytes.chunks.put(chunk)
    await asyncio.wait_for(running.wait(), 5)
    assert running.state is FillState.VERIFIED
    await tasks.aclose()
