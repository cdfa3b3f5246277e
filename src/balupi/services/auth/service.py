"""``AuthService``: logging in and checking bearer tokens, with the NAS awake or asleep.

The NAS is the authority. While the ``NasLink`` believes it online, logins, refreshes and
logouts are forwarded and its answers passed back, and what they teach is stored
(``online.NasAuthority``). While it is not online the Pi sends it nothing and decides from what
it stored (``offline.OfflineJudge``). This façade only chooses between the two, counts login
attempts (``LoginLimits``) and keeps the public methods every caller uses.

Every check ends in one of three outcomes: a user, ``NotAuthenticated`` (really invalid: a 401
with BaluHost's own text), or ``AuthUndecided`` (the Pi cannot tell). The difference matters:
clients log themselves out after a 401 they cannot refresh (docs/compat/clients.md §0.2), so
undecided is never turned into a 401; routes answer it with 503, or by dropping the connection where
any status would do harm.

Which logins may wake a sleeping NAS: a name the NAS's signed user list does not hold is no user,
and gets a 401 without a wake. A name the Pi knows wakes the NAS when the Pi cannot check the
password itself. A name it has no way to judge wakes it at most once per
``online.STRANGER_WAKE_SECONDS`` across all such names, so made-up names cannot keep the NAS awake.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from balupi.clock import Clock
from balupi.errors import AuthUndecided, NotAuthenticated, TooManyAttempts
from balupi.services.auth.answers import (
    BAD_CREDENTIALS,
    NO_TOKEN,
    USER_GONE,
    AuthenticatedUser,
    AuthPolicy,
    ForwardedAnswer,
    TokenGrant,
)
from balupi.services.auth.offline import CannotJudgeLogin, OfflineJudge
from balupi.services.auth.online import NasAuthority
from balupi.services.auth.ratelimit import LoginLimits
from balupi.services.auth.roster import UserRoster
from balupi.services.auth.token_cache import TokenCache
from balupi.services.auth.tokens import Claims, CredentialKind, TokenSigner, classify, token_digest
from balupi.services.auth.users import UserStore
from balupi.services.auth.verifier import PasswordVerifier
from balupi.services.nas.gate import Purpose, nas_purpose
from balupi.services.nas.quiet import QuietBudget
from balupi.tasks import TaskOwner

if TYPE_CHECKING:  # at run time nas.link imports nas.probe, which imports auth
    from balupi.services.nas.link import NasLink
    from balupi.services.nas.wake import NasWaker

# The answer types are the package's (``balupi.services.auth``); re-exported here for old imports.
__all__ = ["AuthPolicy", "AuthService", "AuthenticatedUser", "ForwardedAnswer", "TokenGrant"]


class AuthService:
    """Logins, token checks, refreshes and logouts for BaluPi, with the NAS up or down."""

    def __init__(
        self,
        users: UserStore,
        tokens: TokenCache,
        link: NasLink,
        clock: Clock,
        policy: AuthPolicy,
        *,
        waker: NasWaker | None = None,
        verifier: PasswordVerifier | None = None,
        roster: Callable[[], UserRoster | None] | None = None,
        budget: QuietBudget | None = None,
        tasks: TaskOwner | None = None,
    ) -> None:
        self._users = users
        self._tokens = tokens
        self._clock = clock
        signer = TokenSigner(clock, nas_secret=policy.nas_secret, signing_key=policy.signing_key)
        self._login_limits = LoginLimits(clock)
        self._offline = OfflineJudge(
            users,
            tokens,
            signer,
            clock,
            policy,
            verifier=verifier or PasswordVerifier(),
            roster=roster or (lambda: None),
            nas_last_seen=lambda: link.snapshot.last_seen_at,
            retry_after=lambda: self._nas.retry_after(),
        )
        self._nas = NasAuthority(
            link,
            self._offline,
            users,
            tokens,
            clock,
            policy,
            waker=waker,
            budget=budget,
            tasks=tasks,
        )

    @property
    def knows_nas_secret(self) -> bool:
        return self._offline.knows_nas_secret

    # -- login --------------------------------------------------------------------------------
    async def login(
        self, username: str, password: str, *, client: str
    ) -> ForwardedAnswer | TokenGrant:
        """The NAS's answer while it is online; else a check against the cached verifier.

        Every attempt is counted per user and client before anything is forwarded
        (``LoginLimits``). Raises ``NotAuthenticated`` (wrong password, or no such user as far
        as the NAS's list says), ``TooManyAttempts`` or ``AuthUndecided`` (a user the Pi cannot
        check: 503).
        """
        if not self._login_limits.attempt(username, client):
            raise TooManyAttempts()
        try:
            outcome = await self._decide_login(username, password, client)
        except NotAuthenticated:
            self._login_limits.failed(username, client, by_nas=False)
            raise
        if isinstance(outcome, TokenGrant) or outcome.status_code == 200:
            self._login_limits.succeeded(username, client)
        elif outcome.status_code == 401:
            self._login_limits.failed(username, client, by_nas=True)
        return outcome

    async def _decide_login(
        self, username: str, password: str, client: str
    ) -> ForwardedAnswer | TokenGrant:
        if self._nas.online:
            if not self._login_limits.may_ask_nas(username, client):
                # This client has had enough refusals: the NAS's budget is everyone's.
                return await self._login_held_back(username, password, None)
            response = await self._nas.login(username, password)
            if response is not None:
                if response.status_code == 429:
                    # The NAS limits logins per address, and every client behind the Pi shares
                    # the Pi's: a user the Pi can check is checked here (it limits per client).
                    return await self._login_held_back(
                        username, password, ForwardedAnswer.of(response)
                    )
                return ForwardedAnswer.of(response)
        try:
            return await self._offline.login(username, password)
        except CannotJudgeLogin as exc:
            await self._nas.wake_for_login(username, known=exc.known)
            raise AuthUndecided(
                "NAS is not reachable and BaluPi cannot check this login on its own",
                retry_after=self._nas.retry_after(),
            ) from None

    async def _login_held_back(
        self, username: str, password: str, nas_answer: ForwardedAnswer | None
    ) -> ForwardedAnswer | TokenGrant:
        """A login the NAS is not to decide now: checked here if the Pi can, else the NAS's
        429 (or the Pi's own)."""
        grant = await self._offline.login_if_checkable(username, password)
        if grant is not None:
            return grant
        if nas_answer is not None:
            return nas_answer
        raise TooManyAttempts()

    # -- bearer tokens ------------------------------------------------------------------------
    async def authenticate(self, token: str | None) -> AuthenticatedUser:
        """The user behind ``token`` for any protected route, asking the NAS only if needed."""
        return await self._authenticate(token, confirm_with_nas=False)

    async def me(self, token: str | None) -> dict[str, Any]:
        """``UserPublic`` for ``GET /api/auth/me``, from the verdicts the Pi holds.

        Clients poll this every few seconds, and each request to the NAS counts toward its
        sleep service's activity. So the NAS is asked only while it is online, and only when
        the Pi holds no verdict (a token it cannot judge, a user it never heard of) or the
        NAS's word on the user is older than ``AuthPolicy.trust`` and the ``QuietBudget`` has
        a slot: at most once per user per trust window.

        Raises only ``NotAuthenticated`` or ``AuthUndecided``: the route may answer nothing but
        200 or 401 (docs/compat/clients.md §6.2).
        """
        user = await self._authenticate(token, confirm_with_nas=True)
        cached = await self._users.get(user.id)
        if cached is None:  # deleted between the check and now
            raise NotAuthenticated(USER_GONE)
        return cached.public()

    async def _authenticate(
        self, token: str | None, *, confirm_with_nas: bool
    ) -> AuthenticatedUser:
        if not token:
            raise NotAuthenticated(NO_TOKEN)
        digest = token_digest(token)
        now = self._clock.now()
        record = await self._tokens.lookup(digest, now)
        if record is not None and record.rejected:
            raise NotAuthenticated(record.detail or BAD_CREDENTIALS)
        kind = classify(token)
        if kind is None:  # neither a JWT nor an API key: invalid whoever is asked
            raise NotAuthenticated(BAD_CREDENTIALS)
        if kind is CredentialKind.PI_TOKEN:
            return await self._offline.pi_token_user(token)

        claims: Claims | None = None
        if kind is CredentialKind.NAS_TOKEN:
            claims = self._offline.check_nas_token(token)
        if self._nas.online:
            needed = self._offline.needs_nas(kind, record, now)
            due: bool | None = False
            if confirm_with_nas and not needed:
                due = await self._offline.confirmation_due(claims, record)
                if due is True:  # a refused slot leaves it due, for a later poll
                    due = self._nas.quiet_slot()
            if needed or due is not False:
                # A re-check the Pi could do without is background work for the gate: it never
                # wakes a NAS that fell asleep since the link last looked.
                purpose = Purpose.BACKGROUND if due is True else Purpose.USER
                with nas_purpose(purpose):
                    user = await self._nas.check_token(token, digest, kind, claims)
                if user is not None:
                    return user
        return await self._offline.decide(token, kind, claims, record, now)

    # -- refresh and logout -------------------------------------------------------------------
    async def refresh(self, refresh_token: str) -> dict[str, Any]:
        """A new access token (``{access_token, token_type, user}``) for a refresh token.

        Forwarded while the NAS is online. Its 200 and 401 are the answer; anything else (a
        429, a 5xx, no answer) is decided here as if it slept, because any HTTP error makes
        BaluApp delete its tokens. Raises ``NotAuthenticated`` or ``AuthUndecided`` only.
        """
        if self._nas.online:
            body = await self._nas.refresh(refresh_token)
            if body is not None:
                return body
        return await self._offline.refresh(refresh_token)

    async def logout(self, token: str | None) -> ForwardedAnswer | dict[str, Any]:
        """Forwarded while the NAS is online; afterwards the user's older refresh tokens count
        as revoked here too. A Pi-only token is simply revoked. While the NAS is down the Pi
        revokes what it can and says so with ``AuthUndecided`` (503): the NAS still honours the
        user's refresh tokens until it hears of the logout.
        """
        if not token:
            raise NotAuthenticated(NO_TOKEN)
        if classify(token) is CredentialKind.PI_TOKEN:
            user = await self.authenticate(token)
            await self._offline.revoke_session(user.id, token)
            return {"message": "Logged out"}
        if self._nas.online:
            answer = await self._nas.logout(token)
            if answer is not None:
                return answer
        user = await self.authenticate(token)
        await self._users.revoke_refresh_tokens(user.id, self._clock.now())
        raise AuthUndecided(
            "Logged out on BaluPi only; the NAS is not reachable to revoke its refresh tokens",
            retry_after=self._nas.retry_after(),
        )
