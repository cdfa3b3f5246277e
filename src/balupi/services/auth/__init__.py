"""Authentication for BaluPi: the NAS decides while it is awake, the Pi from what it learned
while it sleeps. ``AuthService`` (``service.py``) is the entry point, a façade over ``online.py``
(asking the NAS) and ``offline.py`` (deciding without it); the modules beside them are their
parts."""

from balupi.services.auth.answers import (
    AuthenticatedUser,
    AuthPolicy,
    ForwardedAnswer,
    TokenGrant,
)
from balupi.services.auth.roster import UserRoster
from balupi.services.auth.service import AuthService
from balupi.services.auth.token_cache import TokenCache
from balupi.services.auth.tokens import CredentialKind
from balupi.services.auth.users import UserStore
from balupi.services.auth.verifier import PasswordVerifier, ScryptParams

__all__ = [
    "AuthPolicy",
    "AuthService",
    "AuthenticatedUser",
    "CredentialKind",
    "ForwardedAnswer",
    "PasswordVerifier",
    "ScryptParams",
    "TokenCache",
    "TokenGrant",
    "UserRoster",
    "UserStore",
]
