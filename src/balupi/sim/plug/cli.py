"""``balupi sim plug``: one emulated Tapo plug on the command line.

Prints one line with the plug's URL once it listens, serves until Ctrl-C (or SIGTERM) and then
stops cleanly. The credentials default to ``TAPO_USERNAME`` / ``TAPO_PASSWORD``, the variables
BaluPi's Tapo service reads, so a demo can hand both the same account without putting the
password on a command line.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import signal
import sys
from typing import TYPE_CHECKING

from balupi.config import ConfigError

if TYPE_CHECKING:  # the emulator itself is imported when it runs, not for ``balupi --help``
    from balupi.sim.plug.server import PlugConfig, PlugEmulator


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", default="127.0.0.1", help="address (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=0, help="port (default: a free one)")
    parser.add_argument("--model", choices=["P110", "P115"], default="P110", help="plug model")
    parser.add_argument("--mac", default="50-C7-BF-00-00-01", help="MAC address")
    parser.add_argument(
        "--username",
        default=os.environ.get("TAPO_USERNAME"),
        help="Tapo account e-mail (default: TAPO_USERNAME); '' with --password '' for a "
        "factory-fresh plug",
    )
    parser.add_argument(
        "--password",
        default=os.environ.get("TAPO_PASSWORD"),
        help="Tapo account password (default: TAPO_PASSWORD)",
    )
    parser.add_argument(
        "--power",
        default="constant:0",
        metavar="SPEC",
        help="the load: constant:W, profile:FILE (daily HH:MM watts points) or nas:URL "
        "(the NAS emulator's control channel); default constant:0",
    )
    parser.add_argument(
        "--timezone", default="Europe/Berlin", help="the plug's timezone (default Europe/Berlin)"
    )
    parser.add_argument("--alias", default="BaluPi plug", help="the plug's name (nickname)")
    parser.add_argument(
        "--voltage", type=float, default=230.0, help="mains voltage in V (default 230)"
    )
    parser.add_argument("--off", action="store_true", help="start with the relay open")


def config_from_args(args: argparse.Namespace) -> PlugConfig:
    if args.username is None or args.password is None:
        raise ConfigError("the plug needs --username and --password (or TAPO_USERNAME/PASSWORD)")
    from balupi.sim.plug.server import PlugConfig

    return PlugConfig(
        username=args.username,
        password=args.password,
        host=args.host,
        port=args.port,
        model=args.model,
        mac=args.mac,
        alias=args.alias,
        power=args.power,
        timezone=args.timezone,
        voltage_v=args.voltage,
        on=not args.off,
    )


def run(args: argparse.Namespace) -> int:
    """Serve one plug until interrupted; configuration errors raise ``ConfigError``."""
    from balupi.sim.plug.server import PlugEmulator

    try:
        emulator = PlugEmulator(config_from_args(args))
    except ValueError as exc:  # an invalid --power, --mac, --model or --timezone
        raise ConfigError(str(exc)) from exc
    try:
        return asyncio.run(_serve(emulator))
    except (RuntimeError, SystemExit) as exc:
        # The port is taken or the address does not exist. Uvicorn reports the cause and then
        # exits its task with SystemExit, which asyncio passes straight out of the loop.
        print(
            f"balupi sim plug: cannot serve on {emulator.config.host}:{emulator.config.port}"
            f" ({exc!r})",
            file=sys.stderr,
        )
        return 1


async def _serve(emulator: PlugEmulator) -> int:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):  # no signal handlers on Windows
            loop.add_signal_handler(signum, stop.set)
    async with emulator as plug:
        print(
            f"plug emulator {plug.config.model} {plug.identity.mac} listening on {plug.url}",
            flush=True,
        )
        await stop.wait()
    return 0
