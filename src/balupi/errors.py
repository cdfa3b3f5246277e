"""BaluPi's error tree. Services raise these; ``api/errors.py`` alone maps them to HTTP.

Every class states its HTTP meaning once, as class attributes the one boundary reads:
``status_code`` (``None``: not meant for a client; if one escapes it is a plain 500), ``code``
(a stable snake_case machine name, added to the answer on BaluPi's own endpoints only) and
``detail`` (the plain-English default sentence; an instance may carry its own). Errors a client
may retry carry ``retry_after`` (body field and ``Retry-After`` header); ``challenge`` names the
``WWW-Authenticate`` scheme of a 401.

BaluPiError
├── NasError
│   ├── NasAsleep        the NAS sleeps; the caller may retry after a wake (503 + Retry-After)
│   ├── NasUnreachable   the NAS should be up but does not answer (503 + Retry-After)
│   └── NasRejected      the NAS answered with an error of its own (its status, passed on)
│       └── ForwardRefused  the pass-through will not forward a request or pass on an
│                           answer (a 3xx, a delete of the storage root); same shape
├── AuthError
│   ├── NotAuthenticated  the credentials are really invalid (401 + WWW-Authenticate: Bearer)
│   ├── PermissionDenied  authenticated, but not allowed (403)
│   ├── TooManyAttempts   offline logins from one client are rate-limited (429, slowapi's body)
│   ├── AuthUndecided     the Pi cannot tell valid from invalid now (503; where a status would
│   │                     log a client out, /api/auth/me and /refresh, the connection is dropped)
│   └── InvalidToken      (services/auth/jwt.py) a token that does not verify; the auth
│                         service turns it into NotAuthenticated, it never reaches a client
├── FileError          refused as the NAS would refuse it (400 unless a subclass says otherwise)
│   ├── InvalidPath      ``..`` in a path (400)
│   ├── AccessDenied     outside what the user may see (403)
│   └── …                in services/files and services/cache: EmptyPath, NotCacheable …
├── PlugError            a smart plug could not be read or switched (502: the device failed)
│   ├── PlugAuthFailed   the plug refused the Tapo credentials (502)
│   ├── PlugUnavailable  the plug does not answer (502)
│   ├── PlugNotFound     no plug with that id (404)
│   ├── PlugAddressInvalid  a host no plug can have: not an IPv4 address or host name (422)
│   └── PlugRefused      BaluPi will not do it: cutting the NAS plug while the NAS is awake,
│                        a second NAS plug (409)
├── CacheError           (internal) the SSD cache could not store or serve a file
├── EnergyError          services/energy/errors.py: unknown plug or tariff (404), a tariff or
│                        window that cannot mean anything (422), a contradicting tariff (409)
├── NoticeError          services/nas/notices.py: a lifecycle notice refused (401, 413, 422,
│                        503 while no handshake secret is configured)
├── upload errors        services/uploads: UploadQueueFull (429), InsufficientStorage (507),
│                        MalformedUpload (422), UploadSessionError (its own status),
│                        ConflictNotFound (404)
└── BackupError          services/backup.py (internal: the command line's)

Each class carries a stable snake_case ``code`` (``nas_asleep``, ``plug_address_invalid`` …) that
no other class has (tests/test_error_codes.py pins them).
"""

from __future__ import annotations

from typing import ClassVar


class BaluPiError(Exception):
    """Base of every error BaluPi raises on purpose.

    The class attributes are the error's whole HTTP meaning, so ``api/errors.py`` needs one
    handler for the tree rather than one per class. ``detail`` is a class default an instance may
    replace (``str(error)`` is the detail too, for logs).
    """

    code: ClassVar[str] = "balupi_error"
    status_code: int | None = None
    detail: object = "BaluPi could not do that"
    retry_after: int | None = None
    challenge: ClassVar[str | None] = None

    def __init__(self, detail: object | None = None) -> None:
        if detail is not None:
            self.detail = detail
        super().__init__(self.detail)


class NasError(BaluPiError):
    """Something about the NAS stopped the request."""

    code = "nas_error"


