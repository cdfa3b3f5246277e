"""BaluPi's start-up: the services built from the settings, in the one order they depend on.

``start_services`` is an ordered list of steps (database, NAS, auth, mDNS, files, plugs, energy,
jobs); each step is a small function that builds one side of the app and enters what it opened on
the lifespan's ``AsyncExitStack``, so shutdown closes everything in reverse. It lives apart from
``app.py`` so that the app's shape (middlewares, routers, lifespan) reads on one screen.
"""

from __future__ import annotations

import socket
from contextlib import AsyncExitStack
from dataclasses import dataclass
from datetime import timedelta

import anyio
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from balupi.clock import Clock
from balupi.config import Settings, check_data_dir
from balupi.db.engine import create_engine, create_sessionmaker
from balupi.db.migrate import upgrade_to_head
from balupi.db.models import NasState
from balupi.logs import get_logger
from balupi.schedule import Scheduler
from balupi.services.auth import AuthPolicy, AuthService, TokenCache, UserRoster, UserStore
from balupi.services.backup import schedule_backups
from balupi.services.cache import FileCache
from balupi.services.cache.sources import ListedFiles
from balupi.services.cache.startup import start_cache
from balupi.services.cache.thumbnails import Thumbnails
from balupi.services.cache.warming import CacheWarmer, WarmSettings
from balupi.services.container import Services
from balupi.services.energy import EnergyService
from balupi.services.files.access import FileAccess
from balupi.services.files.metadata import MetadataStore
from balupi.services.files.service import FileServices
from balupi.services.files.upstream import NasGate
from balupi.services.nas.client import LIMITS as NAS_LIMITS
from balupi.services.nas.client import NasClient
from balupi.services.nas.discovery import (
    MdnsDiscovery,
    PiAdvertisement,
    advertised_addresses,
    mdns_interfaces,
)
from balupi.services.nas.gate import Purpose, RequestGate, nas_purpose
from balupi.services.nas.history import LinkHistory
from balupi.services.nas.link import LinkSnapshot, LinkTiming, NasLink
from balupi.services.nas.notices import (
    MIN_SECRET_LENGTH,
    LifecycleNotices,
    NoticeVerifier,
    SnapshotStore,
)
from balupi.services.nas.passthrough import WakePolicy
from balupi.services.nas.probe import sleep_probe
from balupi.services.nas.quiet import QuietBudget
from balupi.services.nas.wake import NasWaker, WakeTarget
from balupi.services.system import SystemMonitor
from balupi.services.tapo import TapoService
from balupi.services.tapo.startup import schedule_tapo_jobs, start_tapo
from balupi.services.uploads.ingest import checksums_from
from balupi.services.uploads.offline import PendingChanges
from balupi.services.uploads.pull import FolderRevalidator, PullSettings
from balupi.services.uploads.service import Uploads, start_uploads
from balupi.tasks import TaskOwner

log = get_logger(__name__)

CPU_SAMPLE_SECONDS = 5


@dataclass(frozen=True)
class _Nas:
    """The NAS side of start-up: the link and what talks to the NAS through it."""

    gate: RequestGate | None  # None without BALUPI_NAS_URL: nothing is sent anywhere
    link: NasLink
    waker: NasWaker
    notices: LifecycleNotices
    quiet: QuietBudget  # optional requests to the NAS share it


@dataclass(frozen=True)
class _Files:
    """The file side of start-up: metadata, cache, uploads and the listing service."""

    cache: FileCache
    thumbnails: Thumbnails
    uploads: Uploads
    files: FileServices
    revalidator: FolderRevalidator


async def start_services(settings: Settings, clock: Clock, stack: AsyncExitStack) -> Services:
    """Start-up as an ordered list of steps; ``stack`` closes what each opened, in reverse."""
    tasks = TaskOwner("app")
    stack.push_async_callback(tasks.aclose)  # if start-up fails half-way
    engine, sessions = await _open_database(settings, stack)
    nas = await _start_nas(settings, clock, sessions, stack)
    auth = _build_auth(settings, clock, sessions, nas, tasks)
    mdns = await _start_mdns(settings, stack, nas.link, nas.notices)
    system_monitor = SystemMonitor(settings.data_dir, clock)
    files = await _start_files(settings, clock, sessions, nas, stack)
    tapo_service = await start_tapo(settings, sessions, nas.link, clock, stack)
    energy_service = EnergyService(
        sessions, clock, settings.zone, poll_seconds=settings.energy_poll_seconds
    )
    scheduler = Scheduler(tasks, clock, settings.zone)
    with nas_purpose(Purpose.BACKGROUND):  # scheduled jobs: nobody waits, the NAS is not woken
        _schedule_jobs(settings, clock, scheduler, system_monitor, files, tapo_service)
        energy_service.schedule(scheduler)
    _revalidate_after_wake(nas.link, scheduler, files.revalidator)
    # First out on shutdown: no new background work, running tasks cancelled and awaited ...
    stack.push_async_callback(tasks.aclose)
    # ... but before them, a running roll-up batch is let finish.
    stack.push_async_callback(energy_service.aclose)
    return Services(
        settings=settings,
        clock=clock,
        engine=engine,
        sessions=sessions,
        tasks=tasks,
        scheduler=scheduler,
        system=system_monitor,
        nas_link=nas.link,
        nas_gate=nas.gate,
        nas_waker=nas.waker,
        auth=auth,
        nas_notices=nas.notices,
        mdns=mdns,
        uploads=files.uploads,
        cache=files.cache,
        thumbnails=files.thumbnails,
        files=files.files,
        tapo=tapo_service,
        energy=energy_service,
    )


