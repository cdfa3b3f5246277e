"""``SleepProbe``: how the link asks the NAS whether it sleeps, without waking it.

``GET /api/system/sleep/status`` is on BaluHost's auto-wake whitelist: it is answered in soft
sleep without waking the NAS, and it says which state the NAS is in and since when
(docs/compat/nas-sleep.md). ``GET /api/health``, which the link used to poll, is not on it: a
soft-sleeping NAS woke on every probe. The status route wants a user's access token, which the
Pi can mint only with the NAS's signing key (``NAS_JWT_SECRET``); without the key there is no
probe, and the link keeps to ``/api/health`` only while it believes the NAS awake.

Whose token (``probe_identity``): BaluHost checks a token's signature, ``type`` and ``exp``,
then loads the user by ``sub``, refusing one missing or inactive (docs/compat/nas-api.md §2.3);
``username`` and ``role`` are not checked, and the status route is open to every user, so the
token need not be an admin's. The lifecycle notice's user list carries no ids, so it cannot
name a ``sub``. The Pi's own users table can: it holds the NAS's ids, and ``last_seen_at``
says when the NAS last vouched for each. The user the NAS vouched for most recently is the
likeliest still to exist and be active, so the probe speaks as them. Before anyone has used
the Pi it speaks as id 1, the admin BaluHost's setup wizard creates first. An id the NAS refuses
(401) is not used again until the Pi restarts; the next best is tried at the next probe.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from balupi.clock import Clock
from balupi.config import Settings
from balupi.db.models import NasState, User
from balupi.logs import get_logger
from balupi.services.auth.tokens import TokenSigner
from balupi.services.nas.client import HEALTH_TIMEOUT, NasClient
from balupi.services.nas.gate import Purpose, nas_purpose

log = get_logger(__name__)

SLEEP_STATUS_PATH = "/api/system/sleep/status"
SETUP_ADMIN = ("1", "admin", "admin")  # (id, username, role) of BaluHost's first user

# BaluHost's sleep states (app/schemas/sleep.py) as the link's states.
SLEEP_STATES: dict[str, NasState] = {
    "awake": NasState.ONLINE,
    "waking": NasState.WAKING,
    "entering_soft_sleep": NasState.SLEEPING,
    "soft_sleep": NasState.SLEEPING,
    "entering_suspend": NasState.SLEEPING,
    "true_suspend": NasState.SLEEPING,
}
# States in which the NAS's HTTP is up: a request that is not whitelisted wakes it at once.
HTTP_UP_ASLEEP = frozenset({"entering_soft_sleep", "soft_sleep"})

Mint = Callable[[str, str, str], str]  # (user id, username, role) → an access token


@dataclass(frozen=True)
class SleepReading:
    """What one probe learned. ``current_state`` is None when the NAS answered but would not
    say (its sleep service is off, or it refused the token): it is up, its sleep unknown."""

    current_state: str | None
    state_since: str | None = None
    refused: str | None = None  # why the NAS did not say, for the evidence

    @property
    def link_state(self) -> NasState:
        if self.current_state is None:
            return NasState.ONLINE
        return SLEEP_STATES.get(self.current_state, NasState.ONLINE)

    @property
    def evidence(self) -> str:
        if self.current_state is None:
            return f"sleep status unavailable ({self.refused}); the NAS answers"
        since = f" since {self.state_since}" if self.state_since else ""
        return f"sleep status: {self.current_state}{since}"


class SleepProbe:
    """Reads the NAS's sleep state through the whitelisted status route."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession], mint: Mint) -> None:
        self._sessions = sessions
        self._mint = mint
        self._refused_ids: set[str] = set()

    async def probe_identity(self) -> tuple[str, str, str]:
        """(id, username, role) to speak as: see the module's docstring for why."""
        query = (
            select(User.id, User.username, User.role)
            .where(User.is_active.is_(True), User.last_seen_at.is_not(None))
            .order_by(User.last_seen_at.desc())
        )
        async with self._sessions() as session:
            for user_id, username, role in (await session.execute(query)).all():
                if user_id not in self._refused_ids:
                    return user_id, username, role
        return SETUP_ADMIN

    async def read(self, client: NasClient) -> SleepReading:
        """One probe; ``NasUnreachable`` when the NAS does not answer at all."""
        user_id, username, role = await self.probe_identity()
        headers = {"Authorization": f"Bearer {self._mint(user_id, username, role)}"}
        with nas_purpose(Purpose.PROBE):
            response = await client.request(
                "GET", SLEEP_STATUS_PATH, headers=headers, timeout=HEALTH_TIMEOUT
            )
        if response.status_code == 401:
            self._refused_ids.add(user_id)
            log.warning("nas refused the sleep probe's token", user_id=user_id)
        if response.status_code != 200:
            return SleepReading(None, refused=f"answered {response.status_code}")
        return _parse(response)


def _parse(response: httpx.Response) -> SleepReading:
    try:
        body = response.json()
    except ValueError:
        return SleepReading(None, refused="no JSON")
    state = body.get("current_state") if isinstance(body, dict) else None
    if not isinstance(state, str):
        return SleepReading(None, refused="no current_state")
    since = body.get("state_since")
    return SleepReading(state, since if isinstance(since, str) else None)


def sleep_probe(
    settings: Settings, clock: Clock, sessions: async_sessionmaker[AsyncSession]
) -> SleepProbe | None:
    """The link's probe when the NAS's signing key is configured; None without it."""
    if not settings.nas_jwt_secret:  # unset or empty: the signer would know no NAS key
        return None
    signer = TokenSigner.from_settings(settings, clock)
    return SleepProbe(
        sessions,
        lambda user_id, username, role: signer.mint_nas_access(
            user_id=user_id, username=username, role=role
        ),
    )
