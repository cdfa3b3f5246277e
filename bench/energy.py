"""Energy benchmark: ten plugs with a year of history, its size on disk, and history latency.

    .venv/bin/python bench/energy.py [--plugs 10] [--days 365] [--requests 50] [--keep DIR]

``--keep DIR`` fills DIR and keeps it; run again with the same DIR to measure without refilling.

Fills a fresh database with ``balupi sim energy-history``'s code (raw readings for the last 7
days, hourly roll-ups for the year, daily roll-ups; retention applied), then reports:

* the database's size (after a WAL checkpoint) against the 30 MB aim, and against the same
  year kept as raw readings (the reference: what retention and roll-ups save);
* ``GET /api/energy/history`` for ``range=day`` (5-minute slots from 28 800 raw readings) and
  ``range=year`` (365 local days), all plugs stacked, through the real app over ASGI with a
  login: the first (cold) request, then p50 and p95 of ``--requests`` more, as wall time and as
  this process's CPU time (the machine may be shared), with the heap as started and again after
  ``gc.freeze()``; against ``GET /api/health`` through the same stack (the reference: what the
  HTTP layer alone costs);
* the same two calls on the service directly, and costs and summary for scale.

Not part of the test suite's pass/fail.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import sqlite3
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import httpx

from balupi.app import create_app
from balupi.config import Settings
from balupi.db.migrate import upgrade_to_head
from balupi.logs import configure_logging
from balupi.services.auth import jwt
from balupi.services.container import Services
from balupi.services.energy import HistoryRange, Period
from balupi.sim.energy_history import fill

MB = 1024 * 1024
AIM_MB = 30
AIM_MS = 50
JWT_SECRET = "energy-benchmark-nas-jwt-secret-0123456789abcdef"


class Timing:
    """Wall and CPU milliseconds of repeated calls."""

    def __init__(self) -> None:
        self.wall: list[float] = []
        self.cpu: list[float] = []

    async def measure(self, call: Callable[[], Awaitable[Any]]) -> None:
        wall, cpu = time.perf_counter(), time.process_time()
        await call()
        self.wall.append((time.perf_counter() - wall) * 1000)
        self.cpu.append((time.process_time() - cpu) * 1000)

    @staticmethod
    def _percentile(values: list[float], share: float) -> float:
        ordered = sorted(values)
        return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]

    def p50(self) -> float:
        return statistics.median(self.wall)

    def line(self, label: str) -> str:
        return (
            f"  {label:<28} p50 {self.p50():7.1f} ms  p95 {self._percentile(self.wall, 0.95):7.1f}"
            f" ms   (CPU p50 {statistics.median(self.cpu):6.1f} ms,"
            f" p95 {self._percentile(self.cpu, 0.95):6.1f} ms)"
        )


def admin_headers() -> dict[str, str]:
    now = int(time.time())
    claims = {"sub": "1", "username": "admin", "role": "admin", "type": "access", "exp": now + 3600}
    return {"Authorization": f"Bearer {jwt.encode(claims, JWT_SECRET)}"}


@dataclass(frozen=True)
class Storage:
    bytes: int  # the database file (and what is left of its WAL) after a checkpoint
    raw_readings: int
    raw_row_bytes: int  # pages of energy_samples per stored reading
    hourly_rows: int
    daily_rows: int


def storage(path: Path) -> Storage:
    with sqlite3.connect(path) as connection:
        connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")

        def one(sql: str) -> int:
            return int(connection.execute(sql).fetchone()[0] or 0)

        raw = one("SELECT COUNT(*) FROM energy_samples")
        raw_pages = one("SELECT SUM(pgsize) FROM dbstat WHERE name = 'energy_samples'")
        hours = one("SELECT COUNT(*) FROM energy_hourly")
        days = one("SELECT COUNT(*) FROM energy_daily")
    size = sum(p.stat().st_size for p in path.parent.glob(path.name + "*") if p.is_file())
    return Storage(size, raw, raw_pages // max(raw, 1), hours, days)


async def run(args: argparse.Namespace, root: Path) -> None:
    settings = Settings(
        data_dir=root,
        nas_jwt_secret=JWT_SECRET,
        mdns_enabled=False,
        _env_prefix="BALUPI_BENCH_UNUSED_",  # type: ignore[call-arg]
    )
    poll = settings.energy_poll_seconds
    readings_per_year = args.plugs * args.days * 86400 // poll
    if (root / "balupi.db").exists():
        print(f"reusing the history in {root} (delete it to fill again)")
    else:
        print(f"filling {args.plugs} plugs x {args.days} days (a reading every {poll} s)")
        started = time.perf_counter()
        root.mkdir(parents=True, exist_ok=True)
        await asyncio.to_thread(upgrade_to_head, settings.resolved_database_url)
        report = await fill(settings, args.days, args.plugs, tariffs=True, seed=1)
        print(
            f"  {report.hours} hours, {report.days} days, {report.samples} raw readings kept,"
            f" {readings_per_year / 1e6:.1f} M readings simulated,"
            f" in {time.perf_counter() - started:.0f} s"
        )

    stored = storage(root / "balupi.db")
    all_raw = readings_per_year * stored.raw_row_bytes
    print("\ndatabase")
    print(
        f"  size                         {stored.bytes / MB:7.1f} MB"
        f"   (aim <= {AIM_MB} MB: {stored.bytes / MB / AIM_MB:.2f} of it)"
    )
    print(
        f"  raw readings                 {stored.raw_readings:>9}   ({stored.raw_row_bytes} B each)"
    )
    print(f"  hourly / daily roll-ups      {stored.hourly_rows:>9} / {stored.daily_rows}")
    print(
        f"  reference: the year as raw   {all_raw / MB:7.1f} MB"
        f"   (ratio {stored.bytes / all_raw:.3f})"
    )

    app = create_app(settings)
    async with app.router.lifespan_context(app):
        services: Services = app.state.services
        energy = services.energy
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:
            headers = admin_headers()

            async def get(path: str, **params: Any) -> None:
                response = await client.get(path, params=params, headers=headers)
                response.raise_for_status()

            print(f"\nhistory over HTTP ({args.requests} requests each, after one cold request)")
            health = Timing()
            for _ in range(args.requests):
                await health.measure(partial(get, "/api/health"))
            for range_ in ("day", "year"):
                cold = Timing()
                await cold.measure(partial(get, "/api/energy/history", range=range_))
                print(
                    f"  range={range_:<5} cold request        {cold.wall[0]:7.1f} ms"
                    f"   (CPU {cold.cpu[0]:6.1f} ms)"
                )
            for heap in ("as started", "after gc.freeze()"):
                if heap != "as started":
                    # The outliers above are CPython's full collections of the whole heap
                    # (~170 000 objects after start-up); frozen, they are no longer scanned.
                    gc.collect()
                    gc.freeze()
                print(f"  heap {heap}:")
                for range_ in ("day", "year"):
                    warm = Timing()
                    for _ in range(args.requests):
                        await warm.measure(partial(get, "/api/energy/history", range=range_))
                    print(warm.line(f"  range={range_}"))
                    print(
                        f"    p50 / /api/health p50          {warm.p50() / health.p50():7.1f}x"
                        f"   (aim p50 and p95 <= {AIM_MS} ms)"
                    )
            print(health.line("reference: /api/health"))

            print("\nthe service directly")
            for label, call in (
                ("history day", lambda: energy.history.history(HistoryRange.DAY)),
                ("history year", lambda: energy.history.history(HistoryRange.YEAR)),
                ("costs month", lambda: energy.costs.report(Period.MONTH)),
                ("costs year", lambda: energy.costs.report(Period.YEAR)),
                ("summary (30 days)", lambda: energy.summary.summary(30)),
                ("roll-up, nothing to do", energy.aggregator.run),
            ):
                timing = Timing()
                for _ in range(args.requests):
                    await timing.measure(call)
                print(timing.line(label))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--plugs", type=int, default=10)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--requests", type=int, default=50)
    parser.add_argument("--keep", type=Path, help="fill this directory and keep it")
    args = parser.parse_args()
    configure_logging(json_lines=False, level="ERROR")  # the plug poller's retries are noise here
    if args.keep:
        asyncio.run(run(args, args.keep))
        return
    with tempfile.TemporaryDirectory(prefix="balupi-energy-bench-") as temporary:
        asyncio.run(run(args, Path(temporary)))


if __name__ == "__main__":
    main()
