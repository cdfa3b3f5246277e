"""The SMART methods a Tapo P110/P115 answers, in the shapes and units real plugs use.

What python-kasa asks on ``Device.connect`` + ``update()``: ``component_nego``,
``get_device_info`` and ``get_connect_cloud_state`` first, then per update the queries of the
modules the advertised components enable: ``get_device_info`` + ``get_device_usage`` (device v2),
``get_device_time`` (time), ``get_connect_cloud_state`` (cloud_connect) and ``get_energy_usage``,
``get_current_power``, ``get_emeter_data``, ``get_emeter_vgain_igain`` (energy_monitoring v2),
batched in ``multipleRequest``s of five. ``set_device_info`` switches the relay or renames.

Only those components are advertised, so python-kasa never asks for features this emulator
does not have. Units, as the reference captures show:

- ``get_energy_usage``: ``current_power`` in **mW** (python-kasa prefers it), ``today_energy`` /
  ``month_energy`` in Wh, ``today_runtime`` / ``month_runtime`` in minutes, ``local_time`` as
  ``YYYY-MM-DD HH:MM:SS`` in the plug's timezone.
- ``get_current_power``: ``current_power`` in whole **W**.
- ``get_emeter_data``: ``power_mw``, ``voltage_mv``, ``current_ma``, ``energy_wh`` (today's).
  Older captures lack it only because the capture tool did not ask yet; python-kasa requires it
  for energy_monitoring v2 (an error there disables its Energy module), and P110 firmware 1.3.1
  answers it.
- ``get_device_usage``: ``time_usage`` in minutes, ``power_usage`` in Wh, for ``today`` /
  ``past7`` / ``past30`` (today included); ``saved_power`` is ``time_usage - power_usage``, the
  firmware's odd arithmetic as every capture shows it (floored at 0 here).
- ``nickname`` and ``ssid`` are base64; ``time_diff`` is the zone's standard UTC offset in
  minutes.

Errors are the codes python-kasa knows: ``-1002`` (UNKNOWN_METHOD_ERROR) for a method this plug
does not have, which python-kasa treats as "optional, not supported"; ``-1008`` (PARAMS_ERROR)
for bad parameters; ``-1003`` (JSON_DECODE_FAIL_ERROR) for a body that is not a JSON request. A
``multipleRequest`` stops at the first failing request, as real devices do (python-kasa then
asks for the rest one by one).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import IntEnum
from typing import Any, Literal

from balupi.sim.plug.device import PlugDevice

Model = Literal["P110", "P115"]
JsonDict = dict[str, Any]


class SmartError(IntEnum):
    SUCCESS = 0
    UNKNOWN_METHOD = -1002
    JSON_DECODE_FAIL = -1003
    PARAMS = -1008


# (firmware, hardware) per model, as the reference captures report them.
_FIRMWARE: dict[Model, tuple[str, str]] = {
    "P110": ("1.3.0 Build 230905 Rel.152200", "1.0"),
    "P115": ("1.2.3 Build 230425 Rel.142542", "1.0"),
}

COMPONENTS: tuple[tuple[str, int], ...] = (
    ("device", 2),
    ("time", 1),
    ("cloud_connect", 1),
    ("energy_monitoring", 2),
)


def normalize_mac(mac: str) -> str:
    """``aa:bb:cc:dd:ee:ff`` or ``AA-BB-…`` to the plug's ``AA-BB-CC-DD-EE-FF``."""
    parts = mac.replace(":", "-").upper().split("-")
    if len(parts) != 6 or not all(len(p) == 2 and _is_hex(p) for p in parts):
        raise ValueError(f"MAC address {mac!r} is not six hex pairs")
    return "-".join(parts)


def _is_hex(text: str) -> bool:
    try:
        int(text, 16)
    except ValueError:
        return False
    return True


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def _hex_id(seed: str, length: int) -> str:
    """A stable uppercase hex id: the same MAC always gives the same device_id."""
    return hashlib.sha256(seed.encode()).hexdigest().upper()[:length]


