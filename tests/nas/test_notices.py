"""The NAS's lifecycle notices: signed over canonical JSON, fresh, unique, small, believed at once.

Unit tests drive the verifier with a ``ManualClock`` and known-answer vectors computed
independently (hashlib by hand, not BaluPi's helper). Integration tests run BaluPi under Uvicorn on
loopback: the NAS emulator sends its real notices to it, and hand-made requests (raw sockets for
the size limit) try to get bad ones in.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import stat
import time
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from pydantic import SecretStr

from balupi.app import create_app
from balupi.clock import Clock, ManualClock
from balupi.config import Settings
from balupi.db.models import NasState
from balupi.server import RunningServer, running_server
from balupi.services.container import Services
from balupi.services.nas.notices import (
    COMING_ONLINE_PATH,
    GOING_OFFLINE_PATH,
    NoticeRejected,
    NoticeTooLarge,
    NoticeVerifier,
    canonical_json,
    read_limited,
    sign_notice,
)
from balupi.sim.nas.server import NasEmulator, NasEmulatorConfig
from tests.nas.conftest import link_reaches

SECRET = "notice-secret-0123456789abcdef-0123456789"
FIXTURE = Path(__file__).resolve().parents[3] / "shared/fixtures/handshake/baluhost-notices.json"
DEADLINE = 10.0

# Known answers, computed once with hashlib/hmac by hand (see _independent_signature).
VECTOR_SECRET = "vector-secret-0123456789abcdef-0123456789"
VECTOR_BODY: dict[str, Any] = {
    "version": 1,
    "system": {"hostname": "nas", "ram_total_gb": 16},
    "users": {
        "total": 2,
        "list": [{"username": "Zoë", "role": "user"}, {"username": "admin", "role": "admin"}],
    },
    "ratio": 0.5,
    "ok": True,
    "none": None,
}
VECTOR_CANONICAL = (
    b'{"none":null,"ok":true,"ratio":0.5,"system":{"hostname":"nas","ram_total_gb":16},'
    b'"users":{"list":[{"role":"user","username":"Zo\\u00eb"},{"role":"admin","username":"admin"}],'
    b'"total":2},"version":1}'
)
VECTOR_OFFLINE_SIGNATURE = "bd13310b9ad4929b06e8bbf0e954ec12c3a869ef25f921ac874bb87a7d406b0e"
VECTOR_ONLINE_SIGNATURE = "f56f976dba4da6c35c8767affd6ee4c38cdc3d6b4bc8cb24c8934eff1d9b08b6"
VECTOR_RAW_SIGNATURE = "71a56780cb6fc5c0122984122d62b6ed2a01819f14b9d750b0c054cb462b1bf3"


def _independent_signature(secret: str, path: str, timestamp: str, signed: bytes) -> str:
    """docs/compat/nas-api.md §5.1's rule, written out so the tests do not trust BaluPi's helper."""
    message = f"POST:{path}:{timestamp}:{hashlib.sha256(signed).hexdigest()}"
    return hmac.new(secret.encode(), message.encode(), hashlib.sha256).hexdigest()


def _wire(body: dict[str, Any]) -> bytes:
    """httpx 0.27's ``json=`` bytes, which the real NAS sends: insertion order, spaces, ASCII."""
    return json.dumps(body).encode()


def _stamp(clock: Clock) -> str:
    return str(int(clock.now().timestamp()))


async def _chunks(*parts: bytes) -> AsyncIterator[bytes]:
    for part in parts:
        yield part


# -- the signing rule ------------------------------------------------------------------------------
def test_signing_matches_known_answers() -> None:
    assert canonical_json(VECTOR_BODY) == VECTOR_CANONICAL
    offline = sign_notice(VECTOR_SECRET, "POST", GOING_OFFLINE_PATH, "1700000000", VECTOR_BODY)
    online = sign_notice(VECTOR_SECRET, "post", COMING_ONLINE_PATH, "1700000001", None)
    assert offline == VECTOR_OFFLINE_SIGNATURE
    assert online == VECTOR_ONLINE_SIGNATURE
    assert offline == _independent_signature(
        VECTOR_SECRET, GOING_OFFLINE_PATH, "1700000000", VECTOR_CANONICAL
    )


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(datetime(2026, 11, 26, 21, 0, tzinfo=UTC))


