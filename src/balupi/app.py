"""``create_app(settings)``: the ASGI app, its routers, and the lifespan that runs its services.

Services are built once per app from the settings, entered on one ``AsyncExitStack`` in
dependency order and closed in reverse on shutdown. Nothing here is a module-level singleton:
two apps in one process (as in the tests) share nothing.
"""

from __future__ import annotations

import gc
import socket
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from datetime import timedelta

import anyio
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware

from balupi import __version__
from balupi.api.connection import ConnectionDropMiddleware
from balupi.api.errors import install_error_handlers
from balupi.api.main import include_routers
from balupi.api.middleware import RequestContextMiddleware
from balupi.clock import Clock, SystemClock
from balupi.config import Settings, check_data_dir
from balupi.db.engine import create_engine, create_sessionmaker
from balupi.db.migrate import upgrade_to_head
from balupi.db.models import NasState
from balupi.logs import get_logger
from balupi.services.auth import AuthPolicy, AuthService, TokenCache, UserRoster, UserStore
from balupi.services.backup import schedule_backups
from balupi.services.cache.sources import ListedFiles
from balupi.services.cache.startup import start_cache
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
from balupi.services.tapo.startup import schedule_tapo_jobs, start_tapo
from balupi.services.uploads.ingest import checksums_from
from balupi.services.uploads.offline import PendingChanges
from balupi.services.uploads.pull import FolderRevalidator, PullSettings
from balupi.services.uploads.service import start_uploads
from balupi.services.watchdog import Watchdog

log = get_logger(__name__)

CPU_SAMPLE_SECONDS = 5


def create_app(settings: Settings, *, clock: Clock | None = None) -> FastAPI:
    """Build BaluPi for ``settings``; its services start when the app's lifespan starts."""
    clock = clock or SystemClock()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with AsyncExitStack() as stack:
            # First in: systemd's watchdog is fed through the migrations that start-up runs.
            await stack.enter_async_context(Watchdog.from_environment())
            app.state.services = await _start_services(settings, clock, stack)
            # Everything start-up built lives as long as the process: moved out of the
            # collector's sight, later full collections stay short (they were 100+ ms pauses).
            gc.collect()
            gc.freeze()
            log.info("balupi started", version=__version__, env=settings.env)
            yield
            log.info("balupi stopping")

    app = FastAPI(
        title="BaluPi",
        version=__version__,
        lifespan=lifespan,
        docs_url=None if settings.is_production else "/api/docs",
        redoc_url=None,
        openapi_url=None if settings.is_production else "/api/openapi.json",
    )
    install_error_handlers(app)
    # Innermost of the middlewares: the outer ones would answer DropConnection with a 500.
    app.add_middleware(ConnectionDropMiddleware)
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_methods=["*"],
            allow_headers=["*"],
        )
    app.add_middleware(RequestContextMiddleware)
    include_routers(app)
    return app


