"""What other parts of BaluPi plug into: the file cache's hooks and the listing overlay."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

from balupi.services.auth import AuthenticatedUser
from balupi.services.files.hooks import FileCacheHooks, ListingOverlay
from balupi.services.files.items import virtual_folder
from balupi.services.files.model import Listing, ListingOrigin
from balupi.services.files.paths import Viewer
from balupi.services.files.service import FileServices
from balupi.services.files.upstream import NasGate
from balupi.services.nas.passthrough import WakePolicy
from tests.files.conftest import FilesHome, HomeFactory


class RecordingCache:
    def __init__(self) -> None:
        self.calls: list[tuple[str, ...]] = []

    async def moved(self, old: str, new: str) -> None:
        self.calls.append(("moved", old, new))

    async def removed(self, path: str) -> None:
        self.calls.append(("removed", path))


class PendingUploads:
    """An overlay like issue 5's: one pending photo in ``Shared/photos``, one new folder."""

    async def overlay(
        self, listing: Listing | None, *, path: str, user: AuthenticatedUser, viewer: Viewer
    ) -> Listing | None:
        if path == "Shared/photos" and listing is not None:
            item = virtual_folder("Shared/photos/Zebra.jpg", datetime.now(UTC), user.id)
            item.update(name="Zebra.jpg", type="file", size=3, checksum="0" * 64)
            return replace(listing, items=[item, *listing.items])
        if path == "alice/new-album" and listing is None:
            return Listing(path, [], ListingOrigin.CACHE)
        return listing


def plug(
    home: FilesHome,
    *,
    cache: FileCacheHooks | None = None,
    overlay: ListingOverlay | None = None,
) -> None:
    files = home.services.files
    gate = NasGate(home.services.nas_link, home.services.nas_waker, WakePolicy(enabled=False))
    home.services.files = FileServices.create(
        files.metadata, files.access, gate, home.clock, cache_hooks=cache, overlay=overlay
    )


async def test_the_file_cache_follows_renames_moves_and_deletes(make_home: HomeFactory) -> None:
    async with make_home() as home:
        cache = RecordingCache()
        plug(home, cache=cache)
        await home.items("alice", "alice/docs")

        await home.send(
            "alice",
            "PUT",
            "/api/files/rename",
            json={"old_path": "alice/docs/a.txt", "new_name": "z.txt"},
        )
        await home.send(
            "alice",
            "PUT",
            "/api/files/move",
            json={"source_path": "alice/docs/z.txt", "target_path": "alice/docs/old"},
        )
        await home.send("alice", "DELETE", "/api/files/alice/docs/old")

        assert cache.calls == [
            ("removed", "alice/docs/z.txt"),
            ("moved", "alice/docs/a.txt", "alice/docs/z.txt"),
            ("removed", "alice/docs/old/z.txt"),
            ("moved", "alice/docs/z.txt", "alice/docs/old/z.txt"),
            ("removed", "alice/docs/old"),
        ]


async def test_a_file_gone_from_a_nas_listing_leaves_the_file_cache(make_home: HomeFactory) -> None:
    async with make_home() as home:
        cache = RecordingCache()
        plug(home, cache=cache)
        await home.items("alice", "alice/docs")
        async with home.direct() as nas:
            await nas.delete("/api/files/alice/docs/B.txt", headers=await home.auth("alice"))

        await home.items("alice", "alice/docs")

        assert cache.calls == [("removed", "alice/docs/B.txt")]


async def test_the_overlay_is_laid_over_nas_and_cached_listings(make_home: HomeFactory) -> None:
    async with make_home() as home:
        plug(home, overlay=PendingUploads())

        awake = await home.names("alice", "Shared/photos")
        await home.pi_believes_nas_sleeps()
        asleep = await home.names("alice", "Shared/photos")

        assert awake == asleep == ["2024", "alps.jpg", "Beach.jpg", "Zebra.jpg"]


async def test_the_overlay_answers_a_folder_only_the_pi_knows(make_home: HomeFactory) -> None:
    async with make_home() as home:
        plug(home, overlay=PendingUploads())
        await home.auth("alice")
        await home.pi_believes_nas_sleeps()

        response = await home.listing("alice", "alice/new-album")

        assert (response.status_code, response.json()) == (200, {"files": []})
        assert response.headers["x-balupi-source"] == "cache"
        assert "x-balupi-age" not in response.headers