@pytest.fixture
def verifier(clock: ManualClock) -> NoticeVerifier:
    return NoticeVerifier(VECTOR_SECRET, clock)


async def _verify(verifier: NoticeVerifier, signature: str, timestamp: str, body: bytes) -> Any:
    stamp = verifier.check_stamp(timestamp, signature)
    path = GOING_OFFLINE_PATH if body else COMING_ONLINE_PATH
    return await verifier.verify(stamp, method="POST", path=path, body=body)


async def test_the_wire_bytes_verify_under_the_canonical_rule(
    verifier: NoticeVerifier, clock: ManualClock
) -> None:
    clock.set(datetime.fromtimestamp(1700000000, UTC))
    notice = await _verify(verifier, VECTOR_OFFLINE_SIGNATURE, "1700000000", _wire(VECTOR_BODY))
    assert notice.signed_over == "canonical"
    assert notice.body == VECTOR_BODY
    assert (await _verify(verifier, VECTOR_ONLINE_SIGNATURE, "1700000001", b"")).body is None


async def test_any_encoding_of_the_same_json_verifies(
    verifier: NoticeVerifier, clock: ManualClock
) -> None:
    """httpx 0.28 sends compact, unsorted, non-ASCII JSON: the canonical rule does not care."""
    clock.set(datetime.fromtimestamp(1700000000, UTC))
    compact = json.dumps(VECTOR_BODY, separators=(",", ":"), ensure_ascii=False).encode()
    assert b"Zo\xc3\xab" in compact
    notice = await _verify(verifier, VECTOR_OFFLINE_SIGNATURE, "1700000000", compact)
    assert notice.signed_over == "canonical"


async def test_a_signature_over_the_raw_bytes_is_accepted_too(
    verifier: NoticeVerifier, clock: ManualClock
) -> None:
    clock.set(datetime.fromtimestamp(1700000000, UTC))
    raw = _wire(VECTOR_BODY)
    expected = _independent_signature(VECTOR_SECRET, GOING_OFFLINE_PATH, "1700000000", raw)
    assert expected == VECTOR_RAW_SIGNATURE
    notice = await _verify(verifier, VECTOR_RAW_SIGNATURE, "1700000000", raw)
    assert notice.signed_over == "raw"
    assert notice.body == VECTOR_BODY


@pytest.mark.parametrize(
    ("mutate", "reason"),
    [
        (lambda b: b.replace(b'"nas"', b'"evil"'), "a changed value"),
        (lambda b: b.replace(b'"total": 2', b'"total": 2, "extra": 1'), "an added key"),
        (lambda b: b"", "a dropped body"),
        (lambda b: b + b"x", "bytes that are not JSON"),
    ],
)
async def test_a_tampered_body_is_rejected(
    verifier: NoticeVerifier,
    clock: ManualClock,
    mutate: Callable[[bytes], bytes],
    reason: str,
) -> None:
    clock.set(datetime.fromtimestamp(1700000000, UTC))
    stamp = verifier.check_stamp("1700000000", VECTOR_OFFLINE_SIGNATURE)
    with pytest.raises(NoticeRejected, match="Invalid signature"):
        await verifier.verify(
            stamp, method="POST", path=GOING_OFFLINE_PATH, body=mutate(_wire(VECTOR_BODY))
        )


async def test_a_signature_is_bound_to_its_path_and_secret(clock: ManualClock) -> None:
    clock.set(datetime.fromtimestamp(1700000001, UTC))
    right = NoticeVerifier(VECTOR_SECRET, clock)
    stamp = right.check_stamp("1700000001", VECTOR_ONLINE_SIGNATURE)
    with pytest.raises(NoticeRejected):
        await right.verify(stamp, method="POST", path=GOING_OFFLINE_PATH, body=b"")
    wrong = NoticeVerifier("another-secret-0123456789abcdef-0123456", clock)
    with pytest.raises(NoticeRejected):
        await wrong.verify(stamp, method="POST", path=COMING_ONLINE_PATH, body=b"")


