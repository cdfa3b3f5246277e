"""KLAP on the wire: the emulator's crypto against python-kasa's, and its session rules."""

from __future__ import annotations

import json
import secrets
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from kasa import Credentials
from kasa.transports.klaptransport import KlapEncryptionSession, KlapTransportV2

from balupi.clock import ManualClock
from balupi.sim.plug import PlugConfig, PlugEmulator
from balupi.sim.plug.klap import (
    KlapCipher,
    KlapRejected,
    KlapSessions,
    auth_hash_v2,
    handshake1_proof,
    handshake2_proof,
)

USER, PASSWORD = "owner@example.com", "s3cret"


def test_hashes_match_python_kasa() -> None:
    local, remote = secrets.token_bytes(16), secrets.token_bytes(16)
    auth = auth_hash_v2(USER, PASSWORD)
    assert auth == KlapTransportV2.generate_auth_hash(Credentials(USER, PASSWORD))
    assert handshake1_proof(local, remote, auth) == KlapTransportV2.handshake1_seed_auth_hash(
        local, remote, auth
    )
    assert handshake2_proof(local, remote, auth) == KlapTransportV2.handshake2_seed_auth_hash(
        local, remote, auth
    )


def test_cipher_opens_what_python_kasa_seals_and_seals_what_it_opens() -> None:
    local, remote = secrets.token_bytes(16), secrets.token_bytes(16)
    auth = auth_hash_v2(USER, PASSWORD)
    client = KlapEncryptionSession(local, remote, auth)
    plug = KlapCipher(local, remote, auth)
    messages = (b"{}", b'{"method":"get_device_info"}' * 7, "ünïcode".encode())
    for number, message in enumerate(messages, start=1):
        payload, seq = client.encrypt(message)
        assert seq == plug.initial_seq + number  # both sides derive the same first seq
        assert plug.open(seq, payload) == message
        assert client.decrypt(plug.seal(seq, b'{"error_code":0}')) == '{"error_code":0}'


def test_tampered_request_is_refused() -> None:
    local, remote = secrets.token_bytes(16), secrets.token_bytes(16)
    auth = auth_hash_v2(USER, PASSWORD)
    payload, seq = KlapEncryptionSession(local, remote, auth).encrypt(b"{}")
    plug = KlapCipher(local, remote, auth)
    tampered = payload[:-1] + bytes([payload[-1] ^ 1])
    with pytest.raises(KlapRejected) as rejected:
        plug.open(seq, tampered)
    assert rejected.value.status == 403
    with pytest.raises(KlapRejected) as rejected:
        plug.open(seq + 1, payload)  # signed for another seq
    assert rejected.value.status == 403
    with pytest.raises(KlapRejected) as rejected:
        plug.open(seq, payload[:40])
    assert rejected.value.status == 400


def test_sessions_expire_by_the_injected_clock_and_are_bounded() -> None:
    clock = ManualClock()
    sessions = KlapSessions(USER, PASSWORD, clock=clock, timeout_s=60, max_sessions=2)
    first, _ = sessions.handshake1(secrets.token_bytes(16))
    sessions.handshake1(secrets.token_bytes(16))
    sessions.handshake1(secrets.token_bytes(16))
    assert len(sessions) == 2  # the oldest login made room
    with pytest.raises(KlapRejected):
        sessions.handshake2(first, b"x" * 32)
    clock.advance(60)
    assert len(sessions) == 0


# -- over HTTP -------------------------------------------------------------------------------


