"""Authentication for BaluPi: the NAS decides while it is awake, the Pi from what it learned
while it sleeps. ``AuthService`` is the entry point; the modules beside it are its parts."""

from balupi.services.auth.roster import UserRoster
from balupi.services.auth.service import (
    AuthenticatedUser,
    AuthPolicy,
    AuthService,
    ForwardedAnswer,
    TokenGrant,
)
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