@pytest.mark.parametrize(
    ("timestamp", "signature", "message"),
    [
        (None, VECTOR_ONLINE_SIGNATURE, "Missing"),
        ("1700000001", None, "Missing"),
        ("1700000001.5", VECTOR_ONLINE_SIGNATURE, "Invalid X-Balupi-Timestamp"),
        ("-1", VECTOR_ONLINE_SIGNATURE, "Invalid X-Balupi-Timestamp"),
        ("1700000001", "zz" * 32, "Invalid signature"),
        ("1700000001", VECTOR_ONLINE_SIGNATURE[:-2], "Invalid signature"),
    ],
)
def test_malformed_headers_are_rejected_before_the_body_is_read(
    verifier: NoticeVerifier,
    clock: ManualClock,
    timestamp: str | None,
    signature: str | None,
    message: str,
) -> None:
    clock.set(datetime.fromtimestamp(1700000001, UTC))
    with pytest.raises(NoticeRejected, match=message):
        verifier.check_stamp(timestamp, signature)


@pytest.mark.parametrize(
    ("offset", "fresh"), [(-301, False), (-300, True), (300, True), (301, False)]
)
async def test_the_timestamp_must_lie_within_five_minutes(
    clock: ManualClock, offset: int, fresh: bool
) -> None:
    verifier = NoticeVerifier(SECRET, clock)
    timestamp = str(int(clock.now().timestamp()) + offset)
    signature = _independent_signature(SECRET, COMING_ONLINE_PATH, timestamp, b"")
    if not fresh:
        with pytest.raises(NoticeRejected, match="outside the allowed window"):
            verifier.check_stamp(timestamp, signature)
        return
    stamp = verifier.check_stamp(timestamp, signature)
    assert (await verifier.verify(stamp, method="POST", path=COMING_ONLINE_PATH, body=b"")).seconds


async def test_a_replay_is_refused_even_when_sent_concurrently(clock: ManualClock) -> None:
    verifier = NoticeVerifier(SECRET, clock)
    timestamp = _stamp(clock)
    signature = _independent_signature(SECRET, COMING_ONLINE_PATH, timestamp, b"")

    async def attempt() -> str:
        stamp = verifier.check_stamp(timestamp, signature)
        try:
            await verifier.verify(stamp, method="POST", path=COMING_ONLINE_PATH, body=b"")
        except NoticeRejected as exc:
            return str(exc)
        return "accepted"

    outcomes = await asyncio.gather(attempt(), attempt(), attempt())
    assert sorted(outcomes) == ["Notice already received (replay)"] * 2 + ["accepted"]
    clock.advance(299)
    assert await attempt() == "Notice already received (replay)"
    clock.advance(2)  # now stale: refused by the window, and forgotten by the cache
    with pytest.raises(NoticeRejected, match="window"):
        verifier.check_stamp(timestamp, signature)
    assert verifier.remembered == 0


async def test_a_notice_that_goes_stale_while_its_body_arrives_is_refused(
    clock: ManualClock,
) -> None:
    """Otherwise a replay trickled in slowly would outlive the cache entry of its original."""
    verifier = NoticeVerifier(SECRET, clock)
    timestamp = _stamp(clock)
    signature = _independent_signature(SECRET, COMING_ONLINE_PATH, timestamp, b"")
    stamp = verifier.check_stamp(timestamp, signature)
    clock.advance(301)  # the body took that long
    with pytest.raises(NoticeRejected, match="window"):
        await verifier.verify(stamp, method="POST", path=COMING_ONLINE_PATH, body=b"")


async def test_the_replay_cache_is_bounded(clock: ManualClock) -> None:
    verifier = NoticeVerifier(SECRET, clock, replay_capacity=3)
    for second in range(10):
        timestamp = str(int(clock.now().timestamp()) + second)
        signature = _independent_signature(SECRET, COMING_ONLINE_PATH, timestamp, b"")
        stamp = verifier.check_stamp(timestamp, signature)
        await verifier.verify(stamp, method="POST", path=COMING_ONLINE_PATH, body=b"")
        assert verifier.remembered <= 3
    assert verifier.remembered == 3


