"""BaluHost's lifecycle notices to a BaluPi, signed and sent exactly as the real NAS does.

docs/compat/nas-api.md §5.1: at the end of start-up the NAS POSTs
``/api/handshake/nas-coming-online`` with no body; at a graceful shutdown it POSTs
``/api/handshake/nas-going-offline`` with a snapshot. Both carry ``X-Balupi-Timestamp`` (Unix
seconds) and ``X-Balupi-Signature`` = hex HMAC-SHA256 over ``METHOD:path:timestamp:sha256(body)``,
where the body hash is taken over *canonical* JSON (sorted keys, no spaces, ASCII) while the bytes
on the wire are httpx 0.27's default encoding (insertion order, ``", "`` and ``": "``). A receiver
that hashes the raw bytes rejects every shutdown notice; the emulator reproduces that trap on
purpose. Failures are only logged: nothing retries.

The signing rule itself is BaluPi's own (``balupi.services.nas.notices``), one implementation for
sender and receiver; the tests check both against the real NAS's captured notices.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx

from balupi.services.nas.notices import (
    COMING_ONLINE_PATH,
    GOING_OFFLINE_PATH,
    sign_notice,
)
from balupi.sim.nas.health import CPU_MODEL, MEMORY_TOTAL_BYTES
from balupi.sim.nas.state import EmulatedNas
from balupi.sim.nas.timestamps import iso_z

log = logging.getLogger(__name__)

COMING_ONLINE_TIMEOUT = 5.0
GOING_OFFLINE_TIMEOUT = 10.0


def wire_json(body: Mapping[str, Any]) -> bytes:
    """The bytes BaluHost puts on the wire: httpx 0.27's ``json=`` encoding (``json.dumps``)."""
    return json.dumps(body).encode()


class LifecycleNotifier:
    """Sends the two notices to one BaluPi base URL, signed with the shared secret."""

    def __init__(
        self,
        base_url: str,
        secret: str,
        *,
        clock: Callable[[], float] = time.time,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self._secret = secret
        self._clock = clock
        self._transport = transport

    async def coming_online(self) -> bool:
        """The backend has started; True if the Pi acknowledged."""
        return await self._send(COMING_ONLINE_PATH, None, COMING_ONLINE_TIMEOUT)

    async def going_offline(self, snapshot: Mapping[str, Any]) -> bool:
        """The backend is shutting down; True if the Pi acknowledged."""
        return await self._send(GOING_OFFLINE_PATH, snapshot, GOING_OFFLINE_TIMEOUT)

    async def _send(self, path: str, body: Mapping[str, Any] | None, seconds: float) -> bool:
        url = self.base_url + path
        timestamp = str(int(self._clock()))
        # The signed path is the URL's path only, whatever prefix the base URL carries.
        signed_path = urlsplit(url).path
        headers = {
            "X-Balupi-Timestamp": timestamp,
            "X-Balupi-Signature": sign_notice(self._secret, "POST", signed_path, timestamp, body),
            "Content-Type": "application/json",
        }
        content = wire_json(body) if body is not None else b""
        try:
            async with httpx.AsyncClient(transport=self._transport, timeout=seconds) as client:
                response = await client.post(url, content=content, headers=headers)
            acknowledged = response.is_success and response.json().get("acknowledged") is True
        except (httpx.HTTPError, ValueError, AttributeError) as exc:
            log.warning("notice %s to %s failed: %s", path, self.base_url, exc)
            return False
        if not acknowledged:
            log.warning("notice %s not acknowledged: HTTP %d", path, response.status_code)
        return acknowledged


def build_snapshot(state: EmulatedNas, *, hostname: str, version: str) -> dict[str, Any]:
    """BaluHost's shutdown snapshot (version 1): no file listing, no secrets, no addresses.

    Walks the storage tree, so call it off the event loop.
    """
    total_files, total_size = _files_summary(state.storage)
    disk = shutil.disk_usage(state.storage)
    users = sorted(state.users.values(), key=lambda user: user.id)
    return {
        "version": 1,
        "generated_at": iso_z(int(state.clock()), "seconds"),
        "baluhost_version": version,
        "system": {
            "hostname": hostname,
            "uptime_seconds": int(state.uptime_seconds()),
            "cpu_model": CPU_MODEL,
            "ram_total_gb": MEMORY_TOTAL_BYTES // 1024**3,
        },
        "storage": {"arrays": [], "total_bytes": disk.total, "used_bytes": disk.used},
        "smart_health": {},
        "services": {
            "vpn": {"active_clients": 0},
            "shares": {"active_shares": 0},
            "backups": {"last_backup": None, "status": "none"},
        },
        "users": {
            "total": len(users),
            "list": [{"username": user.username, "role": user.role} for user in users],
        },
        "files_summary": {"total_files": total_files, "total_size_bytes": total_size},
    }


def _files_summary(root: Path) -> tuple[int, int]:
    count = size = 0
    for directory, _, names in os.walk(root):
        for name in names:
            try:
                size += os.stat(os.path.join(directory, name)).st_size
            except OSError:  # removed while we walked
                continue
            count += 1
    return count, size
