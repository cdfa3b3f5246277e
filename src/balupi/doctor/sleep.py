"""Whether the NAS sleeps, learnt without waking it, before the doctor asks ``/api/health``.

``GET /api/health`` is not on BaluHost's auto-wake whitelist (docs/compat/nas-sleep.md): it wakes
a soft-sleeping NAS, the one thing BaluPi exists to avoid. So the doctor first asks whoever can
answer without waking it:

1. with ``NAS_JWT_SECRET``, the NAS itself: ``GET /api/system/sleep/status`` (whitelisted),
   through the NAS link's own ``SleepProbe`` and the token it mints;
2. else, or when the NAS would not say (it refused the token), the running BaluPi: its
   ``/api/nas/status`` knows from the link's probes and the plug's power readings. The doctor
   asks it with a Pi-only token for the user the probe would speak as (the one the NAS vouched
   for last), which it can mint with the ``SECRET_KEY`` it reads from the same configuration.

The doctor does not read the NAS's plug itself: a soft-sleeping NAS's draw falls in the same
"idle" power class as an awake one's (services/nas/power.py), so the plug cannot tell the one
state in which ``/api/health`` wakes the NAS; the running BaluPi weighs its readings with the
probes. A NAS known to sleep is left alone; when nobody could tell, the caller may still ask
``/api/health``, and says that the request may have woken the NAS.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

import httpx
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.pool import StaticPool

from balupi.clock import SystemClock
from balupi.config import Settings
from balupi.db.engine import create_engine, create_sessionmaker
from balupi.db.models import Base, NasState
from balupi.doctor.helpers import database_file, json_object
from balupi.services.auth.tokens import TokenSigner
from balupi.services.nas.client import NasClient
from balupi.services.nas.probe import SleepProbe, sleep_probe

WILDCARD_HOSTS = frozenset({"", "0.0.0.0", "::", "[::]"})
# The link's states in which asking /api/health wakes nothing: the NAS is up, or coming up.
AWAKE_STATES = frozenset({NasState.ONLINE, NasState.WAKING})


@dataclass(frozen=True)
class SleepView:
    """What the doctor learnt: ``asleep`` is True (leave the NAS alone), False (awake: asking
    ``/api/health`` wakes nothing) or None (nobody could tell)."""

    asleep: bool | None
    source: str = ""
    # The NAS answered its sleep status to a token signed with NAS_JWT_SECRET: the key matches.
    nas_took_token: bool = False


async def sleep_view(settings: Settings, client: NasClient, timeout: float) -> SleepView:
    """The NAS's sleep as the NAS (with its key) or the running BaluPi tells it.

    Raises ``NasUnreachable`` when the NAS does not answer its sleep status at all.
    """
    async with _pi_sessions(settings) as sessions:
        probe = sleep_probe(settings, SystemClock(), sessions)
        if probe is not None:
            try:
                reading = await probe.read(client)
            except SQLAlchemyError:
                reading = None  # a database of another layout: the probe cannot pick a user
            if reading is not None and reading.current_state is not None:
                asleep = reading.link_state is NasState.SLEEPING
                return SleepView(asleep, reading.evidence, nas_took_token=True)
        return await _ask_running_pi(settings, sessions, timeout)


async def _ask_running_pi(
    settings: Settings, sessions: async_sessionmaker[AsyncSession], timeout: float
) -> SleepView:
    signer = TokenSigner.from_settings(settings, SystemClock())

    def mint(user_id: str, username: str, role: str) -> str:
        return signer.mint_pi_access(user_id=user_id, username=username, role=role)

    try:  # the probe's choice of user, without its request: BaluPi is asked, not the NAS
        token = mint(*await SleepProbe(sessions, mint).probe_identity())
    except SQLAlchemyError:
        return SleepView(None)
    url = f"{_pi_url(settings)}/api/nas/status"
    try:
        async with httpx.AsyncClient(timeout=timeout) as client:
            response = await client.get(url, headers={"Authorization": f"Bearer {token}"})
    except httpx.HTTPError:
        return SleepView(None)
    body = (json_object(response) if response.status_code == 200 else None) or {}
    state, evidence = body.get("state"), body.get("evidence")
    if not isinstance(state, str):
        return SleepView(None)
    source = f"the running BaluPi says {state}" + (f": {evidence}" if evidence else "")
    if state == NasState.SLEEPING:
        return SleepView(True, source)
    return SleepView(False if state in AWAKE_STATES else None, source)


def _pi_url(settings: Settings) -> str:
    """Where this configuration's BaluPi listens, on loopback for a wildcard HOST."""
    host = "127.0.0.1" if settings.host in WILDCARD_HOSTS else settings.host
    if ":" in host and not host.startswith("["):
        host = f"[{host}]"
    return f"http://{host}:{settings.port}"


@asynccontextmanager
async def _pi_sessions(settings: Settings) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    """Sessions on the Pi's database, for the probe's choice of user. Before the first start
    there is none, and opening it would create it (the doctor changes nothing): an empty one in
    memory then, in which the probe finds no user and speaks as BaluHost's first."""
    database = database_file(settings)
    if database is None or database.exists():
        engine = create_engine(settings.resolved_database_url)
    else:
        engine = create_async_engine("sqlite+aiosqlite://", poolclass=StaticPool)
        async with engine.begin() as connection:
            await connection.run_sync(Base.metadata.create_all)
    try:
        yield create_sessionmaker(engine)
    finally:
        await engine.dispose()
