"""A household day against a NAS that may sleep: clients straight to it, then through BaluPi.

    .venv/bin/python bench/household_day.py [--scale 360] [--seed 1] [--only direct|pi]

BaluPi exists so that the NAS can sleep (issue 12). This runs one scripted day twice against the
NAS emulator with BaluHost's sleep service on (auto-idle with BaluHost's own thresholds: soft
sleep after 15 idle minutes, idle meaning at most 5 requests a minute; no escalation to suspend),
once with the clients talking to the NAS and once with them talking to ``balupi serve`` (a real
process) in front of it. The day, in emulated time:

* 3 phones (alice, bob, carol) and a desktop (dad) poll every 30 s, all day, as BaluApp and
  BaluDesk do between user actions: ``GET /api/health``, ``/api/auth/me``, ``/api/files/list`` of
  a known folder (the phones' camera folder, the desktop's documents);
* each phone backs up 10 photos between 07:00 and 22:00 (in bursts of 1-3, camera-sync style:
  ``POST /api/files/upload`` with the full file path and ``X-Sync-Trigger: auto``; a refused
  upload is tried again 10 minutes later);
* browsing: each phone opens the camera folder and its two newest photos 6 times a day, and an
  old photo from the 2019 archive twice a day; the desktop opens an old document once;
* the desktop syncs at 12:30 and 19:00 (``POST /api/sync/changes``, 3 new documents in one
  batch upload, then downloads the photos it has not seen yet).

**Time compression.** ``--scale N`` runs the day N times faster than the clock (the default 360:
24 h in 4 minutes). Everything that has a timer is scaled alike: the clients' schedule; the
emulator's sleep service (``sleep_time_scale``: its 30 s checks, 60 s request window and 15 min
timeout) and its "busy" window (3 s after a request: 85 W instead of 40 W; a request in flight
does not count, as its real milliseconds would be emulated seconds); and BaluPi's own periods
(``NAS_PROBE_SECONDS``, ``AUTH_TRUST_SECONDS``, ``LISTING_FRESH_SECONDS``, ``NAS_QUIET_SECONDS``,
``SYNC_MAX_WAIT``; those this BaluPi has). Not scaled: BaluPi's internal retry and back-off
delays, HTTP timeouts and request latencies (a wait is reported in real milliseconds; the
emulator wakes from soft sleep at once, where a real NAS spins its disks up for seconds). A
client that cannot keep up on a loaded machine skips poll rounds, as an app's timer would; the
table says how many.

**What it prints**, for both runs: the NAS's share of the day in soft sleep or suspend and the
number of wakes (from the emulator's sleep history, with the reasons of the wakes); kWh for the
day from the draw the emulated smart plug would measure (the emulator's control channel sampled
every 50 ms), plus BaluPi's 4 W; client requests that were in flight while the NAS woke (share,
p95 of their duration); uploads landed exactly once (present once at their path with the right
SHA-256 and not written again afterwards); failed client requests; and how late the schedule ran.

Not part of the test suite: it prints figures, it does not pass or fail. Loopback only, temp
dirs, bounded: each run ends after the day plus at most ``--drain`` real seconds.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import os
import random
import sys
import tempfile
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable, Coroutine, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any

import httpx

from balupi.config import Settings
from balupi.sim.measure import EMULATOR_BANNER, run_child
from balupi.sim.nas.power import DRAW_WATTS, PowerState
from balupi.sim.nas.users import DEFAULT_MAC
from cache_common import ADMIN, balupi_serve

Action = Callable[[], Coroutine[Any, Any, None]]  # one scheduled thing a client does
DAY_S = 86_400.0
POLL_S = 30.0
PI_WATTS = 4.0
JWT_SECRET = "household-day-bench-nas-jwt-secret-0123456789abcdef"
SLEEPING = frozenset({"entering_soft_sleep", "soft_sleep", "entering_suspend", "true_suspend"})
CAMERA = "Shared/Photos/Camera"
DOCUMENTS = "Shared/Documents"
ARCHIVE = "Shared/Archive/2019"
OLD_MTIME = datetime(2019, 7, 1).timestamp()
# BaluPi's periods, in real seconds at scale 1; each is divided by the scale if BaluPi has it.
PI_PERIODS = {
    "nas_probe_seconds": 30.0,
    "auth_trust_seconds": 600.0,
    "listing_fresh_seconds": 300.0,
    "nas_quiet_seconds": 60.0,
    "sync_max_wait": 6 * 3600.0,
}


@dataclass(frozen=True)
class Device:
    name: str
    user: str
    password: str
    polls: str  # the folder its app lists every 30 s
    phone: bool


DEVICES = (
    Device("alice-phone", "alice", "alice-pw", CAMERA, True),
    Device("bob-phone", "bob", "bob-pw", CAMERA, True),
    Device("carol-phone", "carol", "carol-pw", CAMERA, True),
    Device("desktop", "dad", "dad-pw", DOCUMENTS, False),
)


# -- the NAS, in a child process -------------------------------------------------------------------


async def _serve_nas(storage: Path, scale: float) -> None:
    """The emulator with the sleep service on and its timers scaled (the ``--nas-child`` mode)."""
    import signal

    # Imported first: importing the emulator's server first runs into the import cycle
    # services.nas.link -> probe -> services.auth -> link (seen 2026-12-08).
    import balupi.services.auth  # noqa: F401
    from balupi.logs import configure_logging
    from balupi.sim.nas.server import NasEmulator, NasEmulatorConfig
    from balupi.sim.nas.sleep import SleepConfig
    from balupi.sim.nas.users import UserSpec

    configure_logging(json_lines=False, level="WARNING")
    users = (
        UserSpec(ADMIN["username"], ADMIN["password"], "admin"),
        *tuple(UserSpec(d.user, d.password, "user") for d in DEVICES),
    )
    config = NasEmulatorConfig(
        storage=storage,
        jwt_secret=JWT_SECRET,
        users=users,
        busy_seconds=3.0 / scale,
        boot_seconds=5.0 / scale,
        access_token_minutes=24 * 60,
        login_rate_limit=None,
        sleep=SleepConfig(),  # auto-idle is switched on when the day starts (``start_day``)
        sleep_time_scale=scale,
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    async with NasEmulator(config) as nas:
        nas.power.activity = _RecentRequests(nas.nas)  # see the class
        print(
            f"Household NAS: API {nas.api_url}  control {nas.control_url}  "
            f"WoL udp://127.0.0.1:{nas.wol_port}  MAC {config.mac}",
            flush=True,
        )
        await stop.wait()


@dataclass(frozen=True)
class _RecentRequests:
    """Busy means a request within the last (scaled) ``busy_seconds``, not one in flight: under
    compression a request's real milliseconds are emulated seconds, and counting them would
    make the NAS look busy (85 W) whenever the clients are slow."""

    nas: Any

    @property
    def requests_in_flight(self) -> int:
        return 0

    @property
    def last_request_at(self) -> float | None:
        return self.nas.last_request_at  # type: ignore[no-any-return]


@dataclass(frozen=True)
class Nas:
    api_url: str
    control_url: str
    wol_port: int
    storage: Path


@contextlib.contextmanager
def nas_process(storage: Path, scale: float) -> Iterator[Nas]:
    arguments = [__file__, "--nas-child", f"--storage={storage}", f"--scale={scale}"]
    with run_child(arguments, EMULATOR_BANNER, 30.0) as (_, found):
        yield Nas(found["api"], found["control"], int(found["wol"]), storage)


# -- content ---------------------------------------------------------------------------------------


def content(seed: str, rng: random.Random, low: int, high: int) -> bytes:
    """A file's bytes: ``rng`` picks the size, ``seed`` the (incompressible) content."""
    size = rng.randint(low, high)
    block = hashlib.sha256(seed.encode()).digest()
    out = bytearray()
    counter = 0
    while len(out) < size:
        out += hashlib.sha256(block + counter.to_bytes(8, "big")).digest()
        counter += 1
    return bytes(out[:size])


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