async def test_the_body_limit_is_enforced_while_reading() -> None:
    consumed: list[int] = []

    async def endless() -> AsyncIterator[bytes]:
        while True:
            consumed.append(1)
            yield b"x" * 1000

    with pytest.raises(NoticeTooLarge):
        await read_limited(endless(), 10_000, None)
    assert len(consumed) == 11  # stopped one chunk past the limit, not at the end of the stream
    consumed.clear()
    with pytest.raises(NoticeTooLarge):
        await read_limited(endless(), 10_000, declared=10_001)
    assert consumed == []  # Content-Length alone was enough
    assert await read_limited(_chunks(b"ab", b"cd"), 4, 4) == b"abcd"


@pytest.mark.skipif(not FIXTURE.exists(), reason="shared handshake fixture not present")
async def test_the_real_nas_notices_verify() -> None:
    """Both notices the real BaluHost sent, byte for byte, under a clock set to their time."""
    captured = json.loads(FIXTURE.read_text())
    for request in captured["requests"]:
        timestamp = request["headers"]["X-Balupi-Timestamp"]
        clock = ManualClock(datetime.fromtimestamp(int(timestamp), UTC))
        verifier = NoticeVerifier(captured["secret"], clock)
        body = base64.b64decode(request["body_base64"])
        stamp = verifier.check_stamp(timestamp, request["headers"]["X-Balupi-Signature"])
        notice = await verifier.verify(
            stamp, method=request["method"], path=request["path"], body=body
        )
        assert notice.signed_over == "canonical"
        if body:  # the trap: hashing the raw bytes would not have matched
            assert request["headers"]["X-Balupi-Signature"] != _independent_signature(
                captured["secret"], request["path"], timestamp, body
            )
            assert notice.body["users"]["list"][1]["username"] == "jürgen"
        clock.advance(301)
        with pytest.raises(NoticeRejected, match="window"):
            verifier.check_stamp(timestamp, request["headers"]["X-Balupi-Signature"])


# -- BaluPi on loopback ----------------------------------------------------------------------------
PiFactory = Callable[..., AbstractAsyncContextManager[tuple[RunningServer, Services]]]


@pytest.fixture
def pi(settings: Settings) -> PiFactory:
    """Starts BaluPi under Uvicorn on a free loopback port, with the handshake secret."""

    @asynccontextmanager
    async def start(
        *, clock: Clock | None = None, secret: str | None = SECRET
    ) -> AsyncIterator[tuple[RunningServer, Services]]:
        configured = settings.model_copy(
            update={"nas_handshake_secret": SecretStr(secret) if secret else None}
        )
        app: FastAPI = create_app(configured, clock=clock)
        async with running_server(app) as server:
            yield server, app.state.services

    return start


def _headers(timestamp: str, signature: str) -> dict[str, str]:
    return {
        "X-Balupi-Timestamp": timestamp,
        "X-Balupi-Signature": signature,
        "Content-Type": "application/json",
    }


class RecordingTransport(httpx.AsyncBaseTransport):
    """The emulator's notices pass through here on their way to the Pi, and are kept.

    Each request gets its own connection, read and closed here: the emulator closes the
    transport after every notice, so nothing pooled may outlive a request.
    """

    def __init__(self) -> None:
        self.sent: list[tuple[str, dict[str, str], bytes]] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        body = await request.aread()
        self.sent.append((str(request.url), dict(request.headers), body))
        async with httpx.AsyncHTTPTransport() as inner:
            response = await inner.handle_async_request(request)
            content = await response.aread()
        return httpx.Response(response.status_code, headers=response.headers, content=content)


