"""Deciding without the NAS: cached verifiers, the signed user roster, trust windows.

Everything here answers from what the Pi already holds, and asks the NAS nothing:

* a login against the password verifier of a user the NAS confirmed (``verifier.py``), kept as
  SSSD keeps cached credentials: a failed online check never erases it, unless the NAS refused
  the very password it matches;
* an access token by signature, with the NAS's key if configured (``tokens.py``), else by the
  NAS's earlier verdict on it (``token_cache.py``), and a Pi-only token by its own key;
* a refresh token by signature and the revocations the Pi saw (only with the NAS's key);
* whether a token or user *needs* the NAS, or is merely due a re-check (``AuthPolicy.trust``).

Which names may wake a sleeping NAS is decided here too: a name the NAS's signed user list (its
going-offline notice, while still its latest word: ``roster.py``) does not hold is no user. The
waking itself is ``online.py``'s; ``CannotJudgeLogin`` tells the façade to do it.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from balupi.clock import Clock
from balupi.errors import AuthError, AuthUndecided, NotAuthenticated
from balupi.logs import get_logger
from balupi.services.auth.answers import (
    BAD_CREDENTIALS,
    BAD_LOGIN,
    BAD_REFRESH,
    REFRESH_REVOKED,
    USER_GONE,
    USER_INACTIVE,
    AuthenticatedUser,
    AuthPolicy,
    TokenGrant,
)
from balupi.services.auth.roster import UserRoster
from balupi.services.auth.token_cache import TokenCache, TokenRecord
from balupi.services.auth.tokens import (
    Claims,
    CredentialKind,
    InvalidToken,
    TokenSigner,
    peek,
    token_digest,
)
from balupi.services.auth.users import CachedUser, UserStore
from balupi.services.auth.verifier import PasswordVerifier

log = get_logger(__name__)


class CannotJudgeLogin(AuthError):
    """The Pi holds nothing to check this login with; only the NAS can (``known``: the name is
    one the Pi has reason to believe exists, so the NAS may be woken for it).

    An internal signal to the auth façade, which answers it as ``AuthUndecided``; hence no
    status (like ``InvalidToken``): one that escaped would be a plain 500. ``known`` defaults to
    the cautious answer (a stranger: wakes rate-limited), so it is built like the tree's others."""

    code = "cannot_judge_login"

    def __init__(self, *, known: bool = False) -> None:
        super().__init__("BaluPi cannot check this login on its own")
        self.known = known


