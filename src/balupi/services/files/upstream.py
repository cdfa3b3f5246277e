"""``NasGate``: the files service's only way to the NAS, as the user who asked.

It sends a request only while the ``NasLink`` says the NAS is online (a request wakes a
soft-sleeping NAS and keeps its disks spinning), with the user's own bearer credential, so the
NAS applies its rules for that user. Whether a request that meets a sleeping NAS may wake it is
the pass-through's ``WakePolicy`` (an interactive request may, a background poll or an automatic
sync may not), so files and every other route wake the NAS by the same rules.
"""

from __future__ import annotations

from typing import Any

import httpx

from balupi.errors import NasAsleep, NasUnreachable
from balupi.logs import get_logger
from balupi.services.auth import AuthenticatedUser
from balupi.services.nas.gate import SYNC_TRIGGER
from balupi.services.nas.link import NasLink
from balupi.services.nas.passthrough import ForwardRequest, WakePolicy
from balupi.services.nas.wake import NasWaker

log = get_logger(__name__)


class NasGate:
    """Asks the NAS as a user while it is online; wakes it when the policy allows."""

    def __init__(self, link: NasLink, waker: NasWaker, policy: WakePolicy) -> None:
        self._link = link
        self._waker = waker
        self._policy = policy

    @property
    def online(self) -> bool:
        return self._link.snapshot.is_online

    def asleep(self, detail: str) -> NasAsleep:
        """The 503 for a request the Pi cannot answer without the NAS."""
        return NasAsleep(
            f"{detail} (the NAS is {self._link.state.value})",
            retry_after=self._waker.retry_after(),
        )

    async def reach(
        self, user: AuthenticatedUser, method: str, endpoint: str, *, trigger: str | None
    ) -> bool:
        """Whether the NAS is online, after waking it and waiting a little if the policy allows
        a wake for ``method endpoint`` (the client's request) with ``trigger``.

        Never raises for a NAS that stays down: the caller decides what the client gets.
        """
        if self.online:
            return True
        if not self._link.configured:
            return False
        headers = [("authorization", f"Bearer {user.token}")]
        if trigger:
            headers.append((SYNC_TRIGGER, trigger))
        reason = f"{method} {endpoint}"
        refusal = self._policy.refusal(ForwardRequest(method, endpoint, headers))
        if refusal is not None:
            log.info("nas not woken", reason=reason, refusal=refusal)
            return False
        try:
            await self._waker.ensure_available(reason=reason, timeout=self._policy.wait_seconds)
        except (NasAsleep, NasUnreachable) as exc:
            log.info("nas not available after a wake", reason=reason, error=str(exc))
            return False
        return True

    async def call(
        self,
        method: str,
        path: str,
        user: AuthenticatedUser,
        *,
        trigger: str | None = None,
        params: dict[str, str] | None = None,
        json: Any = None,
    ) -> httpx.Response:
        """One buffered request to the NAS as ``user``; its answer whatever the status.

        ``NasUnreachable`` (503) when the NAS does not answer; the link is told so it checks.
        """
        headers = {"Authorization": f"Bearer {user.token}"}
        if trigger:
            headers[SYNC_TRIGGER] = trigger
        try:
            return await self._link.client.request(
                method, path, headers=headers, params=params, json=json
            )
        except NasUnreachable as exc:
            if not isinstance(exc.__cause__, httpx.PoolTimeout):  # the Pi's congestion, not news
                await self._link.report_unreachable(str(exc))
            raise NasUnreachable(str(exc), retry_after=self._waker.retry_after()) from exc
