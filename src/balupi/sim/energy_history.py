"""``balupi sim energy-history``: fill BaluPi's database with months of plug history.

Uses the configured database (``BALUPI_DATA_DIR`` / ``BALUPI_DATABASE_URL``, or ``--data-dir``)
and ``sim.energy.HistoryFiller``: every stored plug gets realistic readings for the
last ``--days`` days up to its first real data (or the last closed hour), rolled up by the
roll-up job's own code; the NAS plug's readings also give the NAS link its awake/asleep past. With
no plugs stored it adds the demo's NAS and monitor plugs (or ``--plugs N`` plugs), and with no
tariffs a demo tariff with a night rate. Safe to run beside a running BaluPi.
"""

from __future__ import annotations

import argparse
import asyncio
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from balupi.config import Settings, check_data_dir, load_settings

if TYPE_CHECKING:  # the database stack is imported only when the command runs
    from balupi.sim.energy import FillReport


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--days", type=int, default=400, help="days of history (default 400)")
    parser.add_argument(
        "--plugs",
        type=int,
        default=0,
        help="plugs to add when none are stored (default: the demo's NAS and monitor plugs)",
    )
    parser.add_argument("--no-tariffs", action="store_true", help="do not add demo tariffs")
    parser.add_argument("--seed", type=int, default=1, help="random seed (default 1)")
    parser.add_argument("--data-dir", type=Path, help="BaluPi's data directory (BALUPI_DATA_DIR)")


def run(args: argparse.Namespace) -> int:
    from balupi.db.migrate import upgrade_to_head

    overrides: dict[str, Any] = {"data_dir": args.data_dir} if args.data_dir else {}
    settings = load_settings(**overrides)
    check_data_dir(settings)
    upgrade_to_head(settings.resolved_database_url)
    started = time.perf_counter()
    report = asyncio.run(fill(settings, args.days, args.plugs, not args.no_tariffs, args.seed))
    print(
        f"filled {args.days} days for {report.devices} plugs: {report.hours} hours, "
        f"{report.days} days, {report.samples} raw readings kept "
        f"({time.perf_counter() - started:.1f} s)"
    )
    return 0


async def fill(settings: Settings, days: int, plugs: int, tariffs: bool, seed: int) -> FillReport:
    """Fill the history of the database ``settings`` name (the CLI's and the benchmark's)."""
    from balupi.clock import SystemClock
    from balupi.db.engine import create_engine, create_sessionmaker
    from balupi.services.energy import EnergyService
    from balupi.sim.energy import HistoryFiller

    engine = create_engine(settings.resolved_database_url)
    try:
        sessions = create_sessionmaker(engine)
        clock = SystemClock()
        poll = settings.energy_poll_seconds
        energy = EnergyService(sessions, clock, settings.zone, poll_seconds=poll)
        filler = HistoryFiller(energy, sessions, clock, poll_seconds=poll, seed=seed)
        return await filler.fill(days, plugs=plugs, tariffs=tariffs)
    finally:
        await engine.dispose()
