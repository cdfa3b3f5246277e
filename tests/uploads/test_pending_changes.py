"""Pending uploads and offline changes: listed and served at once, replayed in order on wake."""

from __future__ import annotations

import hashlib

from balupi.db.models import QueueStatus
from tests.uploads.conftest import Home


async def test_pending_uploads_and_offline_changes_show_at_once_and_land_in_order(
    home: Home,
) -> None:
    alice = home.token("alice")
    photo = b"\xff\xd8 first photo " * 2000
    served_while_asleep = home.nas.nas.requests_served
    async with home.pi() as pi:
        for name, content in (("IMG_1.jpg", photo), ("IMG_9.jpg", b"a mistake")):
            answer = await pi.post(
                "/api/files/upload",
                headers=alice,
                data={"path": f"alice/Camera/{name}"},
                files={"file": (name, content)},
            )
            assert answer.status_code == 200

        listing = await pi.get("/api/files/list", params={"path": "alice/Camera"}, headers=alice)
        assert listing.status_code == 200
        items = {item["name"]: item for item in listing.json()["files"]}
        assert items["IMG_1.jpg"]["checksum"] == hashlib.sha256(photo).hexdigest()
        assert items["IMG_1.jpg"]["size"] == len(photo)
        assert items["IMG_1.jpg"]["owner_id"] == "2"
        assert items["IMG_1.jpg"]["modified_at"].endswith("Z")

        home_folder = await pi.get("/api/files/list", params={"path": "alice"}, headers=alice)
        assert [i["name"] for i in home_folder.json()["files"]] == ["Camera"]

        download = await pi.get("/api/files/download/alice/Camera/IMG_1.jpg", headers=alice)
        assert download.status_code == 200
        assert download.content == photo

        # While the NAS sleeps: a folder, a rename of the pending photo, a delete of the mistake.
        created = await pi.post(
            "/api/files/folder", headers=alice, json={"path": "alice", "name": "Docs"}
        )
        renamed = await pi.put(
            "/api/files/rename",
            headers=alice,
            json={"old_path": "alice/Camera/IMG_1.jpg", "new_name": "beach.jpg"},
        )
        deleted = await pi.delete("/api/files/alice/Camera/IMG_9.jpg", headers=alice)
        assert created.json() == {"message": "Folder created"}
        assert renamed.json() == {"message": "Renamed"}
        assert deleted.json() == {"message": "Deleted"}

        after = await pi.get("/api/files/list", params={"path": "alice/Camera"}, headers=alice)
        assert [i["name"] for i in after.json()["files"]] == ["beach.jpg"]
        moved = await pi.get("/api/files/download/alice/Camera/beach.jpg", headers=alice)
        assert moved.content == photo
        assert home.nas.nas.requests_served == served_while_asleep

    await home.wake()
    await home.settled()

    storage = home.nas.config.storage / "alice"
    assert (storage / "Camera" / "beach.jpg").read_bytes() == photo
    assert not (storage / "Camera" / "IMG_1.jpg").exists()
    assert not (storage / "Camera" / "IMG_9.jpg").exists()  # never reached the NAS at all
    assert (storage / "Docs").is_dir()
    statuses = [row.status for row in await home.queue()]
    assert statuses.count(QueueStatus.CANCELLED) == 1  # the mistake's upload was withdrawn
    assert all(s in (QueueStatus.SYNCED, QueueStatus.CANCELLED) for s in statuses)
