"""Single flight: one NAS download per file, however many clients miss on it at once.

The model is nginx's ``proxy_cache_lock``, with one difference: nobody waits for the whole
file. The first requester of a path (the leader) opens the NAS download; a ``Fill`` task copies
the NAS's bytes into a temp file, hashing them on the way (``BlobWriter``). Every requester,
the leader included, reads that *growing* temp file from the start, waiting at its end for
more; so twenty clients that miss on one photo cause one NAS request, and a late one gets the
bytes already there at disk speed. Memory stays bounded whatever the number of readers (a slow
reader just lags behind on disk; nothing queues up for it in RAM).

Integrity rules:

* the last byte is released to readers only after the size (and the SHA-256, when the NAS's
  listing has one) has been checked: a client never receives a complete-looking wrong body; a
  failed check breaks every reader's connection short of its ``Content-Length``;
* the blob enters the store only after ``fsync`` and an atomic rename (``ContentStore.commit``);
* when the last reader leaves before the copy is complete, the copy is cancelled and the temp
  file deleted: a client that disconnects never leaves a partial entry, and the Pi stops
  pulling bytes nobody wants over its shared USB bus.

Requesters that join while the leader is still opening the download wait for its outcome: a
cacheable 200 (they attach), a NAS error (a 404 is shared; others, which may depend on who
asks, make each requester ask for itself), or a file too large to cache (each streams its own).
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import os
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack
from dataclasses import dataclass
from typing import BinaryIO

import anyio
import httpx

from balupi.errors import CacheError, NasRejected
from balupi.logs import get_logger
from balupi.services.cache.store import BlobWriter
from balupi.tasks import TaskOwner, cancel_and_wait, joined

log = get_logger(__name__)

KiB = 1024
# Bytes from the NAS are gathered into pieces, each written and hashed in one pair of thread
# hops. All fills together hold about FILL_BUDGET in pieces (the one being gathered, WRITE_QUEUE
# waiting, one being written): a lone fill gets 1 MiB pieces, four or more get 256 KiB each.
FILL_BUDGET = 4 * 1024 * KiB
WRITE_QUEUE = 2
# Copies from the NAS at once: a Pi's SD card and link gain nothing from more, and each holds
# memory (``FILL_BUDGET``). A further miss waits for a turn before the NAS is asked, at most
# FILL_TURN_WAIT_S: then it is passed through uncached, so a photo never waits behind four
# videos' copies (the next request for it is cached).
FILL_LIMIT = 4
FILL_TURN_WAIT_S = 1.0
# The turns to copy, shared by a cache's fills. A leader takes one before it asks the NAS, so a
# fill waiting for its turn holds no NAS answer: an answer nobody reads would keep one of the NAS
# client's connections (other requests then wait for the pool and fail) and stall the NAS's send.
# The fill's task gives its turn back when it ends, however it ends (even cancelled unstarted).
FillSlots = asyncio.Semaphore
PIECE_MIN, PIECE_MAX = 256 * KiB, 1024 * KiB
READ_BYTES = 128 * KiB  # largest piece a reader without zero-copy takes from the temp file
SPAN_MIN = 1024 * KiB  # a zero-copy reader sends at least this much at once (or the rest)


def piece_size(active_fills: int) -> int:
    """Bytes per written piece while ``active_fills`` fills run at once."""
    share = FILL_BUDGET // (max(active_fills, 1) * (WRITE_QUEUE + 2))
    return max(PIECE_MIN, min(PIECE_MAX, 1 << (share.bit_length() - 1)))


class FillFailed(CacheError):
    """The download broke off or its bytes did not check out; readers must fail too."""

    code = "fill_failed"


class FillState(enum.Enum):
    OPENING = "opening"  # the leader is asking the NAS
    COPYING = "copying"  # bytes arrive; readers may read all but the last byte
    VERIFIED = "verified"  # size and hash checked: the whole file may be read
    FAILED = "failed"  # broken off or wrong: readers fail
    REFUSED = "refused"  # never started: the NAS said no, or the file is not for caching


class Outcome(enum.Enum):
    ATTACH = "attach"  # read the fill
    RETRY = "retry"  # the leader left or got a per-user answer: ask for yourself
    UNCACHEABLE = "uncacheable"  # too large (or unsized): stream your own download
    REJECTED = "rejected"  # the NAS's answer holds for everyone (404): raise ``rejection``


@dataclass(frozen=True)
class FillResult:
    """What a completed fill produced: the verified temp file, ready to be committed."""

    writer: BlobWriter
    sha256: str
    headers: dict[str, str]


Commit = Callable[["Fill", FillResult], Awaitable[str]]  # returns the blob's path


class Fill:
    """One file being fetched: its state, its temp file, and who is reading it."""

    def __init__(self, path: str, piece: int = PIECE_MAX) -> None:
        self.path = path
        self.piece = piece  # bytes written and hashed at a time (``piece_size``)
        self.state = FillState.OPENING
        self.outcome: Outcome | None = None
        self.rejection: NasRejected | None = None
        self.headers: dict[str, str] = {}
        self.size = 0
        self.written = 0
        self.readers = 0
        self.error: BaseException | None = None
        self.blob: str | None = None  # where the bytes are once committed
        self._writer: BlobWriter | None = None
        self._read_fd: int | None = None  # readers take duplicates of it
        self._task: asyncio.Task[None] | None = None
        self._opened = asyncio.Event()
        self._progress = asyncio.Event()

    # -- the leader's side --------------------------------------------------------------------
    def refuse(self, outcome: Outcome, rejection: NasRejected | None = None) -> None:
        """The leader will not fill: tell the waiting joiners what to do instead."""
        self.state = FillState.REFUSED
        self.outcome = outcome
        self.rejection = rejection
        self._opened.set()

    def start(
        self,
        response: httpx.Response,
        resources: AsyncExitStack,
        writer: BlobWriter,
        size: int,
        headers: dict[str, str],
        *,
        expected_sha256: str | None,
        commit: Commit,
        finished: Callable[[Fill], None],
        tasks: TaskOwner,
        slots: FillSlots,
    ) -> None:
        """Begin copying ``response`` (whose resources the fill now owns) into ``writer``.

        The copy is a task of ``tasks``. The caller holds one of ``slots`` for it (at most
        ``FILL_LIMIT`` copy at once): the fill gives it back when its task ends."""
        self._writer = writer
        self._read_fd = os.open(writer.path, os.O_RDONLY)
        self.size = size
        self.headers = headers
        self.state = FillState.COPYING
        self.outcome = Outcome.ATTACH
        self._task = tasks.spawn(
            self._run(response, resources, expected_sha256, commit, finished),
            name=f"cache-fill {self.path}",
            report_errors=False,  # a failed fill logs itself and fails its readers
        )
        self._task.add_done_callback(lambda _: slots.release())
        self._opened.set()

    # -- the joiners' side --------------------------------------------------------------------
    async def opened(self) -> Outcome:
        await self._opened.wait()
        assert self.outcome is not None
        return self.outcome

    @contextlib.asynccontextmanager
    async def reading(self) -> AsyncIterator[FillReader]:
        """Attach as a reader of the file's bytes from the start, as they arrive.

        Leaving (however: done, client gone, error) detaches; the last reader to leave an
        unfinished copy cancels it.
        """
        fd = self._open_source()
        self.readers += 1
        try:
            yield FillReader(self, fd)
        finally:
            self.readers -= 1
            os.close(fd)
            if self.readers == 0 and self.state is FillState.COPYING and self._task:
                log.info("cache fill abandoned by its last reader", path=self.path)
                self._task.cancel()

    def _open_source(self) -> int:
        """A descriptor of the bytes: of the temp file while copying (it survives the temp
        file's rename or deletion), of the committed blob afterwards."""
        if self.state is FillState.FAILED or self.state is FillState.REFUSED:
            raise FillFailed(f"the download of {self.path} failed")
        if self._read_fd is not None:
            return os.dup(self._read_fd)
        if self.blob is not None:
            return os.open(self.blob, os.O_RDONLY)
        raise FillFailed(f"the download of {self.path} is gone")

    async def spans(self, least: int = 1) -> AsyncIterator[tuple[int, int]]:
        """``(offset, count)`` of the file's readable stretches in order, each at least
        ``least`` bytes long but for the last."""
        offset = 0
        while True:
            progress = self._progress  # taken before the checks: no wake-up can be lost
            if self.state is FillState.FAILED:
                raise FillFailed(f"the download of {self.path} failed") from self.error
            complete = self.state is FillState.VERIFIED
            # The last byte waits for the check, so a wrong file never looks complete.
            available = self.size if complete else min(self.written, self.size - 1)
            if available - offset >= least or (complete and offset < available):
                yield offset, available - offset
                offset = available
                continue
            if complete:
                return
            await progress.wait()

    async def cancel(self) -> None:
        """Stop the copy (shutdown); its temp file is deleted, readers fail."""
        if self._task is not None and not self._task.done():
            await cancel_and_wait(self._task)

    async def wait(self) -> None:
        """Until the fill is complete (committed) or failed; ``FillFailed`` if it failed."""
        if self._task is not None:
            await joined(self._task)
        if self.state is not FillState.VERIFIED:
            raise FillFailed(f"the download of {self.path} failed") from self.error

    # -- the copy ------------------------------------------------------------------------------
    def _advance(self, state: FillState | None = None) -> None:
        if state is not None:
            self.state = state
        event, self._progress = self._progress, asyncio.Event()
        event.set()

    async def _run(
        self,
        response: httpx.Response,
        resources: AsyncExitStack,
        expected_sha256: str | None,
        commit: Commit,
        finished: Callable[[Fill], None],
    ) -> None:
        writer = self._writer
        assert writer is not None
        committed = False
        try:
            async with resources:
                await self._copy(response, writer)
            sha256 = writer.hexdigest()
            if writer.size != self.size:
                raise FillFailed(f"{self.path}: got {writer.size} of {self.size} bytes")
            if expected_sha256 is not None and sha256 != expected_sha256:
                raise FillFailed(f"{self.path}: SHA-256 differs from the NAS's listing")
            self._advance(FillState.VERIFIED)
            self.blob = await commit(self, FillResult(writer, sha256, self.headers))
            committed = True
        except BaseException as exc:
            self.error = exc
            if self.state is not FillState.VERIFIED:
                self._advance(FillState.FAILED)
            if not isinstance(exc, asyncio.CancelledError):
                log.warning("cache fill failed", path=self.path, error=str(exc))
            if not isinstance(exc, Exception):
                raise
        finally:
            if self._read_fd is not None:
                os.close(self._read_fd)
                self._read_fd = None
            if not committed:
                await anyio.to_thread.run_sync(writer.discard)
            finished(self)

    async def _copy(self, response: httpx.Response, writer: BlobWriter) -> None:
        """Receive from the NAS while the previous pieces are written and hashed in a thread
        (a queue of ``WRITE_QUEUE`` pieces between the two bounds the memory this takes)."""
        pieces: asyncio.Queue[list[bytes] | None] = asyncio.Queue(maxsize=WRITE_QUEUE)
        async with asyncio.TaskGroup() as group:  # a failed write cancels the receiving
            group.create_task(self._drain(pieces, writer))
            piece: list[bytes] = []  # the chunks as received: written by writev, never joined
            pending = received = 0
            try:
                async for chunk in response.aiter_raw():
                    received += len(chunk)
                    if received > self.size:
                        raise FillFailed(f"{self.path}: the NAS sent more than {self.size} bytes")
                    piece.append(chunk)
                    pending += len(chunk)
                    if pending >= self.piece:
                        await pieces.put(piece)
                        piece, pending = [], 0
            except httpx.HTTPError as exc:
                raise FillFailed(
                    f"{self.path}: the NAS stream broke ({type(exc).__name__})"
                ) from exc
            if piece:
                await pieces.put(piece)
            await pieces.put(None)

    async def _drain(self, pieces: asyncio.Queue[list[bytes] | None], writer: BlobWriter) -> None:
        while (piece := await pieces.get()) is not None:
            async with anyio.create_task_group() as group:  # write and hash side by side
                group.start_soon(anyio.to_thread.run_sync, writer.write, piece)
                group.start_soon(anyio.to_thread.run_sync, writer.absorb, piece)
            self.written = writer.size
            self._advance()


class FillReader:
    """One reader of a fill: its own descriptor of the bytes, read in pieces or handed over.

    ``chunks`` reads the bytes into memory (for a server that can only send bytes); ``spans``
    with ``file`` lets a server with zero-copy send them from the page cache itself.
    """

    def __init__(self, fill: Fill, fd: int) -> None:
        self._fill = fill
        self._fd = fd

    def file(self) -> BinaryIO:
        """The descriptor as a file object (``loop.sendfile`` wants one); closed with it."""
        return open(self._fd, "rb", buffering=0, closefd=False)

    def spans(self) -> AsyncIterator[tuple[int, int]]:
        """Stretches for a zero-copy send: ``SPAN_MIN`` or more (each send has a fixed cost)."""
        return self._fill.spans(SPAN_MIN)

    async def chunks(self) -> AsyncIterator[bytes]:
        async for offset, count in self._fill.spans():
            end = offset + count
            while offset < end:
                want = min(READ_BYTES, end - offset)
                chunk = await anyio.to_thread.run_sync(os.pread, self._fd, want, offset)
                if not chunk:
                    raise FillFailed(f"the temp file of {self._fill.path} is short")
                offset += len(chunk)
                yield chunk


class Flights:
    """The fills in progress, by path: at most one per path."""

    def __init__(self) -> None:
        self._fills: dict[str, Fill] = {}

    def get(self, path: str) -> Fill | None:
        return self._fills.get(path)

    def lead(self, path: str) -> Fill:
        """Register a new fill for ``path``; the caller is its leader."""
        assert path not in self._fills, "a fill for this path is already in flight"
        fill = Fill(path, piece_size(len(self._fills) + 1))
        self._fills[path] = fill
        return fill

    def finish(self, fill: Fill) -> None:
        if self._fills.get(fill.path) is fill:
            del self._fills[fill.path]

    def __len__(self) -> int:
        return len(self._fills)

    def active(self) -> list[Fill]:
        return list(self._fills.values())
