"""Input no plug could ever match gets a 4xx with ``detail``, never a 500 (issue 11, finding 13).

Ids beyond SQLite's 64-bit integers cannot be bound to a query (``OverflowError``); hosts no URL
can hold (bad IDNA, ``\\``, ``[``, a port in the host) cannot be connected to (``ValueError``,
``UnicodeError``). Both are the caller's mistake, answered before anything is looked up.
"""

from __future__ import annotations

import httpx
import pytest

from balupi.services.tapo.client import PlugAddress

BEYOND_SQLITE = 14117753863996377088  # > 2**63 - 1, the largest SQLite INTEGER


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", f"/api/tapo/devices/{BEYOND_SQLITE}"),
        ("GET", f"/api/tapo/devices/-{BEYOND_SQLITE}"),
        ("PUT", f"/api/tapo/devices/{BEYOND_SQLITE}"),
        ("DELETE", f"/api/tapo/devices/{BEYOND_SQLITE}"),
        ("POST", f"/api/tapo/devices/{BEYOND_SQLITE}/toggle"),
    ],
)
async def test_an_id_beyond_sqlite_integers_is_refused(
    client: httpx.AsyncClient, admin_headers: dict[str, str], method: str, path: str
) -> None:
    json = {"name": "lamp"} if method == "PUT" else None
    response = await client.request(method, path, headers=admin_headers, json=json)
    assert response.status_code == 422, response.text
    assert "device_id" in str(response.json()["detail"])


@pytest.mark.parametrize(
    "host",
    [
        "a\\b",  # backslash in the authority
        "[",  # half an IPv6 literal
        "[::1",
        "plug:99999",  # a port out of range, in the host
        "plug:x",  # a port that is no number
        "plug.local:80",  # a port belongs in "port"
        "ä" * 70,  # an IDNA label over 63 bytes
        "a..b",  # an empty label
        "xn--ü",  # not IDNA at all
        "plug lamp",  # a space
        "::1",  # IPv6: python-kasa writes it into a URL unbracketed
    ],
)
async def test_a_host_no_plug_can_have_is_a_422_with_a_sentence(
    client: httpx.AsyncClient, admin_headers: dict[str, str], host: str
) -> None:
    response = await client.post("/api/tapo/devices", headers=admin_headers, json={"host": host})
    assert response.status_code == 422, response.text
    detail = response.json()["detail"]
    assert isinstance(detail, str)
    assert detail.startswith("Not a plug address:"), detail
    assert "Error" not in detail  # a sentence, not an exception's text


@pytest.mark.parametrize("host", ["127.0.0.1", "plug-1.fritz.box", "küche.lan", "lamp_2", "p."])
def test_hosts_a_plug_can_have_pass(host: str) -> None:
    assert PlugAddress.checked(host, 9999).host == host
