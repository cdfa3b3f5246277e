"""BaluPi's error tree. Services raise these; ``api/errors.py`` alone maps them to HTTP.

BaluPiError
├── NasError
│   ├── NasAsleep        the NAS sleeps; the caller may retry after a wake (503 + Retry-After)
│   ├── NasUnreachable   the NAS should be up but does not answer (503 + Retry-After)
│   └── NasRejected      the NAS answered with an error of its own (passed on)
├── PlugError
│   ├── PlugAuthFailed   the plug refused the Tapo credentials
│   └── PlugUnavailable  the plug does not answer
└── CacheError
"""

from __future__ import annotations


class BaluPiError(Exception):
    """Base of every error BaluPi raises on purpose."""


class NasError(BaluPiError):
    """Something about the NAS stopped the request."""


class NasAsleep(NasError):
    def __init__(self, message: str = "NAS is sleeping", retry_after: int = 30) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class NasUnreachable(NasError):
    def __init__(self, message: str = "NAS is unreachable", retry_after: int = 30) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class NasRejected(NasError):
    def __init__(self, status_code: int, detail: object) -> None:
        super().__init__(f"NAS answered {status_code}")
        self.status_code = status_code
        self.detail = detail


class PlugError(BaluPiError):
    """A smart plug could not be read or switched."""


class PlugAuthFailed(PlugError):
    pass


class PlugUnavailable(PlugError):
    pass


class CacheError(BaluPiError):
    """The SSD cache could not store or serve a file."""
