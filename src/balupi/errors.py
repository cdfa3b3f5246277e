"""BaluPi's error tree. Services raise these; ``api/errors.py`` alone maps them to HTTP.

BaluPiError
├── NasError
│   ├── NasAsleep        the NAS sleeps; the caller may retry after a wake (503 + Retry-After)
│   ├── NasUnreachable   the NAS should be up but does not answer (503 + Retry-After)
│   └── NasRejected      the NAS answered with an error of its own (passed on)
│       └── ForwardRefused  the pass-through will not forward a request or pass on an
│                           answer (a 3xx, a delete of the storage root); same shape
├── AuthError
│   ├── NotAuthenticated  the credentials are really invalid (401 + WWW-Authenticate: Bearer)
│   ├── PermissionDenied  authenticated, but not allowed (403)
│   ├── TooManyAttempts   offline logins from one client are rate-limited (429, slowapi's body)
│   └── AuthUndecided     the Pi cannot tell valid from invalid now (503; where a status would
│                         log a client out, /api/auth/me and /refresh, the connection is dropped)
├── FileError          refused as the NAS would refuse it (status_code + detail)
│   ├── InvalidPath      ``..`` in a path (400)
│   └── AccessDenied     outside what the user may see (403)
├── PlugError            a smart plug could not be read or switched (502: the device failed)
│   ├── PlugAuthFailed   the plug refused the Tapo credentials (502)
│   ├── PlugUnavailable  the plug does not answer (502)
│   ├── PlugNotFound     no plug with that id (404)
│   ├── PlugAddressInvalid  a host no plug can have: not an IPv4 address or host name (422)
│   └── PlugRefused      BaluPi will not do it: cutting the NAS plug while the NAS is awake,
│                        a second NAS plug (409)
└── CacheError

Each class carries a stable snake_case ``code`` (``nas_asleep``, ``plug_address_invalid`` …);
``api/errors.py`` adds it to the answer on BaluPi's own endpoints only.
"""

from __future__ import annotations


class BaluPiError(Exception):
    """Base of every error BaluPi raises on purpose.

    ``code`` is the error's stable machine name on BaluPi's own endpoints (the dashboard translates
    by it); every subclass sets its own, unique one (tests/test_error_codes.py pins them).
    """

    code = "balupi_error"


class NasError(BaluPiError):
    """Something about the NAS stopped the request."""

    code = "nas_error"


class NasAsleep(NasError):
    code = "nas_asleep"

    def __init__(self, message: str = "NAS is sleeping", retry_after: int = 30) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class NasUnreachable(NasError):
    code = "nas_unreachable"

    def __init__(self, message: str = "NAS is unreachable", retry_after: int = 30) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class NasRejected(NasError):
    code = "nas_rejected"

    def __init__(self, status_code: int, detail: object) -> None:
        super().__init__(f"NAS answered {status_code}")
        self.status_code = status_code
        self.detail = detail


class ForwardRefused(NasRejected):
    """Answered like a NAS rejection (``{"detail": …}`` with ``status_code``), but BaluPi's call."""

    code = "forward_refused"


class AuthError(BaluPiError):
    """A request could not be authenticated or authorised."""

    code = "auth_error"


class NotAuthenticated(AuthError):
    """The token or password is really invalid; ``detail`` is BaluHost's exact 401 text."""

    code = "not_authenticated"

    def __init__(self, detail: str = "Could not validate credentials") -> None:
        super().__init__(detail)
        self.detail = detail


class PermissionDenied(AuthError):
    code = "permission_denied"

    def __init__(self, detail: str = "Insufficient permissions: Admin required") -> None:
        super().__init__(detail)
        self.detail = detail


class TooManyAttempts(AuthError):
    code = "too_many_attempts"

    def __init__(self, retry_after: int = 60) -> None:
        super().__init__("Rate limit exceeded. Please try again later.")
        self.retry_after = retry_after


class AuthUndecided(AuthError):
    """Neither valid nor invalid as far as the Pi can tell (no secret, nothing cached, NAS down).

    Never answered 401: a client that hears 401 refreshes, and a failed refresh logs it out.
    """

    code = "auth_undecided"

    def __init__(self, reason: str, retry_after: int = 30) -> None:
        super().__init__(reason)
        self.retry_after = retry_after


class PlugError(BaluPiError):
    """A smart plug could not be read or switched; ``status_code`` is how the API answers."""

    code = "plug_error"
    status_code = 502


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
    """The SSD cache could not store or serve a file."""

    code = "cache_error"


class FileError(BaluPiError):
    """A file request the NAS itself would refuse; ``status_code`` and ``detail`` as it answers."""

    code = "file_error"
    status_code = 400

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


class InvalidPath(FileError):
    """A path with ``..`` (BaluHost: 400 "Invalid path")."""

    code = "invalid_path"
    status_code = 400

    def __init__(self, detail: str = "Invalid path") -> None:
        super().__init__(detail)


class AccessDenied(FileError):
    """A path outside what the user may see (BaluHost: 403 "Access denied")."""

    code = "access_denied"
    status_code = 403

    def __init__(self, detail: str = "Access denied") -> None:
        super().__init__(detail)
