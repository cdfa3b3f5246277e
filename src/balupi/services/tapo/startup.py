"""Building the Tapo service from the settings, for the app's lifespan."""

from __future__ import annotations

from contextlib import AsyncExitStack
from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from balupi.clock import Clock
from balupi.config import Settings
from balupi.schedule import Scheduler
from balupi.services.nas.link import NasLink
from balupi.services.tapo.alerts import AlertRules
from balupi.services.tapo.client import PlugConnector
from balupi.services.tapo.devices import PlugStore
from balupi.services.tapo.poller import PollTiming
from balupi.services.tapo.service import TapoService


def alert_rules(settings: Settings) -> AlertRules:
    minutes = timedelta(minutes=settings.energy_alert_offline_minutes)
    return AlertRules(
        offline_after=minutes,
        voltage_min_mv=round(settings.energy_voltage_min_v * 1000),
        voltage_max_mv=round(settings.energy_voltage_max_v * 1000),
        nas_mismatch_after=minutes,
    )


async def start_tapo(
    settings: Settings,
    sessions: async_sessionmaker[AsyncSession],
    nas_link: NasLink,
    clock: Clock,
    stack: AsyncExitStack,
) -> TapoService:
    """The Tapo service, polling from now on and closed (every plug disconnected) with ``stack``.

    It polls whether or not ``TAPO_USERNAME`` is set: without an account python-kasa can still
    reach factory-fresh plugs, and an unconfigured install simply has no plugs to poll.
    """
    timing = PollTiming.for_interval(settings.energy_poll_seconds)
    password = settings.tapo_password.get_secret_value() if settings.tapo_password else None
    service = TapoService(
        PlugStore(sessions),
        PlugConnector(settings.tapo_username, password, request_timeout_s=timing.timeout_s),
        nas_link,
        clock,
        timing=timing,
        rules=alert_rules(settings),
        discovery_target=settings.tapo_discovery_target,
    )
    return await stack.enter_async_context(service)


def schedule_tapo_jobs(scheduler: Scheduler, tapo: TapoService) -> None:
    """The Tapo service's calendar work (its polling cadence is its own)."""
    scheduler.daily(3, 40, tapo.prune_alerts, name="prune_energy_alerts")
