"""Ten minutes of client polling while the NAS sleeps: not one request reaches it.

BaluApp polls ``/api/health`` and ``/api/system/info`` every 30 s, BaluDesk ``/api/sync/changes``
every 30 s per folder, the dashboard the Pi's own status routes. Twenty rounds of all of them
(ten minutes at the clients' cadence), with the NAS link's own timers running a thousand times
faster than in production, must leave the NAS emulator's request counter where it was: polling a
sleeping NAS keeps its disks awake.
"""

from __future__ import annotations

from dataclasses import replace

from tests.uploads.conftest import Home, bearer

ROUNDS = 20  # ten minutes of 30-second polls


async def test_ten_minutes_of_polling_send_nothing_to_a_sleeping_nas(home: Home) -> None:
    link = home.services.nas_link
    link.timing = replace(link.timing, health_interval=0.03, first_retry=0.01, max_retry=0.03)
    alice, admin = home.token("alice"), home.token("admin")
    served = home.nas.nas.requests_served
    polls = [
        ("GET", "/api/health", alice, None),
        ("GET", "/api/ping", None, None),
        ("GET", "/api/auth/me", alice, None),
        ("GET", "/api/system/info", alice, None),  # passed through when awake: 503 now
        ("GET", "/api/sync/preflight", alice, None),
        ("POST", "/api/sync/changes", alice, {"device_id": "desk", "file_list": []}),
        ("GET", "/api/files/list", alice, None),  # the virtual root, always answered
        ("GET", "/api/files/sync/status", alice, None),
        ("GET", "/api/nas/status", admin, None),
        ("GET", "/api/system/status", admin, None),
    ]
    async with home.pi() as pi:
        for _ in range(ROUNDS):
            for method, path, headers, body in polls:
                answer = await pi.request(
                    method,
                    path,
                    headers={**(headers or {}), "X-Sync-Trigger": "auto"},
                    json=body,
                )
                assert answer.status_code in (200, 503), (path, answer.status_code)
                assert answer.status_code != 503 or "Retry-After" in answer.headers

    assert home.nas.nas.requests_served == served
    assert home.nas.status()["wol_datagrams"] == 0
    assert link.state.value == "sleeping"


async def test_a_forged_token_cannot_wake_the_nas(home: Home) -> None:
    forged = bearer(2, "alice", secret="not-the-nas-secret-0123456789abcdef0123")
    async with home.pi() as pi:
        answer = await pi.get("/api/shares/mine", headers=forged)  # passed through when awake
    assert answer.status_code == 503
    assert "not woken" in answer.json()["detail"]
    assert home.nas.status()["wol_datagrams"] == 0
