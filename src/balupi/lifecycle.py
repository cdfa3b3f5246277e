"""One lifecycle for every service that holds a socket, a file or a task.

Shaped like httpx's client: ``UNOPENED -> OPENED -> CLOSED``, and never back. ``start()`` refuses
a second start (two health loops on one link would double every probe) and refuses to reopen a
closed service (its resources are gone; build a new one). ``aclose()`` may be called any number of
times, so shutdown code never has to ask whether a service got as far as starting.

A subclass writes ``_open()`` and ``_close()`` and starts its loops with ``self._spawn(...)``:
the tasks belong to the service's own ``TaskOwner`` and are cancelled and awaited on close, before
``_close()`` releases what they used. No service writes cancel-and-suppress by hand.
"""

from __future__ import annotations

import enum
from collections.abc import Coroutine
from types import TracebackType
from typing import TYPE_CHECKING, Any, Self, TypeVar

if TYPE_CHECKING:
    import asyncio

    from balupi.tasks import TaskOwner

T = TypeVar("T")


class LifecycleState(enum.Enum):
    UNOPENED = "unopened"  # built; holds nothing yet
    OPENED = "opened"  # started: may hold tasks, sockets, files
    CLOSED = "closed"  # released for good; a closed service is never reopened


class LifecycleError(RuntimeError):
    """A service was started twice, or started again after it was closed (a programming error)."""


class Closing:
    """``async with`` support for whatever has ``aclose()``: it is closed on the way out."""

    async def aclose(self) -> None:
        raise NotImplementedError

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.aclose()


class Lifecycle(Closing):
    """Base of BaluPi's long-lived services; also an async context manager that starts them."""

    # Class-level defaults: subclasses need not call ``super().__init__()``.
    _state: LifecycleState = LifecycleState.UNOPENED
    _owner: TaskOwner | None = None

    @property
    def lifecycle_state(self) -> LifecycleState:
        return self._state

    @property
    def is_open(self) -> bool:
        return self._state is LifecycleState.OPENED

    async def start(self) -> None:
        """Open the service; a failure while opening releases whatever was opened and re-raises."""
        name = type(self).__name__
        if self._state is LifecycleState.OPENED:
            raise LifecycleError(f"{name} is already started; it cannot be started twice.")
        if self._state is LifecycleState.CLOSED:
            raise LifecycleError(f"{name} was closed; a closed {name} cannot be started again.")
        self._state = LifecycleState.OPENED
        try:
            await self._open()
        except BaseException:
            await self.aclose()
            raise

    async def aclose(self) -> None:
        """Stop the service's tasks, then release its resources; harmless when repeated."""
        was_open = self._state is LifecycleState.OPENED
        self._state = LifecycleState.CLOSED
        if not was_open:
            return
        try:
            await self._closing()
        finally:
            try:  # the loops end even when winding down failed, before their resources go
                if self._owner is not None:
                    await self._owner.aclose()
            finally:
                await self._close()

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    # -- for subclasses -------------------------------------------------------------------------
    async def _open(self) -> None:
        """Acquire resources and start loops (``self._spawn``); nothing by default."""

    async def _closing(self) -> None:
        """First step of closing, while the service's tasks still run: tell them to wind down
        (stop a fetch in flight, flush counters). Nothing by default."""

    async def _close(self) -> None:
        """Release resources; the service's tasks have already ended. Nothing by default."""

    def _spawn(self, coro: Coroutine[Any, Any, T], *, name: str) -> asyncio.Task[T]:
        """Run ``coro`` as one of this service's tasks (cancelled and awaited on close).

        Refused once the service is closed: a task spawned then would have no owner to end it.
        """
        if self._state is LifecycleState.CLOSED:
            coro.close()  # never awaited: closed here so Python does not warn about it
            name_ = type(self).__name__
            raise LifecycleError(f"{name_} is closed; it takes no new task ({name}).")
        if self._owner is None:
            from balupi.tasks import TaskOwner  # tasks builds on this module

            self._owner = TaskOwner(type(self).__name__)
        return self._owner.spawn(coro, name=name)
