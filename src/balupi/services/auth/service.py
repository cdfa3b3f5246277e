"""``AuthService``: logging in and checking bearer tokens, with the NAS awake or asleep.

The NAS is the authority. While the ``NasLink`` believes it online, logins, refreshes and
logouts are forwarded and its answers passed back; what they teach (a user's profile, a
password that worked or failed, a token it rejected, a refresh token it revoked) is stored.
While it is not online the Pi sends it nothing and decides from what it stored:

* a login against the password verifier of a user the NAS confirmed (``verifier.py``), kept
  as SSSD keeps cached credentials: a failed online check never erases it;
* an access token by signature, with the NAS's key if configured (``tokens.py``), else by the
  NAS's earlier verdict on it (``token_cache.py``);
* a refresh token by signature and the revocations it saw (only with the NAS's key).

Every check ends in one of three outcomes: a user, ``NotAuthenticated`` (really invalid: a 401
with BaluHost's own text), or ``AuthUndecided`` (the Pi cannot tell). The difference matters:
clients log themselves out after a 401 they cannot refresh (docs/compat/clients.md §0.2), so
undecided is never turned into a 401; routes answer it with 503, or by dropping the connection where
any status would do harm.

Which logins may wake a sleeping NAS: a name the NAS's signed user list (its going-offline
notice, while still its latest word: ``roster.py``) does not hold is no user, and gets a 401
without a wake. A name the Pi knows (on that list, or a user the NAS confirmed to it) wakes the
NAS when the Pi cannot check the password itself. A name it has no way to judge (no current
list) wakes it at most once per ``STRANGER_WAKE_SECONDS`` across all such names, so made-up names
cannot keep the NAS awake.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import httpx

from balupi.clock import Clock
from balupi.config import Settings
from balupi.db.models import NasState
from balupi.errors import AuthUndecided, NasUnreachable, NotAuthenticated, TooManyAttempts
from balupi.logs import get_logger
from balupi.services.auth.ratelimit import LoginLimits
from balupi.services.auth.roster import UserRoster
from balupi.services.auth.token_cache import TokenCache, TokenRecord
from balupi.services.auth.tokens import (
    Claims,
    CredentialKind,
    InvalidToken,
    TokenSigner,
    classify,
    peek,
    token_digest,
)
from balupi.services.auth.users import CachedUser, UserStore
from balupi.services.auth.verifier import PasswordVerifier
from balupi.services.nas.gate import Purpose, nas_purpose
from balupi.services.nas.quiet import QuietBudget

if TYPE_CHECKING:  # at run time nas.link imports nas.probe, which imports auth
    from balupi.services.nas.link import NasLink
    from balupi.services.nas.wake import NasWaker

log = get_logger(__name__)

# BaluHost's exact texts (docs/compat/nas-api.md §2.3, §2.4): clients and people read them.
NO_TOKEN = "No authentication token provided"
BAD_CREDENTIALS = "Could not validate credentials"
BAD_LOGIN = "Invalid credentials"
USER_INACTIVE = "User account is inactive"
USER_GONE = "User no longer exists"
BAD_REFRESH = "Invalid refresh token"
REFRESH_REVOKED = "Refresh token has been revoked"

NAS_AUTH_TIMEOUT = httpx.Timeout(10.0, connect=3.0)
STRANGER_WAKE_SECONDS = 15 * 60.0  # between wakes for names the Pi cannot judge, all together
# Headers of a NAS answer that mean something to the client; the rest is the NAS's business.
_PASSED_HEADERS = frozenset(
    {
        "content-type",
        "retry-after",
        "www-authenticate",
        "x-ratelimit-limit",
        "x-ratelimit-remaining",
        "x-ratelimit-reset",
    }
)


@dataclass(frozen=True)
class AuthPolicy:
    """The knobs of offline authentication, from the settings."""

    nas_secret: str | None
    signing_key: str
    offline_login: timedelta = timedelta(days=30)  # SSSD's default for cached credentials
    # An API key the NAS accepted is re-asked after ``api_key_recheck`` while the NAS is up,
    # and honoured for ``api_key_offline`` after the last yes while it is down: keys do not
    # expire by themselves, and a day covers a night of NAS sleep.
    api_key_recheck: timedelta = timedelta(minutes=10)
    api_key_offline: timedelta = timedelta(hours=24)
    # A rejected credential without an ``exp`` of its own (an API key) is remembered this long;
    # after that only a new yes from the NAS could let it in again.
    rejection_memory: timedelta = timedelta(days=90)
    # How long the NAS's last word on a user (a login, a refresh or an ``/auth/me`` answer)
    # answers ``/api/auth/me`` without asking it again (``AUTH_TRUST_SECONDS``). Shorter than
    # the NAS's 15-minute access tokens, or it would change nothing: within it a user the NAS
    # disabled is still let in, as BaluPi already lets a NAS token in until its ``exp`` while
    # the NAS sleeps; after it the NAS is asked at the next quiet slot (``QuietBudget``), and a
    # client's own token refresh, forwarded while the NAS is awake, asks it anyway.
    trust: timedelta = timedelta(minutes=10)

    @classmethod
    def from_settings(cls, settings: Settings) -> AuthPolicy:
        secret = settings.nas_jwt_secret
        return cls(
            nas_secret=secret.get_secret_value() if secret else None,
            signing_key=settings.signing_key,
            offline_login=timedelta(days=settings.offline_login_days),
            trust=timedelta(seconds=settings.auth_trust_seconds),
        )


@dataclass(frozen=True)
class AuthenticatedUser:
    """Who made a request, and the credential to act on the NAS as them."""

    id: str  # the NAS's user id, as a string
    username: str
    role: str
    token: str  # the raw bearer credential (pass it on to the NAS as this user)
    kind: CredentialKind  # a ``PI_TOKEN`` means nothing to the NAS

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"


@dataclass(frozen=True)
class ForwardedAnswer:
    """The NAS's answer to a forwarded request, to be passed back as it is."""

    status_code: int
    content: bytes
    headers: dict[str, str]

    @classmethod
    def of(cls, response: httpx.Response) -> ForwardedAnswer:
        headers = {
            name: value for name, value in response.headers.items() if name in _PASSED_HEADERS
        }
        return cls(response.status_code, response.content, headers)


