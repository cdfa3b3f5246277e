"""One NAS check per token at a time, shared by every request that waits for it.

Clients poll with several connections at once; without this, each would ask the NAS the same
question. The check runs as its own task, shielded from its waiters: one client hanging up must
not cancel the check the others wait for. When the app's task owner is given, the task is its
(so shutdown cancels and awaits what is left); otherwise it is a plain asyncio task.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from typing import Any, Generic, TypeVar

from balupi.tasks import TaskOwner

R = TypeVar("R")


class SharedChecks(Generic[R]):
    """Checks keyed by what they check; a second asker of a running check joins it."""

    def __init__(self, name: str, tasks: TaskOwner | None = None) -> None:
        self._name = name
        self._tasks = tasks
        self._running: dict[str, asyncio.Task[R]] = {}

    async def run(self, key: str, check: Callable[[], Coroutine[Any, Any, R]]) -> R:
        """The outcome (or exception) of the check for ``key``, started if none is running."""
        task = self._running.get(key)
        if task is None:
            task = self._start(check())
            self._running[key] = task
            task.add_done_callback(lambda done: self._finished(key, done))
        return await asyncio.shield(task)

    def _start(self, check: Coroutine[Any, Any, R]) -> asyncio.Task[R]:
        if self._tasks is None:
            return asyncio.ensure_future(check)
        # Not reported by the owner: a failed check is answered to its waiters.
        return self._tasks.spawn(check, name=self._name, report_errors=False)

    def _finished(self, key: str, task: asyncio.Task[R]) -> None:
        self._running.pop(key, None)
        if not task.cancelled():
            task.exception()  # retrieved, even if every waiter has gone
