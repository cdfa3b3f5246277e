"""Bad input on the sync routes while the Pi answers alone: a 4xx with ``{"detail": …}``, never 500.

Issue 11 finding 13: bodies that are not JSON, or JSON of the wrong shape, or nested deeper than
the parser recurses, and conflict ids beyond SQLite's integer range, each made a 500.
"""

from __future__ import annotations

import httpx
import pytest

from balupi.api.errors import speaks_codes
from tests.uploads.conftest import ADMIN, ALICE, Home

BAD_BODIES = {
    "not json": b"{bad",
    "a list": b"[1,2]",
    "a string": b'"x"',
    "null": b"null",
    "deeply nested": b"[" * 100_000 + b"]" * 100_000,
    "nested object": b'{"a":' * 100_000 + b"1" + b"}" * 100_000,
    "wrong field types": b'{"folders": 5, "device_id": {"x": 1}, "status": [1]}',
    "not utf-8": b'{"device_id": "\xff"}',
}

# The Pi reads these bodies itself (to forward them untouched while the NAS is awake): 422.
READ_BY_THE_PI = [
    ("POST", "/api/sync/register-desktop"),
    ("POST", "/api/sync/report-folders"),
    ("PUT", "/api/mobile/sync/folders/some-folder"),
]
# FastAPI reads these: 422 for what does not validate, 400 for what it cannot parse at all.
READ_BY_FASTAPI = [
    ("POST", "/api/sync/conflicts/1/resolve"),
    ("PUT", "/api/sync/policies"),
]


async def _answers(client: httpx.AsyncClient, method: str, route: str) -> dict[str, httpx.Response]:
    headers = {**ADMIN, "Content-Type": "application/json"}
    return {
        name: await client.request(method, route, headers=headers, content=body)
        for name, body in BAD_BODIES.items()
    }


def _assert_plain_client_error(answer: httpx.Response, *statuses: int) -> None:
    assert answer.status_code in statuses, (answer.status_code, answer.text[:200])
    # BaluHost's detail-only body; the Pi's own sync routes (conflicts, policies) add their code
    own = speaks_codes(answer.request.url.path)
    assert set(answer.json()) == ({"detail", "code"} if own else {"detail"})
    assert "Traceback" not in answer.text


@pytest.mark.parametrize(("method", "route"), READ_BY_THE_PI)
async def test_a_malformed_body_the_pi_reads_is_a_422(
    client: httpx.AsyncClient, method: str, route: str
) -> None:
    for name, answer in (await _answers(client, method, route)).items():
        if name == "wrong field types" and route.startswith("/api/mobile/"):
            _assert_plain_client_error(answer, 404)  # any object may update a folder: unknown
        else:
            _assert_plain_client_error(answer, 422)


@pytest.mark.parametrize(("method", "route"), READ_BY_FASTAPI)
async def test_a_malformed_body_fastapi_reads_is_a_4xx(
    client: httpx.AsyncClient, method: str, route: str
) -> None:
    for answer in (await _answers(client, method, route)).values():
        _assert_plain_client_error(answer, 400, 422)


@pytest.mark.parametrize(
    ("route", "body"),
    [
        ("/api/sync/policies", b'{"folder": "\\ud800", "policy": "ask"}'),
        ("/api/sync/conflicts/1/resolve", b'{"resolution": "\\ud800"}'),
    ],
)
async def test_a_lone_surrogate_is_refused_not_a_500(
    client: httpx.AsyncClient, route: str, body: bytes
) -> None:
    """JSON may spell a lone surrogate, which UTF-8 cannot encode, in a file or an answer."""
    method = "PUT" if route.endswith("policies") else "POST"
    headers = {**ADMIN, "Content-Type": "application/json"}
    answer = await client.request(method, route, headers=headers, content=body)
    _assert_plain_client_error(answer, 422)
    assert "codec" not in answer.text  # a plain sentence, not the exception's text


@pytest.mark.parametrize(
    "conflict_id", ["14117753863996377088", "9223372036854775808", "-9223372036854775809"]
)
async def test_a_conflict_id_sqlite_cannot_hold_is_not_found(
    client: httpx.AsyncClient, conflict_id: str
) -> None:
    answer = await client.post(
        f"/api/sync/conflicts/{conflict_id}/resolve",
        headers=ALICE,
        json={"resolution": "keep_server"},
    )
    _assert_plain_client_error(answer, 404)


async def test_a_device_id_with_control_characters_reaches_the_nas_quoted(home: Home) -> None:
    """Awake, the id is forwarded as one quoted path segment, not as a URL httpx refuses."""
    await home.wake()
    async with home.pi() as pi:
        answer = await pi.get("/api/mobile/sync/folders/a%01b%0Ac", headers=home.token("alice"))
    assert answer.status_code == 200  # BaluHost lists no folders for a device it never saw
    assert answer.json() == []