@dataclass(frozen=True)
class TokenGrant:
    """A token the Pi issued itself: BaluHost's ``TokenResponse`` shape."""

    access_token: str
    user: dict[str, Any]

    def body(self) -> dict[str, Any]:
        return {"access_token": self.access_token, "token_type": "bearer", "user": self.user}


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
    ) -> None:
        self._users = users
        self._tokens = tokens
        self._link = link
        self._clock = clock
        self._policy = policy
        self._waker = waker
        self._verifier = verifier or PasswordVerifier()
        self._signer = TokenSigner(
            clock, nas_secret=policy.nas_secret, signing_key=policy.signing_key
        )
        self._login_limits = LoginLimits(clock)
        self._roster = roster or (lambda: None)
        self._budget = budget
        self._stranger_woke_at: float | None = None  # monotonic
        self._nas_checks: dict[str, asyncio.Task[AuthenticatedUser | None]] = {}

    @property
    def knows_nas_secret(self) -> bool:
        return self._signer.knows_nas_secret

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
        if self._nas_online():
            if not self._login_limits.may_ask_nas(username, client):
                # This client has had enough refusals: the NAS's budget is everyone's.
                return await self._login_held_back(username, password, None)
            response = await self._ask_nas(
                "POST", "/api/auth/login", json={"username": username, "password": password}
            )
            if response is not None:
                if response.status_code == 429:
                    # The NAS limits logins per address, and every client behind the Pi shares
                    # the Pi's: a user the Pi can check is checked here (it limits per client).
                    return await self._login_held_back(username, password, response)
                await self._learn_from_login(username, password, response)
                return ForwardedAnswer.of(response)
        return await self._login_offline(username, password)

    async def _login_held_back(
        self, username: str, password: str, nas_answer: httpx.Response | None
    ) -> ForwardedAnswer | TokenGrant:
        """A login the NAS is not to decide now (rate limits): checked here if the Pi can, else
        the NAS's 429 (or the Pi's own)."""
        user = await self._users.by_username(username)
        if user is not None and user.verifier_usable(self._clock.now()):
            return await self._check_verifier(user, password)
        if nas_answer is not None:
            return ForwardedAnswer.of(nas_answer)
        raise TooManyAttempts()

    async def _learn_from_login(
        self, username: str, password: str, response: httpx.Response
    ) -> None:
        if response.status_code == 401:
            await self._forget_refused_verifier(username, password)
            return
        body = _json_object(response) if response.status_code == 200 else None
        if body is None:
            return
        if body.get("requires_2fa"):
            # The password alone does not log this user in; offline it would skip the 2FA.
            await self._users.forget_verifier(username)
            return
        profile, access_token = body.get("user"), body.get("access_token")
        if not isinstance(profile, dict) or not isinstance(access_token, str):
            return
        now = self._clock.now()
        try:
            user = await self._users.remember(profile, seen_at=now)
        except ValueError:
            log.warning("nas login answer without a usable user", username=username)
            return
        if self._policy.offline_login > timedelta(0):
            verifier = await self._verifier.make(password)
            await self._users.set_verifier(user.id, verifier, now + self._policy.offline_login)
        await self._remember_accepted(access_token, user.id)

    async def _forget_refused_verifier(self, username: str, password: str) -> None:
        """SSSD's rule: a failed online check keeps the cached credential, unless the NAS
        refused the very password the verifier matches (changed on the NAS, or the user gone).
        A mistyped password must not take away a user's offline login."""
        user = await self._users.by_username(username)
        if user is None or user.password_verifier is None:
            return
        if await self._verifier.check(password, user.password_verifier):
            await self._users.forget_verifier(username)
            log.info("nas refused the cached password; verifier dropped", user_id=user.id)

    async def _login_offline(self, username: str, password: str) -> TokenGrant:
        user = await self._users.by_username(username)
        roster = self._current_roster()
        if roster is not None and username not in roster.usernames:
            # The NAS's own signed word: no such user (any more). Its cached login goes too.
            if user is not None and user.password_verifier is not None:
                await self._users.forget_verifier(username)
            raise NotAuthenticated(BAD_LOGIN)
        if user is None or not user.verifier_usable(self._clock.now()):
            await self._wake_for_login(username, known=user is not None or roster is not None)
            raise AuthUndecided(
                "NAS is not reachable and BaluPi cannot check this login on its own",
                retry_after=self._retry_after(),
            )
        return await self._check_verifier(user, password)

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

    def _current_roster(self) -> UserRoster | None:
        """The NAS's signed user list, if the NAS has not been seen online since it was sent."""
        roster = self._roster()
        if roster is None or not roster.current(self._link.snapshot.last_seen_at):
            return None
        return roster

    async def _wake_for_login(self, username: str, *, known: bool) -> None:
        """Wake the NAS for a login only it can check; for a name the Pi cannot judge, at most
        once per ``STRANGER_WAKE_SECONDS`` across all such names."""
        if not known:
            now = self._clock.monotonic()
            last = self._stranger_woke_at
            if last is not None and now - last < STRANGER_WAKE_SECONDS:
                return
            self._stranger_woke_at = now
        await self._wake(f"login of a user BaluPi cannot check ({username!r})")

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
            return await self._pi_token_user(token)

        claims: Claims | None = None
        if kind is CredentialKind.NAS_TOKEN:
            claims = self._check_nas_token_locally(token)
        if self._nas_online():
            needed = self._needs_nas(kind, record, now)
            due = confirm_with_nas and not needed and await self._confirmation_due(claims, record)
            if needed or due is not False:
                # A re-check the Pi could do without is background work for the gate: it never
                # wakes a NAS that fell asleep since the link last looked.
                purpose = Purpose.BACKGROUND if due is True else Purpose.USER
                with nas_purpose(purpose):
                    user = await self._single_flight(
                        digest, lambda: self._check_with_nas(token, digest, kind, claims)
                    )
                if user is not None:
                    return user
        if claims is not None and self.knows_nas_secret:
            return await self._user_from_claims(token, claims)
        if record is not None and self._usable_offline(kind, record, now):
            return await self._cached_user(token, kind, record)
        raise AuthUndecided(
            "BaluPi cannot check this token while the NAS is not reachable",
            retry_after=self._retry_after(),
        )

    def _check_nas_token_locally(self, token: str) -> Claims:
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

    def _needs_nas(self, kind: CredentialKind, record: TokenRecord | None, now: datetime) -> bool:
        if kind is CredentialKind.API_KEY:
            return record is None or now - record.checked_at >= self._policy.api_key_recheck
        return not self.knows_nas_secret and record is None

    async def _confirmation_due(
        self, claims: Claims | None, record: TokenRecord | None
    ) -> bool | None:
        """Whether ``/api/auth/me`` should ask the NAS about this user now: None (it must)
        when the Pi never heard the NAS vouch for them; True (it may, as background work)
        once their trust window has passed and the quiet budget allows; else False (a
        refused slot leaves it due, for a later poll)."""
        user_id = claims.sub if claims is not None else None
        if user_id is None and record is not None:
            user_id = record.user_id
        user = await self._users.get(user_id) if user_id is not None else None
        if user is None or user.confirmed_at is None:
            return None
        if self._clock.now() - user.confirmed_at < self._policy.trust:
            return False
        return self._budget is None or self._budget.take()

    def _usable_offline(self, kind: CredentialKind, record: TokenRecord, now: datetime) -> bool:
        if not record.accepted:
            return False
        if kind is CredentialKind.API_KEY:
            return now - record.checked_at < self._policy.api_key_offline
        return True  # a JWT's record lapses at its exp (TokenCache.lookup)

    async def _check_with_nas(
        self, token: str, digest: str, kind: CredentialKind, claims: Claims | None
    ) -> AuthenticatedUser | None:
        """Ask the NAS's ``/api/auth/me``: a user, ``NotAuthenticated``, or None (no verdict)."""
        response = await self._ask_nas(
            "GET", "/api/auth/me", headers={"Authorization": f"Bearer {token}"}
        )
        if response is None:
            return None
        now = self._clock.now()
        if response.status_code == 401:
            detail = _detail(response) or BAD_CREDENTIALS
            await self._learn_rejection(digest, detail, kind, claims)
            raise NotAuthenticated(detail)
        profile = _json_object(response) if response.status_code == 200 else None
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

    async def _user_from_claims(self, token: str, claims: Claims) -> AuthenticatedUser:
        """A NAS-signed access token: its user, learned from the claims if never seen."""
        assert claims.sub is not None  # verify_nas requires it
        user = await self._users.get(claims.sub)
        if user is None:
            if claims.username is None or claims.role is None:
                raise AuthUndecided("a token for a user BaluPi has not seen", self._retry_after())
            user = await self._users.learn(claims.sub, claims.username, claims.role)
        return self._active(user, token, CredentialKind.NAS_TOKEN)

    async def _cached_user(
        self, token: str, kind: CredentialKind, record: TokenRecord
    ) -> AuthenticatedUser:
        user = await self._users.get(record.user_id) if record.user_id else None
        if user is None:
            raise NotAuthenticated(USER_GONE)
        return self._active(user, token, kind)

    async def _pi_token_user(self, token: str) -> AuthenticatedUser:
        try:
            claims = self._signer.verify_pi(token)
        except InvalidToken as exc:
            raise NotAuthenticated(BAD_CREDENTIALS) from exc
        assert claims.sub is not None
        user = await self._users.get(claims.sub)
        if user is None:
            raise NotAuthenticated(USER_GONE)
        return self._active(user, token, CredentialKind.PI_TOKEN)

    @staticmethod
    def _active(user: CachedUser, token: str, kind: CredentialKind) -> AuthenticatedUser:
        if not user.is_active:
            raise NotAuthenticated(USER_INACTIVE)
        return AuthenticatedUser(user.id, user.username, user.role, token, kind)

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
    async def refresh(self, refresh_token: str) -> dict[str, Any]:
        """A new access token (``{access_token, token_type, user}``) for a refresh token.

        Forwarded while the NAS is online. Its 200 and 401 are the answer; anything else (a
        429, a 5xx, no answer) is decided here as if it slept, because any HTTP error makes
        BaluApp delete its tokens. Raises ``NotAuthenticated`` or ``AuthUndecided`` only.
        """
        if self._nas_online():
            response = await self._ask_nas(
                "POST", "/api/auth/refresh", json={"refresh_token": refresh_token}
            )
            if response is not None:
                body = _json_object(response) if response.status_code == 200 else None
                if body is not None and isinstance(body.get("access_token"), str):
                    await self._learn_from_refresh(body)
                    return body
                if response.status_code == 401:
                    detail = _detail(response) or BAD_REFRESH
                    await self._learn_refresh_rejection(refresh_token, detail)
                    raise NotAuthenticated(detail)
                log.warning("nas refresh answer unusable", status=response.status_code)
        return await self._refresh_offline(refresh_token)

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

    async def _refresh_offline(self, refresh_token: str) -> dict[str, Any]:
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
            await self._revoke_session(user.id, token)
            return {"message": "Logged out"}
        if self._nas_online():
            response = await self._ask_nas(
                "POST", "/api/auth/logout", headers={"Authorization": f"Bearer {token}"}
            )
            if response is not None:
                if response.status_code == 200:
                    user_id = await self._user_id_of(token)
                    if user_id is not None:
                        await self._users.revoke_refresh_tokens(user_id, self._clock.now())
                elif response.status_code == 401:
                    kind = classify(token) or CredentialKind.NAS_TOKEN
                    detail = _detail(response) or BAD_CREDENTIALS
                    await self._learn_rejection(token_digest(token), detail, kind, peek(token))
                return ForwardedAnswer.of(response)
        user = await self.authenticate(token)
        await self._users.revoke_refresh_tokens(user.id, self._clock.now())
        raise AuthUndecided(
            "Logged out on BaluPi only; the NAS is not reachable to revoke its refresh tokens",
            retry_after=self._retry_after(),
        )

    async def _revoke_session(self, user_id: str, token: str) -> None:
        now = self._clock.now()
        claims = peek(token)
        expires_at = claims.expires_at if claims is not None else None
        await self._tokens.reject(
            token_digest(token), detail=BAD_CREDENTIALS, checked_at=now, expires_at=expires_at
        )
        await self._users.revoke_refresh_tokens(user_id, now)

    async def _user_id_of(self, token: str) -> str | None:
        """The user a token the NAS just accepted belongs to."""
        claims = peek(token)
        if claims is not None:
            return claims.sub
        record = await self._tokens.lookup(token_digest(token), self._clock.now())
        return record.user_id if record is not None else None

    # -- the NAS ------------------------------------------------------------------------------
    def _nas_online(self) -> bool:
        """Only a NAS believed online is asked: a request to a sleeping one wakes its disks."""
        return self._link.configured and self._link.state is NasState.ONLINE

    async def _ask_nas(
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

    async def _single_flight(
        self, key: str, check: Callable[[], Awaitable[AuthenticatedUser | None]]
    ) -> AuthenticatedUser | None:
        """One NAS check per token at a time; concurrent requests share its outcome."""
        task = self._nas_checks.get(key)
        if task is None:
            task = asyncio.ensure_future(check())
            self._nas_checks[key] = task
            task.add_done_callback(lambda done: self._check_finished(key, done))
        # Shielded: one client hanging up must not cancel the check the others wait for.
        return await asyncio.shield(task)

    def _check_finished(self, key: str, task: asyncio.Task[AuthenticatedUser | None]) -> None:
        self._nas_checks.pop(key, None)
        if not task.cancelled():
            task.exception()  # retrieved, even if every waiter has gone

    def _retry_after(self) -> int:
        return self._waker.retry_after() if self._waker is not None else 60

    async def _wake(self, reason: str) -> None:
        """Wake the NAS for a request only it can answer (if Wake-on-LAN is configured)."""
        if self._waker is None or not self._waker.configured:
            return
        try:
            await self._waker.wake(reason)
        except (NasUnreachable, OSError) as exc:  # the answer stands; the wake is a courtesy
            log.warning("could not wake the nas", reason=reason, error=str(exc))


def _json_object(response: httpx.Response) -> dict[str, Any] | None:
    try:
        body = response.json()
    except ValueError:  # not JSON, or not text
        return None
    return body if isinstance(body, dict) else None


def _detail(response: httpx.Response) -> str | None:
    body = _json_object(response)
    detail = body.get("detail") if body is not None else None
    return detail if isinstance(detail, str) else None
