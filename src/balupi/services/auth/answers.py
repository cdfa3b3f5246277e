"""What the auth service answers with, and the words it answers in.

Shared by the three parts of authentication (``online.py`` asks the NAS, ``offline.py`` decides
without it, ``service.py`` is the façade callers use), so none of them imports another for a
type or a sentence.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import httpx

from balupi.config import Settings
from balupi.services.auth.tokens import CredentialKind, nas_secret_of

# BaluHost's exact texts (docs/compat/nas-api.md §2.3, §2.4): clients and people read them.
NO_TOKEN = "No authentication token provided"
BAD_CREDENTIALS = "Could not validate credentials"
BAD_LOGIN = "Invalid credentials"
USER_INACTIVE = "User account is inactive"
USER_GONE = "User no longer exists"
BAD_REFRESH = "Invalid refresh token"
REFRESH_REVOKED = "Refresh token has been revoked"

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
        return cls(
            nas_secret=nas_secret_of(settings),
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


def json_object(response: httpx.Response) -> dict[str, Any] | None:
    """The body of a NAS answer if it is a JSON object; None for anything else."""
    try:
        body = response.json()
    except ValueError:  # not JSON, or not text
        return None
    return body if isinstance(body, dict) else None


def detail_of(response: httpx.Response) -> str | None:
    """The ``detail`` text of a NAS error answer, if it has one."""
    body = json_object(response)
    detail = body.get("detail") if body is not None else None
    return detail if isinstance(detail, str) else None