async def seed_nas(nas: Nas, rng: random.Random) -> dict[str, bytes]:
    """Old files uploaded through the NAS's API (so they carry checksums), dated 2019."""
    files = {
        f"{ARCHIVE}/IMG_{n:04d}.jpg": content(f"old{n}", rng, 150_000, 400_000) for n in range(20)
    }
    files |= {
        f"{DOCUMENTS}/letter-{n}.pdf": content(f"doc{n}", rng, 20_000, 90_000) for n in range(5)
    }
    async with httpx.AsyncClient(base_url=nas.api_url, timeout=30) as client:
        headers = await login(client, ADMIN["username"], ADMIN["password"])
        for path, data in files.items():
            response = await client.post(
                "/api/files/upload",
                headers=headers,
                data={"path": path},
                files={"file": (path.rsplit("/", 1)[-1], data)},
            )
            response.raise_for_status()
        for folder in (CAMERA,):
            (nas.storage / folder).mkdir(parents=True, exist_ok=True)
    for path in files:
        os.utime(nas.storage / path, (OLD_MTIME, OLD_MTIME))
    return files


async def login(client: httpx.AsyncClient, username: str, password: str) -> dict[str, str]:
    response = await client.post(
        "/api/auth/login", json={"username": username, "password": password}
    )
    response.raise_for_status()
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