class NasAsleep(NasError):
    code = "nas_asleep"
    status_code = 503
    detail = "NAS is sleeping"

    def __init__(self, message: str | None = None, retry_after: int = 30) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class NasUnreachable(NasError):
    code = "nas_unreachable"
    status_code = 503
    detail = "NAS is unreachable"

    def __init__(self, message: str | None = None, retry_after: int = 30) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class NasRejected(NasError):
    """The NAS's own error answer, passed on as it came: its status and its ``detail``."""

    code = "nas_rejected"
    status_code: int

    def __init__(self, status_code: int, detail: object) -> None:
        super().__init__(f"NAS answered {status_code}")
        self.status_code = status_code
        self.detail = detail  # whatever the NAS sent, ``None`` included


class ForwardRefused(NasRejected):
    """Answered like a NAS rejection (``{"detail": …}`` with ``status_code``), but BaluPi's call."""

    code = "forward_refused"


class AuthError(BaluPiError):
    """A request could not be authenticated or authorised."""

    code = "auth_error"


class NotAuthenticated(AuthError):
    """The token or password is really invalid; ``detail`` is BaluHost's exact 401 text."""

    code = "not_authenticated"
    status_code = 401
    detail: str = "Could not validate credentials"
    challenge = "Bearer"

    def __init__(self, detail: str | None = None) -> None:
        super().__init__(detail)


class PermissionDenied(AuthError):
    code = "permission_denied"
    status_code = 403
    detail: str = "Insufficient permissions: Admin required"

    def __init__(self, detail: str | None = None) -> None:
        super().__init__(detail)


class TooManyAttempts(AuthError):
    code = "too_many_attempts"
    status_code = 429
    detail = "Rate limit exceeded. Please try again later."

    def __init__(self, retry_after: int = 60) -> None:
        super().__init__()
        self.retry_after = retry_after


class AuthUndecided(AuthError):
    """Neither valid nor invalid as far as the Pi can tell (no secret, nothing cached, NAS down).

    Never answered 401: a client that hears 401 refreshes, and a failed refresh logs it out.
    """

    code = "auth_undecided"
    status_code = 503

    def __init__(self, reason: str, retry_after: int = 30) -> None:
        super().__init__(reason)
        self.retry_after = retry_after


class PlugError(BaluPiError):
    """A smart plug could not be read or switched: the device failed, so a 502."""

    code = "plug_error"
    status_code = 502
    detail = "The plug could not be reached"


class PlugAuthFailed(PlugError):
    """The plug refused the Tapo account (``TAPO_USERNAME`` / ``TAPO_PASSWORD``)."""

    code = "plug_auth_failed"


class PlugUnavailable(PlugError):
    """The plug did not answer, or answered with something python-kasa could not use."""

    code = "plug_unavailable"


class PlugNotFound(PlugError):
    code = "plug_not_found"
    status_code = 404

    def __init__(self, device_id: int) -> None:
        super().__init__(f"no plug with id {device_id}")


class PlugAddressInvalid(PlugError):
    """A plug host that is neither an IPv4 address nor a host name; nothing is connected to."""

    code = "plug_address_invalid"
    status_code = 422


class PlugRefused(PlugError):
    """A request BaluPi declines because it would be unsafe or contradict another setting."""

    code = "plug_refused"
    status_code = 409


class CacheError(BaluPiError):
    """The SSD cache could not store or serve a file (internal: callers turn it into an answer)."""

    code = "cache_error"


class FileError(BaluPiError):
    """A file request the NAS itself would refuse; ``status_code`` and ``detail`` as it answers."""

    code = "file_error"
    status_code = 400
    detail: str = "Bad request"

    def __init__(self, detail: str | None = None) -> None:
        super().__init__(detail)


class InvalidPath(FileError):
    """A path with ``..`` (BaluHost: 400 "Invalid path")."""

    code = "invalid_path"
    status_code = 400
    detail = "Invalid path"


class AccessDenied(FileError):
    """A path outside what the user may see (BaluHost: 403 "Access denied")."""

    code = "access_denied"
    status_code = 403
    detail = "Access denied"
