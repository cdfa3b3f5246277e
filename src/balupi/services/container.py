"""The services of one running BaluPi, built in the app's lifespan and reached through deps."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from balupi.clock import Clock
from balupi.config import Settings
from balupi.schedule import Scheduler
from balupi.services.auth import AuthService
from balupi.services.cache import FileCache
from balupi.services.cache.thumbnails import Thumbnails
from balupi.services.energy import EnergyService
from balupi.services.files.service import FileServices
from balupi.services.nas.discovery import MdnsDiscovery
from balupi.services.nas.gate import RequestGate
from balupi.services.nas.link import NasLink
from balupi.services.nas.notices import LifecycleNotices
from balupi.services.nas.wake import NasWaker
from balupi.services.system import SystemMonitor
from balupi.services.tapo import TapoService
from balupi.services.uploads.service import Uploads
from balupi.tasks import TaskOwner


@dataclass
class Services:
    settings: Settings
    clock: Clock
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    tasks: TaskOwner  # background work nobody awaits: fills, revalidations, scheduled jobs
    scheduler: Scheduler
    system: SystemMonitor
    nas_link: NasLink
    nas_gate: RequestGate | None  # None without BALUPI_NAS_URL: nothing is sent anywhere
    nas_waker: NasWaker
    auth: AuthService
    nas_notices: LifecycleNotices
    mdns: MdnsDiscovery | None  # None when BALUPI_MDNS_ENABLED is false
    uploads: Uploads
    cache: FileCache
    thumbnails: Thumbnails
    files: FileServices
    tapo: TapoService
    energy: EnergyService