@dataclass
class PlugIdentity:
    """What the plug says about itself; ``alias`` changes with ``set_device_info``."""

    model: Model
    mac: str
    alias: str
    ip: str
    ssid: str = "balupi-sim"

    def __post_init__(self) -> None:
        if self.model not in _FIRMWARE:
            raise ValueError(f"model {self.model!r} is not one of {', '.join(_FIRMWARE)}")
        self.mac = normalize_mac(self.mac)

    @property
    def device_id(self) -> str:
        return _hex_id(f"device:{self.mac}", 40)


Handler = Callable[[JsonDict], Awaitable[JsonDict | None]]


class _Failed(Exception):
    def __init__(self, code: SmartError) -> None:
        super().__init__(code.name)
        self.code = code


class SmartApi:
    """Answers decrypted SMART requests (``{"method": …, "params": …}``) for one plug."""

    def __init__(self, device: PlugDevice, identity: PlugIdentity) -> None:
        self.device = device
        self.identity = identity
        self._handlers: dict[str, Handler] = {
            "component_nego": self._component_nego,
            "get_device_info": self._get_device_info,
            "get_device_usage": self._get_device_usage,
            "get_device_time": self._get_device_time,
            "get_connect_cloud_state": self._get_connect_cloud_state,
            "get_energy_usage": self._get_energy_usage,
            "get_current_power": self._get_current_power,
            "get_emeter_data": self._get_emeter_data,
            "get_emeter_vgain_igain": self._get_emeter_vgain_igain,
            "set_device_info": self._set_device_info,
        }

    @property
    def methods(self) -> frozenset[str]:
        return frozenset([*self._handlers, "multipleRequest"])

    async def handle_bytes(self, body: bytes) -> bytes:
        """One decrypted request body in, one response body out (both JSON)."""
        try:
            request = json.loads(body)
        except (UnicodeDecodeError, json.JSONDecodeError):
            return _encode({"error_code": SmartError.JSON_DECODE_FAIL})
        if not isinstance(request, dict) or not isinstance(request.get("method"), str):
            return _encode({"error_code": SmartError.JSON_DECODE_FAIL})
        return _encode(await self.handle(request))

    async def handle(self, request: Mapping[str, Any]) -> JsonDict:
        method = request.get("method")
        params = request.get("params")
        if method == "multipleRequest":
            return await self._multiple(params)
        return await self._call(method, params)

    async def _call(self, method: Any, params: Any) -> JsonDict:
        handler = self._handlers.get(method) if isinstance(method, str) else None
        if handler is None:
            return {"error_code": SmartError.UNKNOWN_METHOD}
        if params is not None and not isinstance(params, dict):
            return {"error_code": SmartError.PARAMS}
        try:
            result = await handler(params or {})
        except _Failed as failure:
            return {"error_code": failure.code}
        if result is None:  # set_* methods answer without a result
            return {"error_code": SmartError.SUCCESS}
        return {"error_code": SmartError.SUCCESS, "result": result}

    async def _multiple(self, params: Any) -> JsonDict:
        requests = params.get("requests") if isinstance(params, dict) else None
        if not isinstance(requests, list):
            return {"error_code": SmartError.PARAMS}
        responses: list[JsonDict] = []
        for item in requests:
            method = item.get("method") if isinstance(item, dict) else None
            answer = await self._call(method, item.get("params") if method else None)
            responses.append({"method": method, **answer})
            if answer["error_code"] != SmartError.SUCCESS:
                break  # real devices stop at the first failure
        return {"error_code": SmartError.SUCCESS, "result": {"responses": responses}}

    # -- time -------------------------------------------------------------------------------

    def _local_now(self) -> datetime:
        return self.device.advance().astimezone(self.device.ledger.tz)

    def _time_fields(self) -> JsonDict:
        local = self._local_now()
        standard = (local.utcoffset() or timedelta()) - (local.dst() or timedelta())
        return {
            "region": self.device.ledger.tz.key,
            "time_diff": int(standard.total_seconds() // 60),
        }

    # -- handlers ---------------------------------------------------------------------------

    async def _component_nego(self, params: JsonDict) -> JsonDict:
        return {"component_list": [{"id": name, "ver_code": ver} for name, ver in COMPONENTS]}

    async def _get_device_info(self, params: JsonDict) -> JsonDict:
        ident = self.identity
        firmware, hardware = _FIRMWARE[ident.model]
        return {
            "auto_off_remain_time": 0,
            "auto_off_status": "off",
            "avatar": "plug",
            "default_states": {"state": {}, "type": "last_states"},
            "device_id": ident.device_id,
            "device_on": self.device.is_on,
            "fw_id": _hex_id(f"fw:{ident.model}:{firmware}", 32),
            "fw_ver": firmware,
            "has_set_location_info": False,
            "hw_id": _hex_id(f"hw:{ident.model}:{hardware}", 32),
            "hw_ver": hardware,
            "ip": ident.ip,
            "lang": "en_US",
            "latitude": 0,
            "longitude": 0,
            "mac": ident.mac,
            "model": ident.model,
            "nickname": _b64(ident.alias),
            "oem_id": _hex_id(f"oem:{ident.model}", 32),
            "on_time": self.device.on_seconds,
            "overcurrent_status": "normal",
            "overheated": False,
            "power_protection_status": "normal",
            "rssi": -45,
            "signal_level": 3,
            "specs": "",
            "ssid": _b64(ident.ssid),
            "type": "SMART.TAPOPLUG",
            **self._time_fields(),
        }

    async def _get_device_usage(self, params: JsonDict) -> JsonDict:
        windows = {
            "today": self.device.today(),
            "past7": self.device.past_days(7),
            "past30": self.device.past_days(30),
        }
        return {
            "time_usage": {k: u.runtime_min for k, u in windows.items()},
            "power_usage": {k: u.energy_wh for k, u in windows.items()},
            "saved_power": {k: max(0, u.runtime_min - u.energy_wh) for k, u in windows.items()},
        }

    async def _get_device_time(self, params: JsonDict) -> JsonDict:
        return {"timestamp": int(self.device.advance().timestamp()), **self._time_fields()}

    async def _get_connect_cloud_state(self, params: JsonDict) -> JsonDict:
        return {"status": 1}  # not connected: an emulator talks to no cloud

    async def _get_energy_usage(self, params: JsonDict) -> JsonDict:
        today, month = self.device.today(), self.device.this_month()
        return {
            "current_power": round(self.device.power_w * 1000),
            "electricity_charge": [0, 0, 0],
            "local_time": self._local_now().strftime("%Y-%m-%d %H:%M:%S"),
            "month_energy": month.energy_wh,
            "month_runtime": month.runtime_min,
            "today_energy": today.energy_wh,
            "today_runtime": today.runtime_min,
        }

    async def _get_current_power(self, params: JsonDict) -> JsonDict:
        return {"current_power": round(self.device.power_w)}

    async def _get_emeter_data(self, params: JsonDict) -> JsonDict:
        return {
            "current_ma": round(self.device.current_a * 1000),
            "energy_wh": self.device.today().energy_wh,
            "power_mw": round(self.device.power_w * 1000),
            "voltage_mv": round(self.device.voltage_v * 1000),
        }

    async def _get_emeter_vgain_igain(self, params: JsonDict) -> JsonDict:
        # Calibration constants of the metering chip; fixed, plausible values.
        return {"igain": 11437, "vgain": 127146}

    async def _set_device_info(self, params: JsonDict) -> None:
        on = params.get("device_on")
        nickname = params.get("nickname")
        if (on is None and nickname is None) or (on is not None and not isinstance(on, bool)):
            raise _Failed(SmartError.PARAMS)
        alias = _decode_nickname(nickname) if nickname is not None else None
        if alias is not None:
            self.identity.alias = alias
        if on is not None:
            await self.device.set_on(on)


def _decode_nickname(value: Any) -> str:
    if not isinstance(value, str):
        raise _Failed(SmartError.PARAMS)
    try:
        return base64.b64decode(value, validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        raise _Failed(SmartError.PARAMS) from None


def _encode(document: JsonDict) -> bytes:
    return json.dumps(document, separators=(",", ":")).encode()
