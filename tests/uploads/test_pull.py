"""The pull side: folders browsed before are listed again while the NAS is awake, never asleep."""

from __future__ import annotations

from datetime import timedelta

from balupi.services.uploads.pull import FolderRevalidator, PullSettings
from tests.uploads.conftest import Home


def _revalidator(home: Home) -> FolderRevalidator:
    services = home.services
    return FolderRevalidator(
        services.sessions,
        services.nas_link,
        services.files.listing,
        services.uploads.tokens,
        services.clock,
        PullSettings(min_age=timedelta(0)),
    )


async def test_a_browsed_folder_follows_the_nas_and_stays_browsable_asleep(home: Home) -> None:
    alice = home.token("alice")
    await home.wake()
    async with home.pi() as pi:
        first = await pi.get("/api/files/list", params={"path": "alice"}, headers=alice)
    assert first.json()["files"] == []
    (home.nas.config.storage / "alice" / "from-the-nas.txt").write_text("added on the NAS")

    assert await _revalidator(home).run_once() >= 1

    await home.nas.sleep()
    await home.services.nas_link.report_power(3.0)
    served = home.nas.nas.requests_served
    assert await _revalidator(home).run_once() == 0  # asleep: not a single request
    async with home.pi() as pi:
        later = await pi.get("/api/files/list", params={"path": "alice"}, headers=alice)
    assert [item["name"] for item in later.json()["files"]] == ["from-the-nas.txt"]
    assert later.headers["X-BaluPi-Source"] == "cache"
    assert home.nas.nas.requests_served == served
