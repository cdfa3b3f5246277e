"""Asking the NAS: logins, token checks, refreshes and logouts forwarded to BaluHost.

The NAS is the authority while the ``NasLink`` believes it online: its answers are passed back,
and what they teach (a user's profile, a password that worked or failed, a token it rejected, a
refresh token it revoked) is stored for the times it sleeps. A NAS not believed online is asked
nothing, since a request to a sleeping NAS wakes its disks; waking it on purpose is done here
too, for a login only it can check.

Concurrent requests with the same token share one NAS check (``inflight.SharedChecks``): a
client polling with several connections costs the NAS one request.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import httpx

from balupi.clock import Clock
from balupi.db.models import NasState
from balupi.errors import NasUnreachable, NotAuthenticated
from balupi.logs import get_logger
from balupi.services.auth.answers import (
    BAD_CREDENTIALS,
    BAD_REFRESH,
    USER_GONE,
    USER_INACTIVE,
    AuthenticatedUser,
    AuthPolicy,
    ForwardedAnswer,
    detail_of,
    json_object,
)
from balupi.services.auth.inflight import SharedChecks
from balupi.services.auth.offline import OfflineJudge
from balupi.services.auth.token_cache import TokenCache
from balupi.services.auth.tokens import Claims, CredentialKind, classify, peek, token_digest
from balupi.services.auth.users import UserStore
from balupi.services.nas.quiet import QuietBudget
from balupi.tasks import TaskOwner

if TYPE_CHECKING:  # at run time nas.link imports nas.probe, which imports auth
    from balupi.services.nas.link import NasLink
    from balupi.services.nas.wake import NasWaker

log = get_logger(__name__)

NAS_AUTH_TIMEOUT = httpx.Timeout(10.0, connect=3.0)
STRANGER_WAKE_SECONDS = 15 * 60.0  # between wakes for names the Pi cannot judge, all together


class NasAuthority:
    """The NAS's word on logins and tokens, asked only while it is believed online."""

    def __init__(
        self,
        link: NasLink,
        offline: OfflineJudge,
        users: UserStore,
        tokens: TokenCache,
        clock: Clock,
        policy: AuthPolicy,
        *,
        waker: NasWaker | None = None,
        budget: QuietBudget | None = None,
        tasks: TaskOwner | None = None,
    ) -> None:
        self._link = link
        self._offline = offline  # where what the NAS teaches about passwords is kept
        self._users = users
        self._tokens = tokens
        self._clock = clock
        self._policy = policy
        self._waker = waker
        self._budget = budget
        self._stranger_woke_at: float | None = None  # monotonic
        self._checks: SharedChecks[AuthenticatedUser | None] = SharedChecks("auth-nas-check", tasks)

    @property
    def online(self) -> bool:
        """Only a NAS believed online is asked: a request to a sleeping one wakes its disks."""
        return self._link.configured and self._link.state is NasState.ONLINE

    def quiet_slot(self) -> bool:
        """Whether an optional re-check may go to the NAS now (``QuietBudget``)."""
        return self._budget is None or self._budget.take()

    # -- logins -------------------------------------------------------------------------------
    async def login(self, username: str, password: str) -> httpx.Response | None:
        """The NAS's answer to a login (learned from, unless it is a 429); None if unreached."""
        response = await self._ask(
            "POST", "/api/auth/login", json={"username": username, "password": password}
        )
        if response is not None and response.status_code != 429:
            await self._learn_from_login(username, password, response)
        return response

    async def _learn_from_login(
        self, username: str, password: str, response: httpx.Response
    ) -> None:
        if response.status_code == 401:
            await self._offline.forget_refused_password(username, password)
            return
        body = json_object(response) if response.status_code == 200 else None
        if body is None:
            return
        if body.get("requires_2fa"):
            # The password alone does not log this user in; offline it would skip the 2FA.
            await self._users.forget_verifier(username)
            return
        profile, access_token = body.get("user"), body.get("access_token")
        if not isinstance(profile, dict) or not isinstance(access_token, str):
            return
        try:
            user = await self._users.remember(profile, seen_at=self._clock.now())
        except ValueError:
            log.warning("nas login answer without a usable user", username=username)
            return
        await self._offline.remember_password(user.id, password)
        await self._remember_accepted(access_token, user.id)

    async def wake_for_login(self, username: str, *, known: bool) -> None:
        """Wake the NAS for a login only it can check; for a name the Pi cannot judge, at most
        once per ``STRANGER_WAKE_SECONDS`` across all such names, so made-up names cannot keep
        the NAS awake."""
        if not known:
            now = self._clock.monotonic()
            last = self._stranger_woke_at
            if last is not None and now - last < STRANGER_WAKE_SECONDS:
                return
            self._stranger_woke_at = now
        await self._wake(f"login of a user BaluPi cannot check ({username!r})")

    # -- bearer tokens ------------------------------------------------------------------------
    async def check_token(
        self, token: str, digest: str, kind: CredentialKind, claims: Claims | None
    ) -> AuthenticatedUser | None:
        """The NAS's ``/api/auth/me`` verdict, shared by concurrent requests with this token:
        a user, ``NotAuthenticated``, or None (no verdict)."""
        return await self._checks.run(
            digest, lambda: self._check_with_nas(token, digest, kind, claims)
        )

    async def _check_with_nas(
        self, token: str, digest: str, kind: CredentialKind, claims: Claims | None
    ) -> AuthenticatedUser | None:
        response = await self._ask(
            "GET", "/api/auth/me", headers={"Authorization": f"Bearer {token}"}
        )
        if response is None:
            return None
        now = self._clock.now()
        if response.status_code == 401:
            detail = detail_of(response) or BAD_CREDENTIALS
            await self._learn_rejection(digest, detail, kind, claims)
            raise NotAuthenticated(detail)
        profile = json_object(response) if response.status_code == 200 else None
        if profile is None:
            log.warning("nas gave no verdict on a token", status=response.status_code)
            return None
        try:
            user = await self._users.remember(profile, seen_at=now)
        except ValueError:
            log.warning("nas /auth/me answer without a usable user")
            return None
        if claims is not None and claims.expires_at is not None:
            expires_at = claims.expires_at
        else:
            expires_at = now + self._policy.api_key_offline
        await self._tokens.accept(digest, user_id=user.id, checked_at=now, expires_at=expires_at)
        return AuthenticatedUser(user.id, user.username, user.role, token, kind)

    async def _learn_rejection(
        self, digest: str, detail: str, kind: CredentialKind, claims: Claims | None
    ) -> None:
        """The NAS said 401: never accept this credential again; note an inactive user."""
        now = self._clock.now()
        user_id = claims.sub if claims is not None else None
        if kind is CredentialKind.API_KEY:  # whom the key stood for, before the record goes
            record = await self._tokens.lookup(digest, now)
            user_id = record.user_id if record is not None else None
        expires_at = claims.expires_at if claims is not None else None
        if expires_at is None:
            expires_at = now + self._policy.rejection_memory
        await self._tokens.reject(digest, detail=detail, checked_at=now, expires_at=expires_at)
        if user_id is not None and detail in (USER_INACTIVE, USER_GONE):
            await self._users.set_active(user_id, False)
        log.info("nas rejected a token", kind=kind.value, detail=detail)

    async def _remember_accepted(self, access_token: str, user_id: str) -> None:
        """A token the NAS just issued is one it accepts: valid offline until its ``exp``."""
        claims = peek(access_token)
        if claims is not None and claims.expires_at is not None:
            await self._tokens.accept(
                token_digest(access_token),
                user_id=user_id,
                checked_at=self._clock.now(),
                expires_at=claims.expires_at,
            )

    # -- refresh and logout -------------------------------------------------------------------
    async def refresh(self, refresh_token: str) -> dict[str, Any] | None:
        """The NAS's new access token; ``NotAuthenticated`` on its 401; None for any other
        answer or none (decided offline: any HTTP error makes BaluApp delete its tokens)."""
        response = await self._ask(
            "POST", "/api/auth/refresh", json={"refresh_token": refresh_token}
        )
        if response is None:
            return None
        body = json_object(response) if response.status_code == 200 else None
        if body is not None and isinstance(body.get("access_token"), str):
            await self._learn_from_refresh(body)
            return body
        if response.status_code == 401:
            detail = detail_of(response) or BAD_REFRESH
            await self._learn_refresh_rejection(refresh_token, detail)
            raise NotAuthenticated(detail)
        log.warning("nas refresh answer unusable", status=response.status_code)
        return None

    async def _learn_from_refresh(self, body: dict[str, Any]) -> None:
        profile = body.get("user")
        if not isinstance(profile, dict):
            return
        try:
            user = await self._users.remember(profile, seen_at=self._clock.now())
        except ValueError:
            return
        await self._remember_accepted(body["access_token"], user.id)

    async def _learn_refresh_rejection(self, refresh_token: str, detail: str) -> None:
        claims = peek(refresh_token)
        if claims is None:
            return
        if detail == USER_INACTIVE and claims.sub is not None:
            await self._users.set_active(claims.sub, False)
        elif claims.jti is not None:
            await self._tokens.revoke_refresh(
                claims.jti,
                user_id=claims.sub,
                revoked_at=self._clock.now(),
                expires_at=claims.expires_at,
            )

    async def logout(self, token: str) -> ForwardedAnswer | None:
        """The NAS's answer to a logout (its 200 revokes the user's older refresh tokens here
        too); None if it could not be reached."""
        response = await self._ask(
            "POST", "/api/auth/logout", headers={"Authorization": f"Bearer {token}"}
        )
        if response is None:
            return None
        if response.status_code == 200:
            user_id = await self._user_id_of(token)
            if user_id is not None:
                await self._users.revoke_refresh_tokens(user_id, self._clock.now())
        elif response.status_code == 401:
            kind = classify(token) or CredentialKind.NAS_TOKEN
            detail = detail_of(response) or BAD_CREDENTIALS
            await self._learn_rejection(token_digest(token), detail, kind, peek(token))
        return ForwardedAnswer.of(response)

    async def _user_id_of(self, token: str) -> str | None:
        """The user a token the NAS just accepted belongs to."""
        claims = peek(token)
        if claims is not None:
            return claims.sub
        record = await self._tokens.lookup(token_digest(token), self._clock.now())
        return record.user_id if record is not None else None

    # -- the link -----------------------------------------------------------------------------
    async def _ask(
        self,
        method: str,
        path: str,
        *,
        headers: Mapping[str, str] | None = None,
        json: Any = None,
    ) -> httpx.Response | None:
        """The NAS's answer, or None if it could not be reached (the link is told)."""
        try:
            return await self._link.client.request(
                method, path, headers=headers, json=json, timeout=NAS_AUTH_TIMEOUT
            )
        except NasUnreachable as exc:
            await self._link.report_unreachable(f"auth {path}: {exc}")
            return None

    def retry_after(self) -> int:
        """Seconds a client should wait for the NAS (its wake time, or a minute)."""
        return self._waker.retry_after() if self._waker is not None else 60

    async def _wake(self, reason: str) -> None:
        """Wake the NAS for a request only it can answer (if Wake-on-LAN is configured)."""
        if self._waker is None or not self._waker.configured:
            return
        try:
            await self._waker.wake(reason)
        except (NasUnreachable, OSError) as exc:  # the answer stands; the wake is a courtesy
            log.warning("could not wake the nas", reason=reason, error=str(exc))
