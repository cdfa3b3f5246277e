"""FastAPI dependencies: how routes reach the services of the running app.

Each route takes only the services it uses (``EnergyDep``, ``CacheDep`` …), never the whole
container: its signature then says what it touches, and a test can override one service.
All are ``async def``: FastAPI runs a plain ``def`` dependency in its thread pool, a thread hop
per dependency per request that these one-line lookups do not need.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from balupi.clock import Clock
from balupi.errors import PermissionDenied
from balupi.services.auth import AuthenticatedUser, AuthService
from balupi.services.cache import FileCache
from balupi.services.cache.thumbnails import Thumbnails
from balupi.services.container import Services
from balupi.services.energy import EnergyService
from balupi.services.files.service import FileServices
from balupi.services.nas.notices import LifecycleNotices
from balupi.services.nas.panel import NasPanel
from balupi.services.system import SystemMonitor
from balupi.services.tapo import TapoService
from balupi.services.uploads.desk import SyncDesk
from balupi.services.uploads.intake import UploadDesk
from balupi.services.uploads.service import Uploads


async def get_services(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


ServicesDep = Annotated[Services, Depends(get_services)]


async def get_system_monitor(services: ServicesDep) -> SystemMonitor:
    return services.system


SystemMonitorDep = Annotated[SystemMonitor, Depends(get_system_monitor)]


async def get_auth_service(services: ServicesDep) -> AuthService:
    return services.auth


AuthServiceDep = Annotated[AuthService, Depends(get_auth_service)]


async def get_bearer_token(request: Request) -> str | None:
    """The token of ``Authorization: Bearer …``, all BaluHost reads (docs/compat/nas-api.md §0)."""
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer":
        return None
    return token.strip() or None


BearerToken = Annotated[str | None, Depends(get_bearer_token)]


async def get_current_user(token: BearerToken, auth: AuthServiceDep) -> AuthenticatedUser:
    """The caller, or 401 (invalid credentials) or 503 (cannot be checked while the NAS is away)."""
    return await auth.authenticate(token)


CurrentUser = Annotated[AuthenticatedUser, Depends(get_current_user)]


async def get_admin_user(user: CurrentUser) -> AuthenticatedUser:
    if not user.is_admin:
        raise PermissionDenied()
    return user


AdminUser = Annotated[AuthenticatedUser, Depends(get_admin_user)]


async def get_tapo(services: ServicesDep) -> TapoService:
    return services.tapo


TapoDep = Annotated[TapoService, Depends(get_tapo)]


async def get_clock(services: ServicesDep) -> Clock:
    return services.clock


ClockDep = Annotated[Clock, Depends(get_clock)]


async def get_energy(services: ServicesDep) -> EnergyService:
    return services.energy


EnergyDep = Annotated[EnergyService, Depends(get_energy)]


async def get_cache(services: ServicesDep) -> FileCache:
    return services.cache


CacheDep = Annotated[FileCache, Depends(get_cache)]


async def get_thumbnails(services: ServicesDep) -> Thumbnails:
    return services.thumbnails


ThumbnailsDep = Annotated[Thumbnails, Depends(get_thumbnails)]


async def get_files(services: ServicesDep) -> FileServices:
    return services.files


FilesDep = Annotated[FileServices, Depends(get_files)]


async def get_uploads(services: ServicesDep) -> Uploads:
    return services.uploads


UploadsDep = Annotated[Uploads, Depends(get_uploads)]


async def get_lifecycle_notices(services: ServicesDep) -> LifecycleNotices:
    return services.nas_notices


NoticesDep = Annotated[LifecycleNotices, Depends(get_lifecycle_notices)]


async def get_nas_panel(services: ServicesDep) -> NasPanel:
    """The NAS's state, history and Wake-on-LAN as ``/api/nas`` reports them (built per request:
    a view over the link, the waker and the gate, which the container keeps)."""
    return NasPanel(
        services.nas_link,
        services.nas_waker,
        services.clock,
        services.settings.zone,
        services.nas_gate,
    )


NasPanelDep = Annotated[NasPanel, Depends(get_nas_panel)]


async def get_sync_desk(services: ServicesDep) -> SyncDesk:
    """The sync calls' decisions (NAS awake?, folder copies, conflicts), built per request."""
    return SyncDesk(services.uploads, services.nas_link, services.sessions, services.clock)


SyncDeskDep = Annotated[SyncDesk, Depends(get_sync_desk)]


async def get_upload_desk(services: ServicesDep) -> UploadDesk:
    """The upload routes' one call each (permissions, sessions, what follows an upload)."""
    return UploadDesk(services.uploads, services.files)


UploadDeskDep = Annotated[UploadDesk, Depends(get_upload_desk)]