async def _open_database(
    settings: Settings, stack: AsyncExitStack
) -> tuple[AsyncEngine, async_sessionmaker[AsyncSession]]:
    """The data directory checked, the schema migrated, and the engine (disposed last)."""
    await anyio.to_thread.run_sync(check_data_dir, settings)
    await anyio.to_thread.run_sync(upgrade_to_head, settings.resolved_database_url)
    engine = create_engine(settings.resolved_database_url)
    stack.push_async_callback(engine.dispose)
    return engine, create_sessionmaker(engine)


async def _start_nas(
    settings: Settings,
    clock: Clock,
    sessions: async_sessionmaker[AsyncSession],
    stack: AsyncExitStack,
) -> _Nas:
    """The NAS client behind its request gate, the link watching it, the waker, the notices."""
    nas_client = None
    nas_gate = RequestGate(clock, limits=NAS_LIMITS) if settings.nas_url else None  # every request
    if settings.nas_url:
        nas_client = await stack.enter_async_context(
            NasClient(settings.nas_url, transport=nas_gate)
        )
    nas_link = NasLink(
        nas_client,
        LinkHistory(sessions),
        clock,
        mac=settings.nas_mac,
        timing=LinkTiming(health_interval=settings.nas_probe_seconds),
        probe=sleep_probe(settings, clock, sessions),
    )
    if nas_gate is not None:
        nas_gate.follow(lambda: nas_link.state)
    await stack.enter_async_context(nas_link)
    wake_target = (
        WakeTarget(settings.nas_mac, settings.wol_broadcast, settings.wol_port)
        if settings.nas_mac
        else None
    )
    nas_waker = NasWaker(nas_link, wake_target, clock)
    notices = await _start_notices(settings, clock, nas_link)
    quiet = QuietBudget(clock, settings.nas_quiet_seconds)
    return _Nas(nas_gate, nas_link, nas_waker, notices, quiet)


def _build_auth(
    settings: Settings,
    clock: Clock,
    sessions: async_sessionmaker[AsyncSession],
    nas: _Nas,
    tasks: TaskOwner,
) -> AuthService:
    """Logins and tokens; its shared NAS checks are the app's tasks (ended at shutdown)."""
    return AuthService(
        UserStore(sessions),
        TokenCache(sessions),
        nas.link,
        clock,
        AuthPolicy.from_settings(settings),
        waker=nas.waker,
        roster=lambda: UserRoster.of(nas.notices.snapshot),
        budget=nas.quiet,
        tasks=tasks,
    )


async def _start_files(
    settings: Settings,
    clock: Clock,
    sessions: async_sessionmaker[AsyncSession],
    nas: _Nas,
    stack: AsyncExitStack,
) -> _Files:
    """Metadata, the cache, the upload queue and its worker, warming, and the file service."""
    metadata = MetadataStore(sessions, clock)
    access = FileAccess(metadata)
    cache, thumbnails = await start_cache(
        settings,
        sessions,
        nas.link,
        nas.waker,
        clock,
        stack,
        listings=ListedFiles(metadata.entry),
        viewers=access,
    )
    with nas_purpose(Purpose.BACKGROUND):  # the sync worker's task: it never wakes the NAS
        uploads = await start_uploads(
            settings,
            sessions,
            nas.link,
            clock,
            stack,
            known_checksum=checksums_from(metadata.entry),
            local_files=cache.local,
            waker=nas.waker,
        )
    await _start_warming(settings, clock, sessions, nas, cache, thumbnails, uploads, stack)
    files = _build_file_service(settings, clock, nas, metadata, access, cache, uploads)
    stack.push_async_callback(files.aclose)
    revalidator = FolderRevalidator(
        sessions,
        nas.link,
        files.listing,
        uploads.tokens,
        clock,
        PullSettings(min_age=timedelta(seconds=settings.listing_fresh_seconds)),
    )
    return _Files(cache, thumbnails, uploads, files, revalidator)


