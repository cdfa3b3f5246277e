"""Discovery: python-kasa's real UDP discovery, answered on loopback for an emulated plug.

The plug emulator speaks KLAP over HTTP but has no UDP discovery, so each test runs a small
responder that answers python-kasa's discovery query on port 20002 the way a Tapo plug does (a
16-byte header and the JSON ``result`` with type, model, MAC and ``mgt_encrypt_schm``, whose
``http_port`` points at the emulator). Everything after the answer is unmodified python-kasa and
BaluPi: parsing, the KLAP login, the first reading, the upsert by MAC, the cached parameters.

Each test takes its own loopback address (``127.x.y.z``) so parallel runs never share port
20002, and the broadcast is sent to that address only: nothing leaves the machine.
"""

from __future__ import annotations

import asyncio
import errno
import functools
import json
import random
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import cast

import pytest

from balupi.services.tapo import PlugAddress, PlugState, TapoService
from balupi.sim.plug import PlugEmulator
from tests.tapo.conftest import PlugFactory, ServiceFactory, mac

DISCOVERY_PORT = 20002


@dataclass
class Answer:
    mac: str
    http_port: int
    model: str = "P110(EU)"


class _Responder(asyncio.DatagramProtocol):
    def __init__(self, host: str) -> None:
        self.host = host
        self.answer: Answer | None = None
        self.queries = 0
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.DatagramTransport, transport)

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        self.queries += 1
        if self.answer is None or self.transport is None:
            return
        result = {
            "device_id": "0" * 32,
            "device_model": self.answer.model,
            "device_type": "SMART.TAPOPLUG",
            "ip": self.host,
            "mac": self.answer.mac.replace(":", "-"),
            "mgt_encrypt_schm": {
                "encrypt_type": "KLAP",
                "http_port": self.answer.http_port,
                "is_support_https": False,
                "lv": 2,
            },
        }
        header = bytes.fromhex("02000001") + bytes(12)
        self.transport.sendto(
            header + json.dumps({"error_code": 0, "result": result}).encode(), addr
        )


@pytest.fixture
async def responder() -> AsyncIterator[_Responder]:
    """A discovery responder on a loopback address of its own."""
    loop = asyncio.get_running_loop()
    for _ in range(20):
        host = f"127.{random.randint(1, 254)}.{random.randint(0, 255)}.{random.randint(1, 254)}"
        try:
            transport, protocol = await loop.create_datagram_endpoint(
                functools.partial(_Responder, host), local_addr=(host, DISCOVERY_PORT)
            )
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                continue
            raise
        yield protocol
        transport.close()
        return
    pytest.skip("no free loopback address for a discovery responder")


async def _plug_at(
    plugs: PlugFactory, responder: _Responder, n: int, **options: object
) -> PlugEmulator:
    plug = await plugs(n, host=responder.host, **options)
    responder.answer = Answer(mac=mac(n), http_port=plug.port)
    return plug


async def test_a_discovered_plug_is_added_with_its_mac(
    tapo: TapoService, plugs: PlugFactory, responder: _Responder
) -> None:
    plug = await _plug_at(plugs, responder, 1, alias="Found me", power="constant:7")

    (entry,) = await tapo.discover(responder.host, wait_s=2)

    assert responder.queries >= 1
    assert entry.error is None
    assert entry.created
    assert entry.mac == mac(1)
    assert entry.device is not None
    record = entry.device.record
    assert (record.name, record.address) == ("Found me", PlugAddress(responder.host))
    assert record.connection_params is not None
    assert record.connection_params["connection_type"]["http_port"] == plug.port
    assert entry.device.live.state is PlugState.OK
    # Polled from now on through the cached parameters (the row has no port of its own).
    (result,) = await tapo.poll_round()
    assert result.reading is not None
    assert result.reading.power_mw == 7000


async def test_rediscovering_a_moved_plug_updates_the_same_device(
    tapo: TapoService, plugs: PlugFactory, responder: _Responder
) -> None:
    await _plug_at(plugs, responder, 1)
    (first,) = await tapo.discover(responder.host, wait_s=2)
    assert first.device is not None

    moved = await _plug_at(plugs, responder, 1)  # same MAC, listening elsewhere now
    (again,) = await tapo.discover(responder.host, wait_s=2)

    assert again.device is not None
    assert not again.created
    assert again.device.record.id == first.device.record.id
    params = again.device.record.connection_params
    assert params is not None
    assert params["connection_type"]["http_port"] == moved.port
    assert len(await tapo.devices()) == 1


async def test_a_discovered_plug_refusing_the_account_is_reported_not_added(
    services: ServiceFactory, plugs: PlugFactory, responder: _Responder
) -> None:
    await _plug_at(plugs, responder, 1, password="bound to someone else")
    tapo = await services()

    (entry,) = await tapo.discover(responder.host, wait_s=2)

    assert entry.device is None
    assert entry.mac == mac(1)
    assert entry.error is not None
    assert "refused the Tapo credentials" in entry.error
    assert await tapo.devices() == []