# -- the day ---------------------------------------------------------------------------------------


@dataclass
class Call:
    device: str
    kind: str
    start: float  # real clock (time.time())
    end: float
    status: int | None  # None: no answer (connection refused, reset, timeout)

    @property
    def ok(self) -> bool:
        return self.status is not None and self.status < 400


@dataclass
class Day:
    """One run's schedule, clients and what they saw."""

    url: str
    scale: float
    rng: random.Random
    old_files: dict[str, bytes]
    t0: float = 0.0
    calls: list[Call] = field(default_factory=list)
    lags: list[float] = field(default_factory=list)
    uploads: dict[str, bytes] = field(default_factory=dict)  # path -> content, once acknowledged
    planned_uploads: dict[str, bytes] = field(default_factory=dict)
    bad_content: int = 0
    clients: dict[str, httpx.AsyncClient] = field(default_factory=dict)
    headers: dict[str, dict[str, str]] = field(default_factory=dict)
    seen_by_desktop: set[str] = field(default_factory=set)
    polls_done: int = 0
    polls_missed: int = 0

    def at(self, emulated: float) -> float:
        return self.t0 + emulated / self.scale

    @property
    def end(self) -> float:
        return self.at(DAY_S)

    async def call(
        self, device: Device, kind: str, method: str, path: str, **kwargs: Any
    ) -> httpx.Response | None:
        client = self.clients[device.name]
        started = time.time()
        response: httpx.Response | None = None
        try:
            headers = {**self.headers[device.name], **kwargs.pop("headers", {})}
            response = await client.request(method, path, headers=headers, **kwargs)
        except httpx.HTTPError:
            response = None
        status = response.status_code if response is not None else None
        call = Call(
            device.name,
            f"{kind}: {method} {'/'.join(path.split('/')[:4])}",
            started,
            time.time(),
            status,
        )
        self.calls.append(call)
        return response if call.ok else None

    # -- the clients' actions -------------------------------------------------------------------
    async def poll(self, device: Device) -> None:
        await self.call(device, "poll", "GET", "/api/health")
        await self.call(device, "poll", "GET", "/api/auth/me")
        await self.call(device, "poll", "GET", "/api/files/list", params={"path": device.polls})

    async def keep_polling(self, device: Device) -> None:
        """Poll every 30 s until midnight, as an app's timer does: a round that comes due while
        the last one still runs is skipped, not made up (``polls_missed``)."""
        started = time.time()
        slot = 0
        while (due := started + slot * POLL_S / self.scale) < self.end:
            await asyncio.sleep(max(0.0, due - time.time()))
            await self.poll(device)
            self.polls_done += 1
            late = int((time.time() - due) * self.scale // POLL_S)
            self.polls_missed += late
            slot += 1 + late

    async def upload_photo(self, device: Device, path: str, data: bytes, emulated: float) -> None:
        """Camera sync: the full file path in ``path``; a refused upload is retried later."""
        response = await self.call(
            device,
            "upload",
            "POST",
            "/api/files/upload",
            headers={"X-Sync-Trigger": "auto"},
            data={"path": path},
            files={"file": (path.rsplit("/", 1)[-1], data, "image/jpeg")},
        )
        if response is not None:
            self.uploads[path] = data
            return
        retry = emulated + 600
        if retry < DAY_S:
            await self.wait_until(retry)
            await self.upload_photo(device, path, data, retry)

    async def browse_recent(self, device: Device) -> None:
        listing = await self.call(
            device, "browse recent", "GET", "/api/files/list", params={"path": CAMERA}
        )
        if listing is None:
            return
        files = [f for f in listing.json().get("files", []) if f.get("type") == "file"]
        newest = sorted(files, key=lambda f: str(f.get("modified_at")), reverse=True)[:2]
        for item in newest:
            await self.download(
                device, "browse recent", item["path"], self.uploads.get(item["path"])
            )

    async def browse_old(self, device: Device, folder: str) -> None:
        listing = await self.call(
            device, "browse old", "GET", "/api/files/list", params={"path": folder}
        )
        if listing is None:
            return
        files = sorted(
            f["path"] for f in listing.json().get("files", []) if f.get("type") == "file"
        )
        if files:
            path = self.rng.choice(files)
            await self.download(device, "browse old", path, self.old_files.get(path))

    async def download(self, device: Device, kind: str, path: str, expected: bytes | None) -> None:
        response = await self.call(device, kind, "GET", f"/api/files/download/{path}")
        if response is not None and expected is not None and response.content != expected:
            self.bad_content += 1

    async def desktop_sync(self, device: Device, documents: dict[str, bytes]) -> None:
        """BaluDesk's pass: changes, one batch upload of new documents, then new photos down."""
        file_list = [
            {"path": p.rsplit("/", 1)[-1], "hash": "", "size": len(d), "modified_at": _now_z()}
            for p, d in documents.items()
        ]
        await self.call(
            device,
            "desktop sync",
            "POST",
            "/api/sync/changes",
            json={"device_id": "household-desktop", "file_list": file_list},
        )
        response = await self.call(
            device,
            "desktop sync",
            "POST",
            "/api/files/upload",
            data={"path": DOCUMENTS},
            files=[("files", (p.rsplit("/", 1)[-1], d)) for p, d in documents.items()],
        )
        if response is not None:
            self.uploads |= documents
        new_photos = [
            p for p in self.uploads if p.startswith(CAMERA) and p not in self.seen_by_desktop
        ]
        for path in new_photos:
            self.seen_by_desktop.add(path)
            await self.download(device, "desktop sync", path, self.uploads[path])

    # -- scheduling -----------------------------------------------------------------------------
    async def wait_until(self, emulated: float) -> None:
        delay = self.at(emulated) - time.time()
        if delay > 0:
            await asyncio.sleep(delay)

    def schedule(self) -> list[tuple[float, Action]]:
        """The day's events: (emulated second, action), in order."""
        events: list[tuple[float, Action]] = []

        def add(at: float, action: Action) -> None:
            events.append((at, action))

        def waking() -> float:
            return self.rng.uniform(7 * 3600, 22 * 3600)

        for index, device in enumerate(DEVICES):
            add(index * POLL_S / len(DEVICES), partial(self.keep_polling, device))
            if not device.phone:
                continue
            photo = 0
            while photo < 10:
                burst_at = waking()
                for _ in range(min(self.rng.randint(1, 3), 10 - photo)):
                    path = f"{CAMERA}/{device.user}-{photo:03d}.jpg"
                    data = content(f"{device.user}{photo}", self.rng, 150_000, 400_000)
                    self.planned_uploads[path] = data
                    at = burst_at + photo % 3 * 5
                    add(at, partial(self.upload_photo, device, path, data, at))
                    photo += 1
            for _ in range(6):
                add(waking(), partial(self.browse_recent, device))
            for _ in range(2):
                add(waking(), partial(self.browse_old, device, ARCHIVE))
        desktop = DEVICES[-1]
        add(20 * 3600 + 600, partial(self.browse_old, desktop, DOCUMENTS))
        for run, at in enumerate((12.5 * 3600, 19 * 3600)):
            documents = {
                f"{DOCUMENTS}/report-{run}-{n}.odt": content(
                    f"desk{run}{n}", self.rng, 30_000, 200_000
                )
                for n in range(3)
            }
            self.planned_uploads |= documents
            add(at, partial(self.desktop_sync, desktop, documents))
        events.sort(key=lambda event: event[0])
        return events


def _now_z() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


# -- measuring -------------------------------------------------------------------------------------


@dataclass
class Draw:
    """The NAS's draw as its smart plug would meter it, sampled from the control channel."""

    samples: list[tuple[float, float]] = field(default_factory=list)  # (real time, watts)

    async def sample(self, control_url: str, until: float) -> None:
        async with httpx.AsyncClient(base_url=control_url, timeout=5) as client:
            while time.time() < until:
                with contextlib.suppress(httpx.HTTPError):
                    state = (await client.get("/state")).json()
                    self.samples.append((time.time(), float(state["power_w"])))
                await asyncio.sleep(0.05)

    def kwh(self, start: float, end: float, scale: float) -> float:
        joules = 0.0
        points = [(t, w) for t, w in self.samples if start <= t <= end]
        for (t, w), (t_next, _) in zip(points, [*points[1:], (end, 0.0)], strict=False):
            joules += w * (t_next - t) * scale
        return joules / 3.6e6


@dataclass
class Landing:
    """When each upload first sat on the NAS's disk in full, and whether it was written again."""

    first: dict[str, int] = field(default_factory=dict)  # path -> mtime_ns when first complete
    landed_at: dict[str, float] = field(default_factory=dict)

    def scan(self, storage: Path, expected: dict[str, bytes]) -> None:
        for path, data in expected.items():
            if path in self.first:
                continue
            target = storage / path
            with contextlib.suppress(OSError):
                if target.stat().st_size == len(data) and target.read_bytes() == data:
                    self.first[path] = target.stat().st_mtime_ns
                    self.landed_at[path] = time.time()

    async def watch(self, storage: Path, expected: dict[str, bytes], until: float) -> None:
        while True:
            await asyncio.to_thread(self.scan, storage, expected)
            if len(self.first) == len(expected) or time.time() >= until:
                return
            await asyncio.sleep(0.2)

    def exactly_once(
        self, storage: Path, expected: dict[str, bytes], before: set[str]
    ) -> tuple[int, list[str]]:
        """Uploads present once, intact, not written again; and the problems found (a copy
        under another name in an upload folder counts as a problem)."""
        problems = []
        good = 0
        for folder in sorted({str(Path(p).parent) for p in expected}):
            for entry in sorted((storage / folder).iterdir()):
                rel = f"{folder}/{entry.name}"
                if entry.is_file() and rel not in expected and rel not in before:
                    problems.append(f"unexpected {rel}")
        for path, data in expected.items():
            target = storage / path
            if not target.is_file():
                problems.append(f"missing {path}")
            elif sha256(target.read_bytes()) != sha256(data):
                problems.append(f"wrong content {path}")
            elif path not in self.first or target.stat().st_mtime_ns != self.first[path]:
                problems.append(f"written again {path}")
            else:
                good += 1
        return good, problems


async def start_day(nas: Nas) -> None:
    """Switch auto-idle on (BaluHost's thresholds): set-up and logins are done, the day begins."""
    async with httpx.AsyncClient(base_url=nas.api_url, timeout=30) as client:
        headers = await login(client, ADMIN["username"], ADMIN["password"])
        response = await client.put(
            "/api/system/sleep/config", json={"auto_idle_enabled": True}, headers=headers
        )
        response.raise_for_status()


async def sleep_history(nas: Nas) -> list[dict[str, Any]]:
    """Every entry of the emulator's sleep history, oldest first (admin, whitelisted: no wake)."""
    entries: list[dict[str, Any]] = []
    async with httpx.AsyncClient(base_url=nas.api_url, timeout=30) as client:
        headers = await login(client, ADMIN["username"], ADMIN["password"])
        while True:
            page = await client.get(
                "/api/system/sleep/history",
                params={"limit": 200, "offset": len(entries)},
                headers=headers,
            )
            page.raise_for_status()
            batch = page.json()["entries"]
            entries += batch
            if not batch or len(entries) >= page.json()["total"]:
                break
    return sorted(entries, key=lambda e: e["timestamp"])


def _epoch(timestamp: str) -> float:
    return datetime.fromisoformat(timestamp.replace("Z", "+00:00")).timestamp()


@dataclass(frozen=True)
class Result:
    mode: str
    asleep_share: float
    wakes: int
    wake_reasons: Counter[str]
    wake_causes: Counter[str]  # what a client was waiting for when the NAS woke, if anything
    nas_kwh: float
    pi_kwh: float

    @property
    def nas_kwh_at_idle(self) -> float:
        """The day's energy if the NAS drew its idle 40 W whenever awake (compression makes the
        measured figure count more of the awake time as busy than a real day would)."""
        asleep_w = DRAW_WATTS[PowerState.SOFT_SLEEP]
        awake_w = DRAW_WATTS[PowerState.IDLE]
        watts = self.asleep_share * asleep_w + (1 - self.asleep_share) * awake_w
        return watts * 24 / 1000

    requests: int
    waited: int
    p95_wait_ms: float
    failed: Counter[str]
    uploads_expected: int
    uploads_good: int
    uploads_by_midnight: int
    upload_problems: list[str]
    bad_content: int
    lag_p95_s: float
    polls_done: int
    polls_missed: int


def summarise(
    mode: str, day: Day, history: list[dict[str, Any]], draw: Draw, landing: Landing, storage: Path
) -> Result:
    start, end = day.t0, day.end
    # Sleep state over the day from the history's transitions (the NAS starts the day awake).
    state, since, asleep = "awake", start, 0.0
    wakes: list[float] = []
    reasons: Counter[str] = Counter()
    for entry in history:
        at = _epoch(entry["timestamp"])
        if at > end:
            break
        if at >= start:
            if state in SLEEPING:
                asleep += at - max(since, start)
            if entry["previous_state"] in SLEEPING and entry["new_state"] not in SLEEPING:
                wakes.append(at)
                reasons[entry["reason"]] += 1
        state, since = entry["new_state"], at
    if state in SLEEPING:
        asleep += end - max(since, start)
    in_day = [c for c in day.calls if c.start < end]
    waited = [c for c in in_day if any(c.start <= w <= c.end for w in wakes)]
    causes: Counter[str] = Counter()
    for wake in wakes:
        waiting = sorted({c.kind for c in waited if c.start <= wake <= c.end})
        causes[" + ".join(waiting) or "no client request in flight"] += 1
    good, problems = landing.exactly_once(storage, day.planned_uploads, set(day.old_files))
    by_midnight = sum(1 for t in landing.landed_at.values() if t <= end)
    return Result(
        mode=mode,
        asleep_share=asleep / (end - start),
        wakes=len(wakes),
        wake_reasons=reasons,
        wake_causes=causes,
        nas_kwh=draw.kwh(start, end, day.scale),
        pi_kwh=PI_WATTS * 24 / 1000 if mode == "pi" else 0.0,
        requests=len(in_day),
        waited=len(waited),
        p95_wait_ms=_p95([(c.end - c.start) * 1000 for c in waited]),
        failed=Counter(f"{c.kind} -> {c.status or 'no answer'}" for c in in_day if not c.ok),
        uploads_expected=len(day.planned_uploads),
        uploads_good=good,
        uploads_by_midnight=by_midnight,
        upload_problems=problems,
        bad_content=day.bad_content,
        lag_p95_s=_p95(day.lags),
        polls_done=day.polls_done,
        polls_missed=day.polls_missed,
    )


def _p95(values: list[float]) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]


