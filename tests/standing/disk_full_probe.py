"""Run by ``test_disk_full_answers.py`` inside ``unshare -rm``, a tiny tmpfs mounted at argv[1].

Starts BaluPi on that tmpfs (the NAS configured but asleep, so changes are queued on the Pi),
fills the disk, sends the writes that need it and prints ``[[method, path, status, body], …]``
as JSON on the last line of stdout.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import json
import sys
import time
from pathlib import Path

import httpx

from balupi.app import create_app
from balupi.config import Settings
from balupi.services.auth import jwt
from balupi.services.container import Services
from balupi.sim.measure import free_port
from tests.conftest import TEST_NAS_JWT_SECRET, plain_tracebacks

STANDBY_WATTS = 5.0  # the NAS plug's draw while the NAS is suspended
WRITES = (
    ("PUT", "/api/sync/policies", {"folder": "Shared", "policy": "ask"}),
    (
        "POST",
        "/api/energy/tariffs",
        {"name": "day", "price_per_kwh": 0.3, "valid_from": "2026-01-01"},
    ),
    ("POST", "/api/files/mkdir", {"path": "Shared/new folder"}),
)


def _admin() -> dict[str, str]:
    now = int(time.time())
    claims = {"sub": "1", "username": "admin", "role": "admin", "type": "access"}
    token = jwt.encode({**claims, "exp": now + 900, "iat": now}, TEST_NAS_JWT_SECRET)
    return {"Authorization": f"Bearer {token}"}


def _fill(directory: Path) -> None:
    """Write zeros until the file system refuses: ENOSPC from here on."""
    block = b"\0" * 65536
    with (directory / "filler").open("wb", buffering=0) as filler:
        while True:
            try:
                filler.write(block if len(block) > 1 else b"\0")
            except OSError as exc:
                if exc.errno != errno.ENOSPC:
                    raise
                if len(block) == 1:
                    return
                block = block[: len(block) // 2]


async def main(data_dir: Path) -> None:
    plain_tracebacks()
    settings = Settings(
        data_dir=data_dir,
        nas_url=f"http://127.0.0.1:{free_port()}",
        nas_jwt_secret=TEST_NAS_JWT_SECRET,
        wake_wait_seconds=0,
        mdns_enabled=False,
        _env_prefix="BALUPI_TEST_UNUSED_",  # type: ignore[call-arg]
    )
    app = create_app(settings)
    results = []
    async with app.router.lifespan_context(app):
        services: Services = app.state.services
        await services.nas_link.report_power(STANDBY_WATTS)
        _fill(data_dir)
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://balupi.test") as client:
            for method, path, body in WRITES:
                response = await client.request(method, path, json=body, headers=_admin())
                with contextlib.suppress(ValueError):
                    results.append([method, path, response.status_code, response.json()])
                    continue
                results.append([method, path, response.status_code, response.text])
        (data_dir / "filler").unlink()  # room for a clean shutdown
    print(json.dumps(results))


if __name__ == "__main__":
    asyncio.run(main(Path(sys.argv[1])))
