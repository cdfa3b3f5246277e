"""Background tasks with an owner: named, logged, and closed in order.

A bare ``asyncio.create_task`` is owned by nobody: the loop keeps only a weak reference (the task
can vanish mid-run), its exception is reported as "never retrieved" at garbage collection, and
shutdown cannot find it to cancel it. Every background task in BaluPi is spawned on a
``TaskOwner`` instead; the app has one (cache fills, revalidations, shared NAS checks, scheduled
jobs) and every ``Lifecycle`` service has its own for its loops.

Closing is two-phase: the owner stops accepting (``spawn`` raises), then cancels what is left
and waits at most ``grace`` seconds for it to end; a task that ignores its cancellation is logged
and left behind rather than hanging shutdown.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine, Iterable
from typing import Any, TypeVar

from balupi.lifecycle import Closing, LifecycleError
from balupi.logs import get_logger

log = get_logger(__name__)

T = TypeVar("T")

CLOSE_GRACE_S = 5.0


async def cancel_and_wait(
    tasks: asyncio.Task[Any] | Iterable[asyncio.Task[Any]] | None,
    *,
    grace: float | None = None,
) -> None:
    """Cancel ``tasks`` and wait (at most ``grace`` seconds) until they have ended.

    Their cancellation is swallowed; the caller's is not (``asyncio.wait`` lets it through).
    An exception a task ended with is its owner's to report: here it is only retrieved.
    """
    if tasks is None:
        return
    pending = {tasks} if isinstance(tasks, asyncio.Task) else set(tasks)
    if not pending:
        return
    for task in pending:
        task.cancel()
    done, stuck = await asyncio.wait(pending, timeout=grace)
    for task in done:
        _report(task, errors=False)
    for task in stuck:
        log.error("task ignored its cancellation", task=task.get_name(), grace_s=grace)


async def joined(task: asyncio.Task[Any]) -> None:
    """Wait until ``task`` has ended without cancelling it if the waiter is cancelled (shielded).

    The task's own cancellation is swallowed; the waiter's is not (a bare
    ``suppress(CancelledError)`` around ``shield`` would swallow both).
    """
    try:
        await asyncio.shield(task)
    except asyncio.CancelledError:
        current = asyncio.current_task()
        if not task.cancelled() or (current is not None and current.cancelling()):
            raise


def _report(task: asyncio.Task[Any], *, errors: bool = True) -> None:
    """Retrieve a finished task's outcome; log an exception (nobody else awaits it)."""
    if task.cancelled():
        return
    exc = task.exception()
    if exc is not None and errors:
        log.error("background task failed", task=task.get_name(), exc_info=exc)


class TaskOwner(Closing):
    """Owns background tasks: keeps them alive, logs failures, ends them on close.

    It sets no concurrency limits: a task cancelled while queued for a slot would never run its
    coroutine, so nothing that coroutine was handed (a NAS answer, a temp file) would be released.
    Work that must take turns waits for its turn inside its own task (cache fills do).

    Open from birth (``spawn`` is synchronous and callable from a constructor's callbacks);
    ``aclose()`` is idempotent, and ``async with`` closes it.
    """

    def __init__(self, name: str = "background", *, grace: float = CLOSE_GRACE_S) -> None:
        self.name = name
        self._grace = grace
        self._tasks: set[asyncio.Task[Any]] = set()
        self._closed = False

    @property
    def closed(self) -> bool:
        return self._closed

    def __len__(self) -> int:
        return len(self._tasks)

    def running(self, name: str) -> bool:
        """Whether a task called ``name`` is still running (for "at most one" jobs)."""
        return any(task.get_name() == name for task in self._tasks)

    def spawn(
        self,
        coro: Coroutine[Any, Any, T],
        *,
        name: str,
        report_errors: bool = True,
    ) -> asyncio.Task[T]:
        """Run ``coro`` as a task called ``name``.

        ``report_errors=False`` for tasks whose awaiters handle the failure themselves.
        """
        if self._closed:
            coro.close()  # never awaited: closed here so Python does not warn about it
            raise LifecycleError(f"{self.name} is closed; it takes no new task ({name}).")
        task = asyncio.create_task(coro, name=name)
        self._tasks.add(task)
        task.add_done_callback(lambda done: self._finished(done, report_errors))
        return task

    async def aclose(self) -> None:
        """Refuse new tasks, cancel the running ones and wait for them (bounded by the grace)."""
        if self._closed:
            return
        self._closed = True
        await cancel_and_wait(list(self._tasks), grace=self._grace)

    def _finished(self, task: asyncio.Task[Any], report_errors: bool) -> None:
        self._tasks.discard(task)
        _report(task, errors=report_errors)