# -- one run ---------------------------------------------------------------------------------------


def pi_environment(nas: Nas, scale: float) -> dict[str, str]:
    """BaluPi's settings for the run: the NAS's secrets and MAC, its periods scaled."""
    settings = {
        "NAS_JWT_SECRET": JWT_SECRET,
        "NAS_MAC": DEFAULT_MAC,
        "WOL_BROADCAST": "127.0.0.1",
        "WOL_PORT": str(nas.wol_port),
    }
    for name, seconds in PI_PERIODS.items():
        if name in Settings.model_fields:
            settings[name.upper()] = f"{max(seconds / scale, 0.01):.4f}"
    return {f"BALUPI_{name}": value for name, value in settings.items()}


@contextlib.asynccontextmanager
async def device_clients(day: Day) -> AsyncIterator[None]:
    async with contextlib.AsyncExitStack() as stack:
        for device in DEVICES:
            client = httpx.AsyncClient(base_url=day.url, timeout=60)
            day.clients[device.name] = await stack.enter_async_context(client)
            day.headers[device.name] = await login(client, device.user, device.password)
        yield


async def run_day(
    mode: str, nas: Nas, url: str, args: argparse.Namespace, old: dict[str, bytes]
) -> Result:
    day = Day(url, args.scale, random.Random(args.seed), old)
    draw, landing = Draw(), Landing()
    async with device_clients(day):
        await start_day(nas)
        day.t0 = time.time() + 0.5
        events = day.schedule()  # fills planned_uploads before the watch starts
        day.rng = random.Random(args.seed + 1)
        until = day.end + args.drain
        day_task = asyncio.create_task(_run_events(day, events))
        sampler = asyncio.create_task(draw.sample(nas.control_url, day.end))
        watcher = asyncio.create_task(landing.watch(nas.storage, day.planned_uploads, until))
        await day_task
        await sampler
        await watcher  # ends once every upload landed, or ``--drain`` s after midnight
    history = await sleep_history(nas)
    return summarise(mode, day, history, draw, landing, nas.storage)


