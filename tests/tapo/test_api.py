"""``/api/tapo/*`` and ``/api/energy/current|alerts`` over HTTP, against emulated plugs."""

from __future__ import annotations

import httpx
import pytest
from fastapi import FastAPI

from balupi.services.container import Services
from balupi.sim.plug import PlugEmulator
from tests.tapo.conftest import PlugFactory, mac

Headers = dict[str, str]


def _services(app: FastAPI) -> Services:
    services: Services = app.state.services
    return services


async def _add(client: httpx.AsyncClient, headers: Headers, plug: PlugEmulator) -> int:
    response = await client.post(
        "/api/tapo/devices", json={"host": plug.host, "port": plug.port}, headers=headers
    )
    assert response.status_code in (200, 201), response.text
    device_id: int = response.json()["id"]
    return device_id


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/api/tapo/devices"),
        ("GET", "/api/tapo/devices/1"),
        ("GET", "/api/energy/current"),
        ("GET", "/api/energy/alerts"),
    ],
)
async def test_reading_needs_a_login(client: httpx.AsyncClient, method: str, path: str) -> None:
    response = await client.request(method, path)
    assert response.status_code == 401


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("POST", "/api/tapo/devices", {"host": "127.0.0.1", "port": 9}),
        ("PUT", "/api/tapo/devices/1", {"name": "x"}),
        ("DELETE", "/api/tapo/devices/1", None),
        ("POST", "/api/tapo/devices/1/toggle", None),
        ("POST", "/api/tapo/devices/discover", None),
    ],
)
async def test_changing_needs_an_admin(
    client: httpx.AsyncClient,
    user_headers: Headers,
    method: str,
    path: str,
    body: dict[str, object] | None,
) -> None:
    anonymous = await client.request(method, path, json=body)
    as_user = await client.request(method, path, json=body, headers=user_headers)

    assert anonymous.status_code == 401
    assert as_user.status_code == 403


async def test_add_list_update_and_delete(
    client: httpx.AsyncClient,
    admin_headers: Headers,
    user_headers: Headers,
    plugs: PlugFactory,
) -> None:
    plug = await plugs(1, alias="Monitor plug", power="constant:25")

    added = await client.post(
        "/api/tapo/devices", json={"host": plug.host, "port": plug.port}, headers=admin_headers
    )
    assert added.status_code == 201
    body = added.json()
    assert body["created"] is True
    assert (body["mac"], body["name"], body["role"]) == (mac(1), "Monitor plug", "generic")
    assert body["live"]["power_w"] == 25.0
    assert body["status"] == "ok"
    assert "device_config" not in body

    again = await client.post(
        "/api/tapo/devices", json={"host": plug.host, "port": plug.port}, headers=admin_headers
    )
    assert again.status_code == 200
    assert again.json()["created"] is False
    assert again.json()["id"] == body["id"]

    device_id = body["id"]
    updated = await client.put(
        f"/api/tapo/devices/{device_id}",
        json={
            "name": "NAS",
            "role": "nas",
            "thresholds": {"off_below_w": 2, "standby_below_w": 10, "idle_below_w": 50},
            "power_limit_w": 150,
        },
        headers=admin_headers,
    )
    assert updated.status_code == 200, updated.text
    assert updated.json()["thresholds"] == {
        "off_below_w": 2.0,
        "standby_below_w": 10.0,
        "idle_below_w": 50.0,
    }
    assert updated.json()["power_limit_w"] == 150.0

    listed = await client.get("/api/tapo/devices", headers=user_headers)
    assert [(d["id"], d["name"], d["role"]) for d in listed.json()["devices"]] == [
        (device_id, "NAS", "nas")
    ]

    deleted = await client.delete(f"/api/tapo/devices/{device_id}", headers=admin_headers)
    assert deleted.json() == {"deleted": device_id}
    missing = await client.get(f"/api/tapo/devices/{device_id}", headers=user_headers)
    assert missing.status_code == 404
    assert missing.json() == {"detail": f"no plug with id {device_id}", "code": "plug_not_found"}


async def test_bad_settings_are_refused(
    client: httpx.AsyncClient, admin_headers: Headers, plugs: PlugFactory
) -> None:
    first = await _add(client, admin_headers, await plugs(1))
    second = await _add(client, admin_headers, await plugs(2))

    falling = await client.put(
        f"/api/tapo/devices/{first}",
        json={"thresholds": {"off_below_w": 20, "standby_below_w": 10, "idle_below_w": 50}},
        headers=admin_headers,
    )
    assert falling.status_code == 422
    assert "must rise" in falling.text

    await client.put(f"/api/tapo/devices/{first}", json={"role": "nas"}, headers=admin_headers)
    second_nas = await client.put(
        f"/api/tapo/devices/{second}", json={"role": "nas"}, headers=admin_headers
    )
    assert second_nas.status_code == 409
    assert "already the NAS plug" in second_nas.json()["detail"]


