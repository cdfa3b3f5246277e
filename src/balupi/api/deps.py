"""FastAPI dependencies: how routes reach the services of the running app.

Each route takes only the services it uses (``EnergyDep``, ``CacheDep`` …), never the whole
container: its signature then says what it touches, and a test can override one service.
All are ``async def``: FastAPI runs a plain ``def`` dependency in its thread pool, a thread hop
per dependency per request that these one-line lookups do not need.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated, TypeVar

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
T = TypeVar("T")


def _part(pick: Callable[[Services], T]) -> Callable[[Services], Awaitable[T]]:
    """A dependency answering ``pick(services)``: the one service (or view over a few) a route
    uses, so that its signature names what it touches."""

    async def dependency(services: ServicesDep) -> T:
        return pick(services)

    return dependency


# One service each: what a route names in its signature is what it touches.
SystemMonitorDep = Annotated[SystemMonitor, Depends(_part(lambda services: services.system))]
AuthServiceDep = Annotated[AuthService, Depends(_part(lambda services: services.auth))]
TapoDep = Annotated[TapoService, Depends(_part(lambda services: services.tapo))]
ClockDep = Annotated[Clock, Depends(_part(lambda services: services.clock))]
EnergyDep = Annotated[EnergyService, Depends(_part(lambda services: services.energy))]
CacheDep = Annotated[FileCache, Depends(_part(lambda services: services.cache))]
ThumbnailsDep = Annotated[Thumbnails, Depends(_part(lambda services: services.thumbnails))]
FilesDep = Annotated[FileServices, Depends(_part(lambda services: services.files))]
UploadsDep = Annotated[Uploads, Depends(_part(lambda services: services.uploads))]
NoticesDep = Annotated[LifecycleNotices, Depends(_part(lambda services: services.nas_notices))]


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


# Views over a few services, built per request (frozen dataclasses: a handful of references).
def _nas_panel(services: Services) -> NasPanel:
    return NasPanel(
        services.nas_link,
        services.nas_waker,
        services.clock,
        services.settings.zone,
        services.nas_gate,
    )


def _sync_desk(services: Services) -> SyncDesk:
    return SyncDesk(services.uploads, services.nas_link, services.sessions, services.clock)


def _upload_desk(services: Services) -> UploadDesk:
    return UploadDesk(services.uploads, services.files)


NasPanelDep = Annotated[NasPanel, Depends(_part(_nas_panel))]
"""``/api/nas``'s state, history and Wake-on-LAN."""
SyncDeskDep = Annotated[SyncDesk, Depends(_part(_sync_desk))]
"""The sync calls' decisions: NAS awake?, folder copies, conflicts."""
UploadDeskDep = Annotated[UploadDesk, Depends(_part(_upload_desk))]
"""The upload routes' one call each: permissions, sessions, what follows an upload."""