async def _run_events(day: Day, events: list[tuple[float, Action]]) -> None:
    tasks: set[asyncio.Task[None]] = set()
    reporter = asyncio.create_task(_progress(day))
    for emulated, action in events:
        await day.wait_until(emulated)
        day.lags.append(max(0.0, time.time() - day.at(emulated)) * day.scale)
        task = asyncio.create_task(action())
        tasks.add(task)
        task.add_done_callback(tasks.discard)
    await day.wait_until(DAY_S)
    if tasks:  # what is still in flight at midnight may finish, briefly
        await asyncio.wait(tasks, timeout=30)
        for task in tasks:
            task.cancel()
    reporter.cancel()


async def _progress(day: Day) -> None:
    """A line on stderr every 3 emulated hours, so a slow machine shows itself."""
    for hour in range(3, 24, 3):
        await day.wait_until(hour * 3600)
        failed = sum(1 for c in day.calls if not c.ok)
        print(
            f"  {hour:2d}:00  {len(day.calls)} requests, {failed} failed, "
            f"{day.polls_done} polls done, {day.polls_missed} skipped (machine too slow)",
            file=sys.stderr,
            flush=True,
        )


def one_run(mode: str, args: argparse.Namespace) -> Result:
    with tempfile.TemporaryDirectory(prefix=f"balupi-household-{mode}-") as temp:
        root = Path(temp)
        with nas_process(root / "nas", args.scale) as nas:
            old = asyncio.run(seed_nas(nas, random.Random(args.seed)))
            if mode == "direct":
                return asyncio.run(run_day(mode, nas, nas.api_url, args, old))
            environment = pi_environment(nas, args.scale)
            with balupi_serve(nas.api_url, root / "pi", environment) as (_, pi_url, _token):
                return asyncio.run(run_day(mode, nas, pi_url, args, old))