async def test_the_emulated_nas_moves_the_pi_state_with_its_notices(
    pi: PiFactory, tmp_path: Path, admin_headers: dict[str, str]
) -> None:
    recorder = RecordingTransport()
    async with (
        pi() as (server, services),
        httpx.AsyncClient(base_url=server.url, headers=admin_headers) as http,
    ):
        assert (await http.get("/api/handshake/snapshot")).status_code == 404
        config = NasEmulatorConfig(
            storage=tmp_path / "nas",
            notify_url=server.url,
            handshake_secret=SECRET,
            # Over a second, so the second start-up notice has a new timestamp: a notice is
            # unique per (kind, second), and an identical one is refused as a replay.
            boot_seconds=1.1,
            wol_port=None,
        )
        async with NasEmulator(config, notice_transport=recorder) as nas:
            await link_reaches(services, NasState.ONLINE, DEADLINE)  # its start-up notice
            assert services.nas_link.snapshot.evidence.startswith("lifecycle notice: coming")

            await nas.shutdown()  # returns once the Pi has answered the going-offline notice
            assert services.nas_link.state is NasState.SHUTTING_DOWN
            snapshot = (await http.get("/api/handshake/snapshot")).json()
            assert snapshot["system"]["hostname"] == "baluhost"
            assert {u["username"] for u in snapshot["users"]["list"]} == {"admin", "maria"}
            status = (await http.get("/api/handshake/status")).json()
            assert status["nas_state"] == "shutting_down"
            assert status["last_snapshot_at"] is not None
            assert status["last_notice"]["kind"] == "going_offline"

            async with asyncio.timeout(DEADLINE):
                await nas.wake()  # a cold boot: the backend starts and says so
            await link_reaches(services, NasState.ONLINE, DEADLINE)
        assert services.nas_link.state is NasState.SHUTTING_DOWN  # leaving = graceful stop

        # The captured shutdown notice, sent again as it was: a replay.
        url, headers, body = next(sent for sent in recorder.sent if "going-offline" in sent[0])
        assert body.startswith(b'{"version": 1, ')  # the NAS's spaced, unsorted wire encoding
        replay = await http.post(url, content=body, headers=headers)
        assert replay.status_code == 401
        assert "replay" in replay.json()["detail"]


async def test_bad_notices_get_401_and_change_nothing(
    pi: PiFactory, admin_headers: dict[str, str]
) -> None:
    # A user's token is no substitute for a signature: every request here carries one.
    clock = ManualClock(datetime.now(UTC))
    async with (
        pi(clock=clock) as (server, services),
        httpx.AsyncClient(base_url=server.url, headers=admin_headers) as http,
    ):
        link = services.nas_link
        before = link.state
        now = _stamp(clock)
        good = _independent_signature(SECRET, COMING_ONLINE_PATH, now, b"")
        old = str(int(now) - 301)
        old_signed = _independent_signature(SECRET, COMING_ONLINE_PATH, old, b"")
        attempts = {
            "unsigned": {},
            "bad signature": _headers(now, "0" * 64),
            "wrong secret": _headers(
                now, _independent_signature("x" * 40, COMING_ONLINE_PATH, now, b"")
            ),
            "old timestamp": _headers(old, old_signed),
        }
        for name, headers in attempts.items():
            response = await http.post(COMING_ONLINE_PATH, headers=headers)
            assert response.status_code == 401, name
            assert isinstance(response.json()["detail"], str), name
        assert link.state is before

        accepted = await http.post(COMING_ONLINE_PATH, headers=_headers(now, good))
        assert accepted.status_code == 200
        assert accepted.json() == {
            "acknowledged": True,
            "nas_state": "online",
            "inbox_flushed": False,
            "files_transferred": 0,
            "dns_switched": False,
        }
        assert link.state is NasState.ONLINE
        replayed = await http.post(COMING_ONLINE_PATH, headers=_headers(now, good))
        assert replayed.status_code == 401

        clock.advance(60)
        later = _stamp(clock)
        snapshot = {"version": 1, "system": {"hostname": "nas", "uptime_seconds": float("nan")}}
        signed = _independent_signature(SECRET, GOING_OFFLINE_PATH, later, canonical_json(snapshot))
        offline = await http.post(
            GOING_OFFLINE_PATH, content=_wire(snapshot), headers=_headers(later, signed)
        )
        assert offline.status_code == 200
        assert offline.json()["snapshot_stored"] is True
        assert offline.json()["dns_switched"] is False
        assert link.state is NasState.SHUTTING_DOWN
        # NaN is legal for Python's JSON, not for a browser's: kept as null.
        stored = (await http.get("/api/handshake/snapshot")).json()
        assert stored["system"] == {"hostname": "nas", "uptime_seconds": None}