def _build_file_service(
    settings: Settings,
    clock: Clock,
    nas: _Nas,
    metadata: MetadataStore,
    access: FileAccess,
    cache: FileCache,
    uploads: Uploads,
) -> FileServices:
    """Listings and changes: from the NAS when it is up, from the cache and the queue when not."""
    pending = PendingChanges(
        uploads.queue,
        metadata.entry,
        is_online=lambda: nas.link.state is NasState.ONLINE,
        on_queued=uploads.accepted,
        copies=uploads.copies,
    )
    wake_policy = WakePolicy(
        enabled=settings.wake_on_request, wait_seconds=settings.wake_wait_seconds
    )
    files = FileServices.create(
        metadata,
        access,
        NasGate(nas.link, nas.waker, wake_policy),
        clock,
        cache_hooks=cache,
        overlay=pending,
        offline=pending,
        fresh_for=timedelta(seconds=settings.listing_fresh_seconds),
        budget=nas.quiet,
    )
    uploads.worker.on_synced(files.pushed)
    return files


async def _start_warming(
    settings: Settings,
    clock: Clock,
    sessions: async_sessionmaker[AsyncSession],
    nas: _Nas,
    cache: FileCache,
    thumbnails: Thumbnails,
    uploads: Uploads,
    stack: AsyncExitStack,
) -> None:
    """One warming burst of the cache after each wake of the NAS."""
    warmer = CacheWarmer(
        sessions,
        nas.link,
        cache,
        thumbnails,
        uploads.tokens,
        clock,
        WarmSettings.from_settings(settings),
    )
    await stack.enter_async_context(warmer)


def _schedule_jobs(
    settings: Settings,
    clock: Clock,
    scheduler: Scheduler,
    system_monitor: SystemMonitor,
    files: _Files,
    tapo_service: TapoService,
) -> None:
    """The periodic and calendar jobs (the energy service adds its own)."""
    scheduler.every(CPU_SAMPLE_SECONDS, system_monitor.sample_cpu_async, name="sample_cpu")
    scheduler.every(3600, files.uploads.resumable.expire, name="expire_upload_sessions")
    schedule_tapo_jobs(scheduler, tapo_service)
    schedule_backups(scheduler, settings, clock)


def _revalidate_after_wake(
    nas_link: NasLink, scheduler: Scheduler, revalidator: FolderRevalidator
) -> None:
    """Browsed folders are listed again in one burst when the NAS comes online, never on
    a timer: a periodic burst would keep a NAS that nobody uses awake (issue 12)."""

    def on_change(old: LinkSnapshot, new: LinkSnapshot) -> None:
        if new.state is NasState.ONLINE and old.state is not NasState.ONLINE:
            with nas_purpose(Purpose.BACKGROUND):
                scheduler.run_soon(revalidator.run_once, name="revalidate_folders")

    nas_link.add_listener(on_change)


async def _start_notices(settings: Settings, clock: Clock, nas_link: NasLink) -> LifecycleNotices:
    """The receiver of the NAS's signed lifecycle notices, with the snapshot kept on disk."""
    secret = (
        settings.nas_handshake_secret.get_secret_value() if settings.nas_handshake_secret else ""
    )
    if secret and len(secret) < MIN_SECRET_LENGTH:
        log.warning("nas handshake secret is short", minimum=MIN_SECRET_LENGTH)
    verifier = NoticeVerifier(secret, clock) if secret else None
    notices = LifecycleNotices(
        nas_link, verifier, SnapshotStore(settings.data_dir / "handshake"), clock
    )
    await notices.start()
    return notices


async def _start_mdns(
    settings: Settings, stack: AsyncExitStack, nas_link: NasLink, notices: LifecycleNotices
) -> MdnsDiscovery | None:
    """Browsing for the NAS and advertising the Pi, on the networks BaluPi listens on."""
    if not settings.mdns_enabled:
        return None
    addresses = advertised_addresses(settings.host, settings.mdns_interfaces)
    discovery = MdnsDiscovery(
        nas_link,
        lambda: nas_link.client.base_url if nas_link.configured else None,
        interfaces=mdns_interfaces(settings.host, settings.mdns_interfaces),
        advertisement=(
            PiAdvertisement(socket.gethostname(), settings.port, addresses) if addresses else None
        ),
        nas_hostname=notices.nas_hostname,
    )
    return await stack.enter_async_context(discovery)