class OfflineJudge:
    """The Pi's own answers, from verifiers, verdicts, signatures and the NAS's user list."""

    def __init__(
        self,
        users: UserStore,
        tokens: TokenCache,
        signer: TokenSigner,
        clock: Clock,
        policy: AuthPolicy,
        *,
        verifier: PasswordVerifier,
        roster: Callable[[], UserRoster | None],
        nas_last_seen: Callable[[], datetime | None],
        retry_after: Callable[[], int],
    ) -> None:
        self._users = users
        self._tokens = tokens
        self._signer = signer
        self._clock = clock
        self._policy = policy
        self._verifier = verifier
        self._roster = roster
        self._nas_last_seen = nas_last_seen
        self._retry_after = retry_after

    @property
    def knows_nas_secret(self) -> bool:
        return self._signer.knows_nas_secret

    # -- logins and verifiers -----------------------------------------------------------------
    async def login(self, username: str, password: str) -> TokenGrant:
        """A token if the cached verifier takes the password; ``NotAuthenticated`` if it does
        not or the NAS's list says no such user; ``CannotJudgeLogin`` if the Pi cannot tell."""
        user = await self._users.by_username(username)
        roster = self._current_roster()
        if roster is not None and username not in roster.usernames:
            # The NAS's own signed word: no such user (any more). Its cached login goes too.
            if user is not None and user.password_verifier is not None:
                await self._users.forget_verifier(username)
            raise NotAuthenticated(BAD_LOGIN)
        if user is None or not user.verifier_usable(self._clock.now()):
            raise CannotJudgeLogin(known=user is not None or roster is not None)
        return await self._check_verifier(user, password)

    async def login_if_checkable(self, username: str, password: str) -> TokenGrant | None:
        """A login the NAS is not to decide now (rate limits): checked here if the Pi can;
        None if it cannot, so the caller answers with a 429."""
        user = await self._users.by_username(username)
        if user is not None and user.verifier_usable(self._clock.now()):
            return await self._check_verifier(user, password)
        return None

    async def _check_verifier(self, user: CachedUser, password: str) -> TokenGrant:
        """The Pi's own answer to a login: a token if the password matches the verifier."""
        assert user.password_verifier is not None  # callers check verifier_usable
        if not await self._verifier.check(password, user.password_verifier):
            raise NotAuthenticated(BAD_LOGIN)
        if not user.is_active:
            raise NotAuthenticated(USER_INACTIVE)
        token = self._signer.mint_access(user_id=user.id, username=user.username, role=user.role)
        log.info("offline login", user_id=user.id, nas_format=self.knows_nas_secret)
        return TokenGrant(token, user.public())

    async def remember_password(self, user_id: str, password: str) -> None:
        """A password the NAS just accepted: a verifier for offline logins, for a while."""
        if self._policy.offline_login > timedelta(0):
            now = self._clock.now()
            verifier = await self._verifier.make(password)
            await self._users.set_verifier(user_id, verifier, now + self._policy.offline_login)

    async def forget_refused_password(self, username: str, password: str) -> None:
        """SSSD's rule: a failed online check keeps the cached credential, unless the NAS
        refused the very password the verifier matches (changed on the NAS, or the user gone).
        A mistyped password must not take away a user's offline login."""
        user = await self._users.by_username(username)
        if user is None or user.password_verifier is None:
            return
        if await self._verifier.check(password, user.password_verifier):
            await self._users.forget_verifier(username)
            log.info("nas refused the cached password; verifier dropped", user_id=user.id)

    def _current_roster(self) -> UserRoster | None:
        """The NAS's signed user list, if the NAS has not been seen online since it was sent."""
        roster = self._roster()
        if roster is None or not roster.current(self._nas_last_seen()):
            return None
        return roster

    # -- bearer tokens ------------------------------------------------------------------------
    def check_nas_token(self, token: str) -> Claims:
        """What can be decided about a NAS-format token without the NAS: the claims, or 401."""
        if self.knows_nas_secret:
            try:
                return self._signer.verify_nas(token, expected="access")
            except InvalidToken as exc:
                raise NotAuthenticated(BAD_CREDENTIALS) from exc
        claims = peek(token)
        # Without the key the signature is unknown, but a token that is not an access token or
        # has expired is invalid whoever signed it.
        if claims is None or claims.type != "access" or claims.expired(self._clock.now()):
            raise NotAuthenticated(BAD_CREDENTIALS)
        return claims

    def needs_nas(self, kind: CredentialKind, record: TokenRecord | None, now: datetime) -> bool:
        """Whether only the NAS can judge this credential now (while it is online)."""
        if kind is CredentialKind.API_KEY:
            return record is None or now - record.checked_at >= self._policy.api_key_recheck
        return not self.knows_nas_secret and record is None

    async def confirmation_due(
        self, claims: Claims | None, record: TokenRecord | None
    ) -> bool | None:
        """Whether ``/api/auth/me`` should ask the NAS about this user now: None (it must)
        when the Pi never heard the NAS vouch for them; True once their trust window has
        passed (the caller asks the quiet budget for a slot); else False."""
        user_id = claims.sub if claims is not None else None
        if user_id is None and record is not None:
            user_id = record.user_id
        user = await self._users.get(user_id) if user_id is not None else None
        if user is None or user.confirmed_at is None:
            return None
        return self._clock.now() - user.confirmed_at >= self._policy.trust

    async def decide(
        self,
        token: str,
        kind: CredentialKind,
        claims: Claims | None,
        record: TokenRecord | None,
        now: datetime,
    ) -> AuthenticatedUser:
        """The Pi's verdict on a NAS token or API key the NAS did not judge."""
        if claims is not None and self.knows_nas_secret:
            return await self._user_from_claims(token, claims)
        if record is not None and self._usable_offline(kind, record, now):
            user = await self._users.get(record.user_id) if record.user_id else None
            if user is None:
                raise NotAuthenticated(USER_GONE)
            return _active(user, token, kind)
        raise AuthUndecided(
            "BaluPi cannot check this token while the NAS is not reachable",
            retry_after=self._retry_after(),
        )

    def _usable_offline(self, kind: CredentialKind, record: TokenRecord, now: datetime) -> bool:
        if not record.accepted:
            return False
        if kind is CredentialKind.API_KEY:
            return now - record.checked_at < self._policy.api_key_offline
        return True  # a JWT's record lapses at its exp (TokenCache.lookup)

    async def _user_from_claims(self, token: str, claims: Claims) -> AuthenticatedUser:
        """A NAS-signed access token: its user, learned from the claims if never seen."""
        assert claims.sub is not None  # verify_nas requires it
        user = await self._users.get(claims.sub)
        if user is None:
            if claims.username is None or claims.role is None:
                raise AuthUndecided("a token for a user BaluPi has not seen", self._retry_after())
            user = await self._users.learn(claims.sub, claims.username, claims.role)
        return _active(user, token, CredentialKind.NAS_TOKEN)

    async def pi_token_user(self, token: str) -> AuthenticatedUser:
        """The user of a token only this Pi issues: its own signature decides."""
        try:
            claims = self._signer.verify_pi(token)
        except InvalidToken as exc:
            raise NotAuthenticated(BAD_CREDENTIALS) from exc
        assert claims.sub is not None
        user = await self._users.get(claims.sub)
        if user is None:
            raise NotAuthenticated(USER_GONE)
        return _active(user, token, CredentialKind.PI_TOKEN)

    # -- refresh and logout -------------------------------------------------------------------
    async def refresh(self, refresh_token: str) -> dict[str, Any]:
        """A new NAS-format access token for a refresh token the Pi can verify itself."""
        unverified = peek(refresh_token)
        # Invalid whoever signed it: no JWT, not a refresh token, or expired.
        if (
            unverified is None
            or unverified.type != "refresh"
            or unverified.expired(self._clock.now())
        ):
            raise NotAuthenticated(BAD_REFRESH)
        if unverified.jti is not None and await self._tokens.refresh_revoked(unverified.jti):
            raise NotAuthenticated(REFRESH_REVOKED)
        if not self.knows_nas_secret:
            raise AuthUndecided(
                "BaluPi cannot check refresh tokens without the NAS's signing key",
                retry_after=self._retry_after(),
            )
        try:
            claims = self._signer.verify_nas(refresh_token, expected="refresh")
        except InvalidToken as exc:
            raise NotAuthenticated(BAD_REFRESH) from exc
        # The NAS counts a token without a stored jti as revoked; the Pi knows only the
        # revocations it has seen (and logouts), and honours the rest until the NAS says no.
        if claims.jti is None or await self._tokens.refresh_revoked(claims.jti):
            raise NotAuthenticated(REFRESH_REVOKED)
        assert claims.sub is not None
        user = await self._users.get(claims.sub)
        if user is None:  # a refresh token carries no name or role to mint an access token with
            raise AuthUndecided("a refresh for a user BaluPi has not seen", self._retry_after())
        if not user.is_active:
            raise NotAuthenticated(USER_INACTIVE)
        issued = claims.issued_at
        if user.refresh_revoked_before is not None and (
            issued is None or issued < user.refresh_revoked_before
        ):
            raise NotAuthenticated(REFRESH_REVOKED)
        token = self._signer.mint_nas_access(
            user_id=user.id, username=user.username, role=user.role
        )
        log.info("offline refresh", user_id=user.id)
        return TokenGrant(token, user.public()).body()

    async def revoke_session(self, user_id: str, token: str) -> None:
        """Logging out of a Pi-only token: the token and the user's older refreshes go."""
        now = self._clock.now()
        claims = peek(token)
        expires_at = claims.expires_at if claims is not None else None
        await self._tokens.reject(
            token_digest(token), detail=BAD_CREDENTIALS, checked_at=now, expires_at=expires_at
        )
        await self._users.revoke_refresh_tokens(user_id, now)


def _active(user: CachedUser, token: str, kind: CredentialKind) -> AuthenticatedUser:
    if not user.is_active:
        raise NotAuthenticated(USER_INACTIVE)
    return AuthenticatedUser(user.id, user.username, user.role, token, kind)