async def test_without_a_secret_every_notice_is_refused_with_503(
    pi: PiFactory, admin_headers: dict[str, str]
) -> None:
    async with (
        pi(secret=None) as (server, services),
        httpx.AsyncClient(base_url=server.url, headers=admin_headers) as http,
    ):
        timestamp = str(int(time.time()))
        signature = _independent_signature(SECRET, COMING_ONLINE_PATH, timestamp, b"")
        response = await http.post(COMING_ONLINE_PATH, headers=_headers(timestamp, signature))
        assert response.status_code == 503
        assert "NAS_HANDSHAKE_SECRET" in response.json()["detail"]
        assert services.nas_link.state is not NasState.ONLINE
        status = (await http.get("/api/handshake/status")).json()
        assert status["handshake_configured"] is False


async def _raw_exchange(server: RunningServer, request: bytes) -> tuple[int, bytes]:
    """Send ``request`` (headers and part of a body) and read the answer without sending more."""
    reader, writer = await asyncio.open_connection(server.host, server.port)
    try:
        writer.write(request)
        await writer.drain()
        async with asyncio.timeout(DEADLINE):
            head = await reader.readuntil(b"\r\n\r\n")
            status = int(head.split(b" ", 2)[1])
            length = next(
                int(line.split(b":", 1)[1])
                for line in head.split(b"\r\n")
                if line.lower().startswith(b"content-length:")
            )
            return status, await reader.readexactly(length)
    finally:
        writer.close()


def _request_head(path: str, headers: dict[str, str]) -> bytes:
    lines = [f"POST {path} HTTP/1.1", "Host: balupi", *(f"{k}: {v}" for k, v in headers.items())]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def _chunked(parts: Iterator[bytes]) -> bytes:
    return b"".join(b"%x\r\n%s\r\n" % (len(part), part) for part in parts)


async def test_an_oversized_body_is_refused_before_it_is_all_sent(pi: PiFactory) -> None:
    async with pi() as (server, _):
        timestamp = str(int(time.time()))
        signed = _headers(timestamp, "ab" * 32)

        # Content-Length says 10 MiB; only 1 KiB is ever sent, and the answer comes anyway.
        declared = _request_head(GOING_OFFLINE_PATH, {**signed, "Content-Length": "10485760"})
        status, body = await _raw_exchange(server, declared + b"{" + b" " * 1023)
        assert status == 413
        assert "larger than" in json.loads(body)["detail"]

        # Chunked without a length: refused after the limit, before the final chunk is sent.
        chunked_head = _request_head(GOING_OFFLINE_PATH, {**signed, "Transfer-Encoding": "chunked"})
        chunks = _chunked(b"x" * 16384 for _ in range(20))  # 320 KiB > 256 KiB, no last chunk
        status, _ = await _raw_exchange(server, chunked_head + chunks)
        assert status == 413

        # Unsigned: refused on the headers alone.
        unsigned = _request_head(GOING_OFFLINE_PATH, {"Content-Length": "10485760"})
        status, _ = await _raw_exchange(server, unsigned)
        assert status == 401


async def test_the_snapshot_survives_a_restart_in_a_private_file(
    pi: PiFactory, settings: Settings, admin_headers: dict[str, str]
) -> None:
    snapshot = {"version": 1, "system": {"hostname": "nas"}, "users": {"total": 0, "list": []}}
    async with pi() as (server, _), httpx.AsyncClient(base_url=server.url) as http:
        timestamp = str(int(time.time()))
        signature = sign_notice(SECRET, "POST", GOING_OFFLINE_PATH, timestamp, snapshot)
        response = await http.post(
            GOING_OFFLINE_PATH, content=_wire(snapshot), headers=_headers(timestamp, signature)
        )
        assert response.status_code == 200
    stored = settings.data_dir / "handshake" / "snapshot.json"
    assert stat.S_IMODE(stored.stat().st_mode) == 0o600
    assert list(stored.parent.iterdir()) == [stored]  # no temporary file left behind
    async with pi() as (server, services), httpx.AsyncClient(base_url=server.url) as http:
        assert (await http.get("/api/handshake/snapshot")).status_code == 401  # needs a user
        http.headers.update(admin_headers)
        assert (await http.get("/api/handshake/snapshot")).json() == snapshot
        assert services.nas_notices.nas_hostname() == "nas"
        status = (await http.get("/api/handshake/status")).json()
        assert status["last_snapshot"] == status["last_snapshot_at"] is not None
        assert status["inbox_files"] == 0