@dataclass
class RawKlap:
    """A hand-driven KLAP client, to send what python-kasa never would."""

    http: httpx.AsyncClient
    session_id: str = ""
    cipher: KlapCipher | None = None
    seq: int = 0

    async def handshake1(self) -> tuple[bytes, bytes, httpx.Response]:
        local = secrets.token_bytes(16)
        response = await self.http.post("/app/handshake1", content=local)
        self.session_id = response.headers["set-cookie"].split(";")[0].split("=", 1)[1]
        return local, response.content[:16], response

    async def handshake2(self, proof: bytes) -> httpx.Response:
        return await self.http.post("/app/handshake2", content=proof, headers=self.cookie)

    async def login(self, username: str = USER, password: str = PASSWORD) -> None:
        local, remote, _ = await self.handshake1()
        auth = auth_hash_v2(username, password)
        assert (await self.handshake2(handshake2_proof(local, remote, auth))).status_code == 200
        self.cipher = KlapCipher(local, remote, auth)
        self.seq = self.cipher.initial_seq

    @property
    def cookie(self) -> dict[str, str]:
        return {"Cookie": f"TP_SESSIONID={self.session_id}"}

    async def send(self, request: Any, *, seq: int | None = None) -> httpx.Response:
        assert self.cipher is not None
        if seq is None:
            self.seq += 1
            seq = self.seq
        body = self.cipher.seal(seq, json.dumps(request).encode())
        return await self.http.post(
            "/app/request", params={"seq": seq}, content=body, headers=self.cookie
        )

    async def call(self, method: str) -> dict[str, Any]:
        response = await self.send({"method": method})
        assert response.status_code == 200
        assert self.cipher is not None
        answer: dict[str, Any] = json.loads(self.cipher.open(self.seq, response.content))
        return answer


@pytest.fixture
async def klap() -> AsyncIterator[RawKlap]:
    config = PlugConfig(username=USER, password=PASSWORD, power="constant:12")
    async with (
        PlugEmulator(config) as plug,
        httpx.AsyncClient(base_url=plug.url) as http,
    ):
        yield RawKlap(http)


async def test_handshake1_answers_seed_proof_and_the_session_cookie(klap: RawKlap) -> None:
    local, remote, response = await klap.handshake1()
    assert response.status_code == 200
    assert len(response.content) == 48
    assert response.content[16:] == handshake1_proof(local, remote, auth_hash_v2(USER, PASSWORD))
    assert response.headers["set-cookie"] == f"TP_SESSIONID={klap.session_id};TIMEOUT=86400"
    assert len(klap.session_id) == 32


async def test_handshake1_needs_a_16_byte_seed(klap: RawKlap) -> None:
    response = await klap.http.post("/app/handshake1", content=b"short")
    assert response.status_code == 400


async def test_wrong_handshake2_proof_is_forbidden_and_ends_the_session(klap: RawKlap) -> None:
    local, remote, _ = await klap.handshake1()
    wrong = handshake2_proof(local, remote, auth_hash_v2(USER, "guess"))
    assert (await klap.handshake2(wrong)).status_code == 403
    right = handshake2_proof(local, remote, auth_hash_v2(USER, PASSWORD))
    assert (await klap.handshake2(right)).status_code == 403  # the session is gone


async def test_requests_need_a_confirmed_session(klap: RawKlap) -> None:
    local, remote, _ = await klap.handshake1()
    klap.cipher = KlapCipher(local, remote, auth_hash_v2(USER, PASSWORD))
    klap.seq = klap.cipher.initial_seq
    assert (await klap.send({"method": "get_device_info"})).status_code == 403
    klap.session_id = "0" * 32
    assert (await klap.send({"method": "get_device_info"})).status_code == 403


async def test_sequence_numbers_must_rise(klap: RawKlap) -> None:
    await klap.login()
    assert (await klap.call("get_current_power"))["result"] == {"current_power": 12}
    replayed = await klap.send({"method": "get_current_power"}, seq=klap.seq)
    assert replayed.status_code == 403
    assert (await klap.call("get_current_power"))["error_code"] == 0  # the session lives on


async def test_request_needs_a_seq(klap: RawKlap) -> None:
    await klap.login()
    response = await klap.http.post("/app/request", content=b"x" * 48, headers=klap.cookie)
    assert response.status_code == 400


async def test_only_the_klap_routes_exist(klap: RawKlap) -> None:
    assert (await klap.http.get("/app/handshake1")).status_code == 405
    assert (await klap.http.post("/app")).status_code == 404