async def _start_services(settings: Settings, clock: Clock, stack: AsyncExitStack) -> Services:
    await anyio.to_thread.run_sync(check_data_dir, settings)
    await anyio.to_thread.run_sync(upgrade_to_head, settings.resolved_database_url)

    engine = create_engine(settings.resolved_database_url)
    stack.push_async_callback(engine.dispose)
    sessions = create_sessionmaker(engine)

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
    await nas_link.start()
    stack.push_async_callback(nas_link.stop)
    wake_target = (
        WakeTarget(settings.nas_mac, settings.wol_broadcast, settings.wol_port)
        if settings.nas_mac
        else None
    )
    nas_waker = NasWaker(nas_link, wake_target, clock)
    nas_notices = await _start_notices(settings, clock, nas_link)
    quiet = QuietBudget(clock, settings.nas_quiet_seconds)  # optional requests to the NAS
    auth = AuthService(
        UserStore(sessions),
        TokenCache(sessions),
        nas_link,
        clock,
        AuthPolicy.from_settings(settings),
        waker=nas_waker,
        roster=lambda: UserRoster.of(nas_notices.snapshot),
        budget=quiet,
    )
    mdns = await _start_mdns(settings, stack, nas_link, nas_notices)

    system_monitor = SystemMonitor(settings.data_dir, clock)
    file_metadata = MetadataStore(sessions, clock)
    file_access = FileAccess(file_metadata)
    cache, thumbnails = await start_cache(
        settings,
        sessions,
        nas_link,
        nas_waker,
        clock,
        stack,
        listings=ListedFiles(file_metadata.entry),
        viewers=file_access,
    )
    wake_policy = WakePolicy(
        enabled=settings.wake_on_request, wait_seconds=settings.wake_wait_seconds
    )
    with nas_purpose(Purpose.BACKGROUND):  # the sync worker's task: it never wakes the NAS
        uploads = await start_uploads(
            settings,
            sessions,
            nas_link,
            clock,
            stack,
            known_checksum=checksums_from(file_metadata.entry),
            local_files=cache.local,
            waker=nas_waker,
        )
    warmer = CacheWarmer(
        sessions,
        nas_link,
        cache,
        thumbnails,
        uploads.tokens,
        clock,
        WarmSettings.from_settings(settings),
    )
    warmer.attach()  # one burst after each wake of the NAS
    stack.push_async_callback(warmer.stop)
    pending = PendingChanges(
        uploads.queue,
        file_metadata.entry,
        is_online=lambda: nas_link.state is NasState.ONLINE,
        on_queued=uploads.accepted,
        copies=uploads.copies,
    )
    files_service = FileServices.create(
        file_metadata,
        file_access,
        NasGate(nas_link, nas_waker, wake_policy),
        clock,
        cache_hooks=cache,
        overlay=pending,
        offline=pending,
        fresh_for=timedelta(seconds=settings.listing_fresh_seconds),
        budget=quiet,
    )
    stack.push_async_callback(files_service.aclose)
    uploads.worker.on_synced(files_service.pushed)
    revalidator = FolderRevalidator(
        sessions,
        nas_link,
        files_service.listing,
        uploads.tokens,
        clock,
        PullSettings(min_age=timedelta(seconds=settings.listing_fresh_seconds)),
    )
    tapo_service = await start_tapo(settings, sessions, nas_link, clock, stack)

    scheduler = AsyncIOScheduler(timezone=settings.zone)
    scheduler.add_job(
        system_monitor.sample_cpu_async,
        "interval",
        seconds=CPU_SAMPLE_SECONDS,
        id="sample_cpu",
        coalesce=True,
        max_instances=1,
    )
    scheduler.add_job(
        uploads.resumable.expire, "interval", hours=1, id="expire_upload_sessions", coalesce=True
    )

    def revalidate_after_wake(old: LinkSnapshot, new: LinkSnapshot) -> None:
        """Browsed folders are listed again in one burst when the NAS comes online, never on
        a timer: a periodic burst would keep a NAS that nobody uses awake (issue 12)."""
        if new.state is NasState.ONLINE and old.state is not NasState.ONLINE:
            scheduler.add_job(revalidator.run_once, id="revalidate_folders", replace_existing=True)

    nas_link.add_listener(revalidate_after_wake)
    schedule_tapo_jobs(scheduler, tapo_service)
    energy_service = EnergyService(
        sessions, clock, settings.zone, poll_seconds=settings.energy_poll_seconds
    )
    energy_service.schedule(scheduler)
    schedule_backups(scheduler, settings, clock)
    with nas_purpose(Purpose.BACKGROUND):  # scheduled jobs: nobody waits, the NAS is not woken
        scheduler.start()
    stack.callback(scheduler.shutdown, wait=False)
    stack.push_async_callback(energy_service.aclose)  # first out: lets a roll-up batch finish

    return Services(
        settings=settings,
        clock=clock,
        engine=engine,
        sessions=sessions,
        scheduler=scheduler,
        system=system_monitor,
        nas_link=nas_link,
        nas_gate=nas_gate,
        nas_waker=nas_waker,
        auth=auth,
        nas_notices=nas_notices,
        mdns=mdns,
        uploads=uploads,
        cache=cache,
        thumbnails=thumbnails,
        files=files_service,
        tapo=tapo_service,
        energy=energy_service,
    )


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
