"""The seed's mobile flow against the NAS emulator: upload while it sleeps, land once it wakes."""

from __future__ import annotations

import hashlib
from pathlib import Path

from balupi.db.models import QueueStatus
from tests.uploads.conftest import Home


async def test_upload_while_asleep_lands_on_the_nas_once_it_wakes(home: Home) -> None:
    alice = home.token("alice")
    photo = b"\xff\xd8\xff\xe0 holiday photo " * 4096
    served_while_asleep = home.nas.nas.requests_served

    async with home.pi() as client:
        response = await client.post(
            "/api/files/upload",
            headers={**alice, "X-Sync-Trigger": "auto"},
            data={"path": "alice/Camera/IMG_0001.jpg"},
            files={"file": ("IMG_0001.jpg", photo, "image/jpeg")},
        )
        assert response.status_code == 200
        status = (await client.get("/api/files/sync/status", headers=alice)).json()
    assert home.nas.nas.requests_served == served_while_asleep  # nothing touched the sleeping NAS
    assert status["pending_count"] == 1
    assert status["pending_bytes"] == len(photo)
    assert status["safe_to_power_off"] is False

    await home.wake()
    await home.settled()

    async with home.direct() as nas:
        listing = await nas.get("/api/files/list", params={"path": "alice/Camera"}, headers=alice)
    [item] = listing.json()["files"]
    assert item["name"] == "IMG_0001.jpg"
    assert item["checksum"] == hashlib.sha256(photo).hexdigest()
    assert item["owner_id"] == "2"
    assert (home.nas.config.storage / "alice/Camera/IMG_0001.jpg").read_bytes() == photo
    [row] = await home.queue()
    assert row.status is QueueStatus.SYNCED
    assert not Path(row.local_path or "").exists()  # released once the NAS listed the same hash
    async with home.pi() as client:
        status = (await client.get("/api/files/sync/status", headers=alice)).json()
    assert status["safe_to_power_off"] is True
    assert status["last_successful_sync"] is not None
