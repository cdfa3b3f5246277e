"""What the one error boundary (issue 15) must keep from the handlers it replaced (review R1).

* ``Tus-Resumable`` on an error answer belongs to the tus endpoints only: a BaluHost-compatible
  route whose path merely contains ``/tus`` (a download of a folder called ``tusk``) answered
  BaluHost's headers only before the refactor.
* BaluPi's own rate limits (a refused login, a full upload queue) answer in slowapi's shape; a
  ``NasRejected`` carrying the NAS's 429 is the NAS's answer passed on, ``{"detail": …}`` as any
  other status of it, with no ``error`` key added.
"""

from __future__ import annotations

import pytest

from balupi.errors import NasAsleep, NasRejected, NotAuthenticated, TooManyAttempts
from balupi.services.uploads.resumable import UploadSessionError
from tests.api import test_error_boundary

raising = test_error_boundary.raising  # the bare app with only the boundary, raising on demand
Ask = test_error_boundary.Ask


@pytest.mark.parametrize(
    "path",
    [
        "/api/files/download/maria/tusk.jpg",
        "/api/files/thumbnail/maria/tusks/a.jpg",
        "/api/files/download/tus",
    ],
)
async def test_a_path_that_merely_contains_tus_gets_no_tus_header(raising: Ask, path: str) -> None:
    answer = await raising(path, NasAsleep(retry_after=12))
    assert answer.status_code == 503
    assert "Tus-Resumable" not in answer.headers


@pytest.mark.parametrize("path", ["/api/files/tus", "/api/files/tus/abc"])
async def test_the_tus_endpoints_errors_carry_the_protocol_version(raising: Ask, path: str) -> None:
    for error in (UploadSessionError(409, "Offset 3 does not match 0"), NotAuthenticated()):
        answer = await raising(path, error)
        assert answer.headers["Tus-Resumable"] == "1.0.0"


async def test_the_nas_s_429_is_passed_on_as_its_detail(raising: Ask) -> None:
    answer = await raising("/api/files/download/maria/a.jpg", NasRejected(429, "Slow down"))
    assert answer.status_code == 429
    assert answer.json() == {"detail": "Slow down"}


async def test_balupi_s_own_rate_limit_keeps_slowapi_s_body(raising: Ask) -> None:
    answer = await raising("/api/auth/login", TooManyAttempts(retry_after=60))
    assert answer.json() == {
        "error": "Too Many Requests",
        "detail": "Rate limit exceeded. Please try again later.",
        "retry_after": 60,
    }
