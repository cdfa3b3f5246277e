"""FastAPI dependencies: how routes reach the services of the running app."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from balupi.services.container import Services
from balupi.services.system import SystemMonitor


def get_services(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


ServicesDep = Annotated[Services, Depends(get_services)]


def get_system_monitor(services: ServicesDep) -> SystemMonitor:
    return services.system


SystemMonitorDep = Annotated[SystemMonitor, Depends(get_system_monitor)]
