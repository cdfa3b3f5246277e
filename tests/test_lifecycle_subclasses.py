"""Every service on the lifecycle base keeps its contract: one start, then any number of closes.

``tests/test_lifecycle.py`` checks the base with a toy service; here the real subclasses are
built (those that are cheap to build) and put through the same steps, so a subclass that
overrides ``start`` or ``aclose`` and loses the rule is caught. A subclass added to BaluPi must
be listed below, built or with the reason it is not, so none is forgotten.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import cast

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

import balupi
from balupi.clock import ManualClock
from balupi.lifecycle import Lifecycle, LifecycleError, LifecycleState
from balupi.services.nas.client import NasClient
from balupi.services.nas.history import LinkHistory
from balupi.services.nas.link import NasLink
from balupi.services.nas.notices import LifecycleNotices, SnapshotStore
from balupi.services.tapo.poller import PlugPoller, PollResult, PollTiming
from balupi.services.uploads.conflicts import Conflicts
from balupi.services.uploads.tokens import OwnerTokens
from balupi.services.uploads.worker import SyncWorker, WorkerSettings
from balupi.services.watchdog import Watchdog


@dataclass(frozen=True)
class Parts:
    """What the services are built from: a database, a directory, a clock nobody advances."""

    sessions: async_sessionmaker[AsyncSession]
    directory: Path
    clock: ManualClock

    def link(self) -> NasLink:
        return NasLink(None, LinkHistory(self.sessions), self.clock)  # no NAS URL


async def _no_results(results: list[PollResult]) -> None:
    """The poller's sink; no plug is registered, so it is never handed anything."""


def _nas_answers(request: httpx.Request) -> httpx.Response:
    return httpx.Response(200, json={"status": "ok"})


BUILDERS: dict[type[Lifecycle], Callable[[Parts], Lifecycle]] = {
    NasClient: lambda parts: NasClient(
        "http://nas.test", transport=httpx.MockTransport(_nas_answers)
    ),
    LifecycleNotices: lambda parts: LifecycleNotices(
        parts.link(), None, SnapshotStore(parts.directory), parts.clock
    ),
    NasLink: Parts.link,
    SyncWorker: lambda parts: SyncWorker(
        parts.sessions,
        parts.link(),
        cast(OwnerTokens, None),  # the worker asks for tokens only when the NAS is online
        cast(Conflicts, None),
        parts.clock,
        WorkerSettings(),
    ),
    Watchdog: lambda parts: Watchdog.from_environment({}),  # no systemd: nothing to ping
    PlugPoller: lambda parts: PlugPoller(PollTiming(), _no_results, parts.clock),
}

# Subclasses not built here, and why; each has its lifecycle exercised in its own tests.
NOT_BUILT = {
    "FileCache": "needs a content store, catalog, policy and waker (tests/cache)",
    "CacheWarmer": "needs a started FileCache (tests/cache/test_warming.py)",
    "MdnsDiscovery": "its start opens multicast sockets (tests/nas/test_discovery.py)",
    "TapoService": "needs a plug store and connector (tests/tapo)",
}


def _balupi_subclasses() -> set[str]:
    """The names of every ``Lifecycle`` subclass BaluPi defines (its modules all imported)."""
    for module in pkgutil.walk_packages(balupi.__path__, "balupi."):
        if module.name.endswith("__main__") or module.name.startswith("balupi.db.migrations"):
            continue
        importlib.import_module(module.name)
    found: set[str] = set()
    pending = list(Lifecycle.__subclasses__())
    while pending:
        cls = pending.pop()
        pending.extend(cls.__subclasses__())
        if cls.__module__.startswith("balupi."):
            found.add(cls.__name__)
    return found


def test_every_lifecycle_subclass_is_built_below_or_says_why_not() -> None:
    built = {cls.__name__ for cls in BUILDERS}
    assert _balupi_subclasses() == built | set(NOT_BUILT)
    assert not built & set(NOT_BUILT)


@pytest.fixture
def parts(sessions: async_sessionmaker[AsyncSession], tmp_path: Path) -> Parts:
    return Parts(sessions, tmp_path, ManualClock())


async def _refused(step: Callable[[], Awaitable[None]], match: str) -> None:
    with pytest.raises(LifecycleError, match=match):
        await step()


@pytest.mark.parametrize("kind", list(BUILDERS), ids=lambda kind: kind.__name__)
async def test_a_service_starts_once_and_closes_twice(kind: type[Lifecycle], parts: Parts) -> None:
    service = BUILDERS[kind](parts)
    assert isinstance(service, kind)
    await service.start()
    assert service.is_open
    await _refused(service.start, "already started")
    await service.aclose()
    await service.aclose()
    assert service.lifecycle_state is LifecycleState.CLOSED
    await _refused(service.start, "cannot be started again")


@pytest.mark.parametrize("kind", list(BUILDERS), ids=lambda kind: kind.__name__)
async def test_a_service_never_started_closes_twice(kind: type[Lifecycle], parts: Parts) -> None:
    service = BUILDERS[kind](parts)
    await service.aclose()
    await service.aclose()
    assert service.lifecycle_state is LifecycleState.CLOSED
    await _refused(service.start, "cannot be started again")