# -- report ----------------------------------------------------------------------------------------


def print_table(results: list[Result], scale: float) -> None:
    labels = {"direct": "clients -> NAS", "pi": "clients -> BaluPi -> NAS"}
    print(f"\nhousehold day, time x{scale:g} ({DAY_S / scale:.0f} s a day)")
    header = "| | " + " | ".join(labels[r.mode] for r in results) + " |"
    print(header)
    print("|---" * (len(results) + 1) + "|")

    def row(label: str, cell: Callable[[Result], str]) -> None:
        print(f"| {label} | " + " | ".join(cell(r) for r in results) + " |")

    row("NAS asleep (soft sleep or suspend)", lambda r: f"{r.asleep_share:.1%}")
    row("wakes", lambda r: str(r.wakes))
    row("NAS energy for the day (plug)", lambda r: f"{r.nas_kwh:.3f} kWh")
    row("with BaluPi's 4 W", lambda r: f"{r.nas_kwh + r.pi_kwh:.3f} kWh")
    row("NAS energy, awake at its idle 40 W", lambda r: f"{r.nas_kwh_at_idle:.3f} kWh")
    row("client requests", lambda r: str(r.requests))
    row(
        "... in flight while the NAS woke",
        lambda r: f"{r.waited} ({r.waited / max(r.requests, 1):.2%})",
    )
    row("... their p95 duration", lambda r: f"{r.p95_wait_ms:.0f} ms" if r.waited else "-")
    row("failed client requests", lambda r: str(sum(r.failed.values())))
    row(
        "uploads landed exactly once",
        lambda r: f"{r.uploads_good}/{r.uploads_expected} ({r.uploads_by_midnight} by midnight)",
    )
    row(
        "poll rounds done (skipped: machine too slow)",
        lambda r: f"{r.polls_done} ({r.polls_missed})",
    )
    row("other actions late, p95 (emulated)", lambda r: f"{r.lag_p95_s:.0f} s")
    for r in results:
        print(f"\n{labels[r.mode]}:")
        for reason, count in r.wake_reasons.most_common(8):
            print(f"  wake: {count:4d} x {reason}  (the NAS's history)")
        for cause, count in r.wake_causes.most_common(8):
            print(f"  wake: {count:4d} x while waiting: {cause}")
        for kind, count in r.failed.most_common():
            print(f"  failed: {count:4d} x {kind}")
        for problem in r.upload_problems[:10]:
            print(f"  upload: {problem}")
        if r.bad_content:
            print(f"  downloads with wrong content: {r.bad_content}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=360.0, help="emulated seconds a second")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--drain", type=float, default=20.0, help="real s for uploads after midnight"
    )
    parser.add_argument("--only", choices=("direct", "pi"))
    parser.add_argument("--nas-child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--storage", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.nas_child:
        asyncio.run(_serve_nas(args.storage, args.scale))
        return
    modes = [args.only] if args.only else ["direct", "pi"]
    started = time.monotonic()
    results = []
    for mode in modes:
        print(f"running the day {mode} …", file=sys.stderr, flush=True)
        results.append(one_run(mode, args))
    print_table(results, args.scale)
    print(f"\n(both runs took {time.monotonic() - started:.0f} s)")


if __name__ == "__main__":
    main()
