"""One poll round of 10 plugs, 2 of them dead, against the poll interval (issue 6, item 9).

Eight Tapo plug emulators answer through unmodified python-kasa; of the other two, one port has
nothing listening (a plug that is off) and one accepts the connection and never answers (a hung
plug). The real app's Tapo service polls them all, concurrently, with its per-plug timeout. The
reference is a round of the eight live plugs alone, measured in the same run.

Run:  .venv/bin/python bench/poll_round.py [--rounds 5] [--interval 30]
Not part of the test suite: it prints figures, it does not pass or fail.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import statistics
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

from pydantic import SecretStr

from balupi.app import create_app
from balupi.config import Settings
from balupi.services.container import Services
from balupi.services.tapo import PlugAddress
from balupi.services.tapo.client import PlugIdentity
from balupi.services.tapo.devices import PlugStore
from balupi.sim.measure import free_port
from balupi.sim.plug.server import PlugConfig, PlugEmulator

USER, PASSWORD = "bench@balupi.invalid", "bench-pw"


@contextlib.asynccontextmanager
async def _hung_plug() -> AsyncIterator[PlugAddress]:
    hold = asyncio.Event()

    async def never_answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await hold.wait()
        writer.close()

    server = await asyncio.start_server(never_answer, "127.0.0.1", 0)
    try:
        yield PlugAddress("127.0.0.1", server.sockets[0].getsockname()[1])
    finally:
        hold.set()
        server.close()


async def _add_live(services: Services, plugs: list[PlugEmulator]) -> None:
    for plug in plugs:
        await services.tapo.add(PlugAddress("127.0.0.1", plug.port))


async def _add_dead(services: Services, dead: list[tuple[int, PlugAddress]]) -> None:
    """Stored as a previous run knew them (they cannot be added while they do not answer)."""
    store = PlugStore(services.sessions)
    for n, where in dead:
        identity = PlugIdentity(
            mac=f"50:C7:BF:00:10:{n:02X}", model="P110", alias=f"plug {n}", firmware=None
        )
        await store.upsert(identity, where, {}, seen_at=services.clock.now())


async def _with_app(
    settings: Settings, prepare: Callable[[Services], Awaitable[None]], rounds: int = 5
) -> list[float]:
    """Start the app, ``prepare`` it, time ``rounds`` poll rounds, stop it; the database stays,
    so the next start polls whatever is stored by then."""
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        services: Services = app.state.services
        await prepare(services)
        return await _rounds(services, rounds)


async def _rounds(services: Services, count: int) -> list[float]:
    times = []
    for _ in range(count):
        started = time.perf_counter()
        await services.tapo.poll_round()
        times.append(time.perf_counter() - started)
    return times


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--interval", type=int, default=30)
    args = parser.parse_args()
    async with contextlib.AsyncExitStack() as stack:
        temporary = stack.enter_context(tempfile.TemporaryDirectory(prefix="balupi-poll-"))
        plugs = [
            await stack.enter_async_context(
                PlugEmulator(
                    PlugConfig(
                        username=USER,
                        password=PASSWORD,
                        mac=f"50:C7:BF:00:10:{n:02X}",
                        alias=f"plug {n}",
                        power=f"constant:{10 * n}",
                    )
                )
            )
            for n in range(1, 9)
        ]
        hung = await stack.enter_async_context(_hung_plug())
        settings = Settings(
            data_dir=Path(temporary),
            tapo_username=USER,
            tapo_password=SecretStr(PASSWORD),
            energy_poll_seconds=args.interval,
            mdns_enabled=False,
        )
        dead = [
            (9, PlugAddress("127.0.0.1", free_port())),  # nothing listens: a plug that is off
            (10, hung),  # accepts and never answers: a hung plug
        ]

        async def first_start(services: Services) -> None:
            await _add_live(services, plugs)
            await _add_dead(services, dead)  # polled from the next start on

        async def second_start(services: Services) -> None:
            return None

        live_only = await _with_app(settings, first_start, args.rounds)
        with_dead = await _with_app(settings, second_start, args.rounds)

    print(f"poll interval {args.interval} s; {args.rounds} rounds each")
    print(
        f"8 live plugs             p50 {statistics.median(live_only):6.2f} s  "
        f"max {max(live_only):6.2f} s"
    )
    print(
        f"8 live + 2 dead plugs    p50 {statistics.median(with_dead):6.2f} s  "
        f"max {max(with_dead):6.2f} s"
    )
    print(f"slowest round / interval     {max(with_dead) / args.interval:.2f}  (aim < 1)")
    cost = statistics.median(with_dead) / statistics.median(live_only)
    print(f"dead plugs' cost (p50 ratio) {cost:.1f}x")


if __name__ == "__main__":
    asyncio.run(main())
