"""``balupi sim nas``: run one emulated BaluHost NAS until Ctrl-C or SIGTERM.

The top-level command line calls exactly ``add_arguments`` and ``run``. While it runs, SIGUSR1
suspends the machine and SIGUSR2 wakes it (as a magic packet would), for poking it from a shell.

BaluHost's sleep service is off by default, as on a fresh BaluHost; ``--auto-idle`` switches it
on, and ``--sleep-time-scale 60`` makes each of its minutes last a real second (see
docs/compat/nas-sleep.md).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import signal
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from balupi.sim.nas.users import DEFAULT_JWT_SECRET, DEFAULT_MAC, DEFAULT_USERS, UserSpec
from balupi.sim.workdir import kept_or_temporary

if TYPE_CHECKING:  # the emulator itself is imported when it runs, not for ``balupi --help``
    from balupi.sim.nas.server import NasEmulator, NasEmulatorConfig
    from balupi.sim.nas.sleep import SleepConfig


def _user(text: str) -> UserSpec:
    try:
        return UserSpec.parse(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from exc


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The flags of ``balupi sim nas``."""
    parser.add_argument("--host", default="127.0.0.1", help="API address (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8000, help="API port, 0 = any (default 8000)")
    parser.add_argument(
        "--control-port", type=int, default=8001, help="control channel port (default 8001)"
    )
    parser.add_argument(
        "--storage", type=Path, help="storage root (default: a temporary directory)"
    )
    parser.add_argument(
        "--jwt-secret",
        default=DEFAULT_JWT_SECRET,
        help="the NAS's token-signing key (default: a fixed demo secret)",
    )
    parser.add_argument(
        "--user",
        dest="users",
        action="append",
        type=_user,
        metavar="NAME:PASSWORD[:ROLE]",
        help="a user to create (repeatable; ROLE admin or user; default: demo users)",
    )
    parser.add_argument("--mac", default=DEFAULT_MAC, help=f"the NIC's MAC (default {DEFAULT_MAC})")
    parser.add_argument(
        "--wol-port",
        type=int,
        default=9009,
        help="UDP Wake-on-LAN port on 127.0.0.1 (default 9009)",
    )
    parser.add_argument(
        "--boot-seconds", type=float, default=5.0, help="how long a boot takes (default 5)"
    )
    parser.add_argument(
        "--start-asleep", action="store_true", help="start suspended (API closed until woken)"
    )
    parser.add_argument(
        "--access-token-minutes", type=int, default=15, help="access token lifetime (default 15)"
    )
    parser.add_argument(
        "--notify-url", help="a BaluPi base URL to send the NAS's lifecycle notices to"
    )
    parser.add_argument("--handshake-secret", help="HMAC key of the lifecycle notices")
    sleep = parser.add_argument_group("sleep service (BaluHost's auto-idle and escalation)")
    sleep.add_argument(
        "--auto-idle", action="store_true", help="enter soft sleep when idle (default off)"
    )
    sleep.add_argument(
        "--idle-timeout-minutes", type=int, help="idle minutes before soft sleep (15)"
    )
    sleep.add_argument(
        "--idle-http-threshold",
        type=float,
        help="requests a minute above which the NAS is busy (default 5)",
    )
    sleep.add_argument(
        "--auto-escalation", action="store_true", help="go from soft sleep to suspend (off)"
    )
    sleep.add_argument(
        "--escalation-after-minutes",
        type=int,
        help="minutes of soft sleep before suspend (default 60)",
    )
    sleep.add_argument(
        "--sleep-time-scale",
        type=float,
        default=1.0,
        help="sleep-service seconds per real second, e.g. 60 (default 1)",
    )


def sleep_config_from_args(args: argparse.Namespace) -> SleepConfig:
    """The sleep service's start configuration, validated as ``PUT .../sleep/config`` would be;
    an option not given keeps ``SleepConfig``'s default (the one its help names)."""
    from balupi.sim.nas.sleep import SleepConfig, SleepConfigUpdate

    update = SleepConfigUpdate(
        auto_idle_enabled=args.auto_idle,
        idle_timeout_minutes=args.idle_timeout_minutes,
        idle_http_threshold=args.idle_http_threshold,
        auto_escalation_enabled=args.auto_escalation,
        escalation_after_minutes=args.escalation_after_minutes,
    )
    return update.applied_to(SleepConfig())


def config_from_args(args: argparse.Namespace, storage: Path) -> NasEmulatorConfig:
    """The emulator configuration the parsed flags describe."""
    from balupi.sim.nas.server import NasEmulatorConfig

    return NasEmulatorConfig(
        storage=storage,
        host=args.host,
        port=args.port,
        control_port=args.control_port,
        wol_port=args.wol_port,
        mac=args.mac,
        jwt_secret=args.jwt_secret,
        users=tuple(args.users) if args.users else DEFAULT_USERS,
        boot_seconds=args.boot_seconds,
        start_asleep=args.start_asleep,
        access_token_minutes=args.access_token_minutes,
        notify_url=args.notify_url,
        handshake_secret=args.handshake_secret,
        sleep=sleep_config_from_args(args),
        sleep_time_scale=args.sleep_time_scale,
    )


async def run(args: argparse.Namespace) -> int:
    """Run the emulator until SIGINT or SIGTERM; 0 on a clean stop, 2 on a bad configuration."""
    from balupi.logs import configure_logging
    from balupi.sim.nas.server import NasEmulator

    configure_logging(json_lines=False, level="INFO")
    # Every sleep and wake restarts a uvicorn server; its start/stop lines would drown ours.
    logging.getLogger("uvicorn.error").setLevel(logging.WARNING)
    with kept_or_temporary(args.storage, "balupi-nas-") as storage:
        try:
            config = config_from_args(args, storage)
        except ValueError as exc:
            print(f"balupi sim nas: {exc}", file=sys.stderr)
            return 2
        stop = asyncio.Event()
        async with NasEmulator(config) as nas:
            with _signal_handlers(
                {
                    signal.SIGINT: stop.set,
                    signal.SIGTERM: stop.set,
                    signal.SIGUSR1: nas.request_sleep,
                    signal.SIGUSR2: nas.request_wake,
                }
            ):
                _print_banner(nas, storage)
                await stop.wait()
    return 0


@contextlib.contextmanager
def _signal_handlers(handlers: dict[signal.Signals, Callable[[], None]]) -> Iterator[None]:
    loop = asyncio.get_running_loop()
    for signum, handler in handlers.items():
        loop.add_signal_handler(signum, handler)
    try:
        yield
    finally:
        for signum in handlers:
            loop.remove_signal_handler(signum)


def _print_banner(nas: NasEmulator, storage: Path) -> None:
    wol = f"udp://{nas.config.wol_host}:{nas.wol_port}" if nas.wol_port is not None else "off"
    print(
        f"BaluHost emulator: API {nas.api_url}  control {nas.control_url}  "
        f"WoL {wol} (MAC {nas.config.mac})  state {nas.state}",
        flush=True,
    )
    users = ", ".join(f"{u.username}/{u.password} ({u.role})" for u in nas.config.users)
    print(f"  users: {users}; storage: {storage}", flush=True)
    sleep = nas.nas.sleep.config
    if sleep.auto_idle_enabled:
        escalation = (
            f", suspend after {sleep.escalation_after_minutes} min"
            if sleep.auto_escalation_enabled
            else ""
        )
        print(
            f"  sleep service: soft sleep after {sleep.idle_timeout_minutes} idle min "
            f"(<= {sleep.idle_http_threshold:g} req/min){escalation}; "
            f"time x{nas.config.sleep_time_scale:g}",
            flush=True,
        )
    print("  SIGUSR1 suspends, SIGUSR2 wakes, Ctrl-C stops.", flush=True)
