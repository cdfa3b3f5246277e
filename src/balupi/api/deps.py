"""FastAPI dependencies: how routes reach the services of the running app.

All are ``async def``: FastAPI runs a plain ``def`` dependency in its thread pool, a thread hop
per dependency per request that these one-line lookups do not need.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from balupi.errors import PermissionDenied
from balupi.services.auth import AuthenticatedUser, AuthService
from balupi.services.container import Services
from balupi.services.system import SystemMonitor
from balupi.services.tapo import TapoService


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
