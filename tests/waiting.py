"""Waiting for something outside a test's reach (another task, a socket, a process): poll with a
deadline, never a fixed sleep. One helper for every test directory."""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Callable


async def eventually(
    condition: Callable[[], object],
    timeout: float = 20.0,
    *,
    interval: float = 0.01,
    what: str = "condition",
) -> None:
    """Return once ``condition()`` (sync or async) is truthy; fail after ``timeout`` seconds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        result = condition()
        if inspect.isawaitable(result):
            result = await result
        if result:
            return
        if loop.time() > deadline:
            raise AssertionError(f"{what} not reached in time")
        await asyncio.sleep(interval)