async def test_a_plug_refusing_the_account_is_a_bad_gateway(
    client: httpx.AsyncClient, admin_headers: Headers, plugs: PlugFactory
) -> None:
    plug = await plugs(1, password="not ours")

    response = await client.post(
        "/api/tapo/devices", json={"host": plug.host, "port": plug.port}, headers=admin_headers
    )

    assert response.status_code == 502
    assert response.json() == {
        "detail": f"the plug at {plug.host}:{plug.port} refused the Tapo credentials",
        "code": "plug_auth_failed",
    }


async def test_toggle_as_admin_and_the_nas_rule(
    client: httpx.AsyncClient,
    app: FastAPI,
    admin_headers: Headers,
    user_headers: Headers,
    plugs: PlugFactory,
) -> None:
    monitor_plug, nas_plug = await plugs(1), await plugs(2)
    monitor = await _add(client, admin_headers, monitor_plug)
    nas = await _add(client, admin_headers, nas_plug)
    await client.put(f"/api/tapo/devices/{nas}", json={"role": "nas"}, headers=admin_headers)
    await _services(app).nas_link.report_coming_online("test: health answered")

    switched = await client.post(f"/api/tapo/devices/{monitor}/toggle", headers=admin_headers)
    assert switched.status_code == 200
    assert switched.json()["live"]["is_on"] is False
    assert not monitor_plug.is_on
    as_user = await client.post(f"/api/tapo/devices/{monitor}/toggle", headers=user_headers)
    assert as_user.status_code == 403
    assert not monitor_plug.is_on

    refused = await client.post(f"/api/tapo/devices/{nas}/toggle", headers=admin_headers)
    assert refused.status_code == 409
    assert refused.json()["detail"].startswith("the NAS is online: switching its plug off")
    assert nas_plug.is_on

    forced = await client.post(
        f"/api/tapo/devices/{nas}/toggle", params={"force": "true"}, headers=admin_headers
    )
    assert forced.status_code == 200
    assert not nas_plug.is_on
    on_again = await client.post(
        f"/api/tapo/devices/{nas}/toggle", json={"on": True}, headers=admin_headers
    )
    assert on_again.json()["live"]["is_on"] is True


async def test_current_power_in_the_pi_dashboard_shape(
    client: httpx.AsyncClient,
    admin_headers: Headers,
    user_headers: Headers,
    plugs: PlugFactory,
) -> None:
    await _add(client, admin_headers, await plugs(1, power="constant:40", alias="NAS"))
    await _add(client, admin_headers, await plugs(2, power="constant:12.5", alias="Monitor"))

    response = await client.get("/api/energy/current", headers=user_headers)

    assert response.status_code == 200
    body = response.json()
    assert body["total_power_w"] == 52.5
    assert body["timestamp"].endswith("Z")
    first = body["devices"][0]
    assert {k: first[k] for k in ("name", "power_w", "voltage_v", "current_a")} == {
        "name": "NAS",
        "power_w": 40.0,
        "voltage_v": 230.0,
        "current_a": round(40 / 230, 3),
    }
    assert first["online"] is True
    assert first["status"] == "ok"
    assert first["measured_at"].endswith("Z")
    assert isinstance(first["device_id"], int)


async def test_alerts_are_listed(
    client: httpx.AsyncClient,
    app: FastAPI,
    admin_headers: Headers,
    user_headers: Headers,
    plugs: PlugFactory,
) -> None:
    device_id = await _add(client, admin_headers, await plugs(1, power="constant:40"))
    await client.put(
        f"/api/tapo/devices/{device_id}", json={"power_limit_w": 30}, headers=admin_headers
    )
    await _services(app).tapo.poll_round()

    response = await client.get("/api/energy/alerts", headers=user_headers)

    (alert,) = response.json()["alerts"]
    assert alert["kind"] == "power_over_limit"
    assert alert["device_id"] == device_id
    assert alert["active"] is True
    assert alert["cleared_at"] is None
    assert alert["message"] == "40.0 W is above the limit of 30.0 W"


async def test_discovery_answers_with_what_it_found(
    client: httpx.AsyncClient, admin_headers: Headers
) -> None:
    # Nothing answers python-kasa's broadcast on this loopback address (see test_discovery.py
    # for plugs that do).
    response = await client.post(
        "/api/tapo/devices/discover",
        json={"target": "127.0.0.1", "timeout_s": 1},
        headers=admin_headers,
    )

    assert response.status_code == 200
    assert response.json() == {"found": []}
