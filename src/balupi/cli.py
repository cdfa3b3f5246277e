"""The ``balupi`` command line: ``serve``, ``demo``, ``sim …``, ``db …`` and ``doctor``.

Configuration problems end the command with one line on stderr and exit status 2, never a
traceback. Heavy imports happen inside the commands so ``balupi --help`` stays quick on a Pi.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import socket
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from balupi import __version__
from balupi.config import ConfigError, Settings, check_data_dir, load_settings

if TYPE_CHECKING:
    import uvicorn

EXIT_CONFIG = 2
EXIT_FAILED = 1


def _serve(args: argparse.Namespace) -> int:
    # Start-up allocates ~100k long-lived objects (imports, models, routes): the cyclic collector
    # would walk them again and again for nothing, about 0.2 s of a Pi's start. It is switched
    # back on once the server listens, after the lifespan has frozen what start-up built.
    gc.disable()
    try:
        return _serve_with_collector_paused(args)
    finally:
        gc.enable()


def _serve_with_collector_paused(args: argparse.Namespace) -> int:
    from balupi.app import create_app
    from balupi.logs import configure_logging
    from balupi.server import ConnectionLimits, uvicorn_config

    overrides = {k: v for k, v in (("host", args.host), ("port", args.port)) if v is not None}
    settings = load_settings(**overrides)
    check_data_dir(settings)
    if not _port_free(settings.host, settings.port):
        return _port_busy(settings.host, settings.port, "--port (or BALUPI_PORT)")
    configure_logging(json_lines=settings.is_production, level=settings.log_level)
    # BaluPi's protocol: /api/auth/me and /refresh must be able to close a connection unanswered.
    config = uvicorn_config(
        create_app(settings),
        host=settings.host,
        port=settings.port,
        proxy_headers=True,
        timeout_graceful_shutdown=10,
        limits=ConnectionLimits.from_settings(settings),
    )
    _notifying_server(config).run()
    return 0


def _notifying_server(config: uvicorn.Config) -> uvicorn.Server:
    """A Uvicorn server telling systemd ``READY=1`` once it listens, ``STOPPING=1`` as it stops.

    READY waits for the listening socket, which Uvicorn opens only after the app's lifespan has
    started every service, so whatever systemd starts after BaluPi finds it answering. (Defined
    here, not at module level, so that ``balupi --help`` does not import Uvicorn.)
    """
    import uvicorn

    from balupi.services.watchdog import SystemdNotifier

    notifier = SystemdNotifier.from_environment()

    class NotifyingServer(uvicorn.Server):
        async def startup(self, sockets: list[socket.socket] | None = None) -> None:
            await super().startup(sockets=sockets)
            gc.enable()
            if self.started:
                notifier.ready(f"serving on {self.config.host}:{self.config.port}")

        async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
            notifier.stopping()
            await super().shutdown(sockets=sockets)

    return NotifyingServer(config)


def _port_free(host: str, port: int) -> bool:
    """Whether ``host:port`` can be listened on now (bound as Uvicorn binds: SO_REUSEADDR).

    Checked before anything starts, so a busy port ends the command with one line instead of
    the tracebacks of every service that was already starting up.
    """
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except OSError:
        return True  # an unknown host is the server's to report
    for family, kind, proto, _name, address in infos:
        with socket.socket(family, kind, proto) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                probe.bind(address)
            except OSError:
                return False
    return True


def _port_busy(host: str, port: int, option: str) -> int:
    print(
        f"balupi: port {port} on {host} is in use (another BaluPi or demo?); "
        f"choose a free one with {option}",
        file=sys.stderr,
    )
    return EXIT_FAILED


def _demo(args: argparse.Namespace) -> int:
    from balupi.demo import run_demo

    if not _port_free(args.host, args.port):
        return _port_busy(args.host, args.port, "--port, e.g. --port 8001")
    return asyncio.run(
        run_demo(
            port=args.port, host=args.host, data_dir=args.data_dir, history_days=args.history_days
        )
    )


def _sim_nas(args: argparse.Namespace) -> int:
    from balupi.sim.nas import cli as nas_cli

    return asyncio.run(nas_cli.run(args))


def _sim_energy_history(args: argparse.Namespace) -> int:
    from balupi.sim import energy_history

    return energy_history.run(args)


def _sim_plug(args: argparse.Namespace) -> int:
    from balupi.sim.plug import cli as plug_cli

    return plug_cli.run(args)


def _db_settings() -> Settings:
    settings = load_settings()
    check_data_dir(settings)
    return settings


def _db_upgrade(args: argparse.Namespace) -> int:
    from balupi.db.migrate import current_revision, upgrade_to_head

    settings = _db_settings()
    upgrade_to_head(settings.resolved_database_url)
    print(f"database at revision {current_revision(settings.resolved_database_url)}")
    return 0


def _db_current(args: argparse.Namespace) -> int:
    from balupi.db.migrate import current_revision, head_revision

    settings = _db_settings()
    current = current_revision(settings.resolved_database_url)
    print(f"current: {current or 'empty database'}; head: {head_revision()}")
    return 0


def _db_backup(args: argparse.Namespace) -> int:
    from balupi.clock import SystemClock
    from balupi.logs import configure_logging
    from balupi.services.backup import BackupError, DatabaseBackups

    settings = _db_settings()
    configure_logging(json_lines=False, level="WARNING")  # the result is printed below
    try:
        path = DatabaseBackups.for_settings(settings, SystemClock()).create(args.to)
    except BackupError as exc:
        print(f"balupi: backup failed: {exc}", file=sys.stderr)
        return EXIT_FAILED
    print(f"backed up to {path}")
    return 0


def _db_restore(args: argparse.Namespace) -> int:
    from balupi.clock import SystemClock
    from balupi.logs import configure_logging
    from balupi.services.backup import BackupError, restore_database, sqlite_path

    settings = _db_settings()
    configure_logging(json_lines=False, level="WARNING")  # the result is printed below
    try:
        restored = restore_database(
            args.file, sqlite_path(settings.resolved_database_url), SystemClock()
        )
    except BackupError as exc:
        print(f"balupi: restore refused: {exc}", file=sys.stderr)
        return EXIT_FAILED
    print(f"restored {args.file} to {restored.database} (revision {restored.revision})")
    for kept in restored.kept:
        print(f"the replaced file is kept as {kept}")
    print("start BaluPi now; it migrates the database if the backup is older")
    return 0


def _doctor(args: argparse.Namespace) -> int:
    from balupi.doctor import run_doctor

    return asyncio.run(run_doctor(args))


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="balupi",
        description="BaluPi: a smart cache tier and energy monitor in front of a BaluHost NAS.",
    )
    parser.add_argument("--version", action="version", version=f"balupi {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    serve = commands.add_parser("serve", help="run the service (configured by BALUPI_* / file)")
    serve.add_argument("--host", help="address to listen on (BALUPI_HOST)")
    serve.add_argument("--port", type=int, help="port to listen on (BALUPI_PORT)")
    serve.set_defaults(handler=_serve)

    demo = commands.add_parser("demo", help="run the whole simulated home on loopback")
    demo.add_argument("--port", type=int, default=8000, help="BaluPi's port (default 8000)")
    demo.add_argument("--host", default="127.0.0.1", help="BaluPi's address (default 127.0.0.1)")
    demo.add_argument(
        "--data-dir", type=Path, help="keep the demo's state here (default: a fresh temp dir)"
    )
    demo.add_argument(
        "--history-days",
        type=int,
        default=30,
        help="days of simulated energy history to fill before the plugs' live data (default 30)",
    )
    demo.set_defaults(handler=_demo)

    sim = commands.add_parser("sim", help="run one emulator of the simulated home")
    emulators = sim.add_subparsers(dest="emulator", metavar="EMULATOR", required=True)
    nas = emulators.add_parser("nas", help="a BaluHost-compatible NAS with a power model")
    _add_nas_arguments(nas)
    nas.set_defaults(handler=_sim_nas)
    plug = emulators.add_parser("plug", help="a Tapo P110/P115 smart plug speaking KLAP")
    _add_plug_arguments(plug)
    plug.set_defaults(handler=_sim_plug)
    history = emulators.add_parser(
        "energy-history", help="fill the database with months of realistic plug history"
    )
    _add_energy_history_arguments(history)
    history.set_defaults(handler=_sim_energy_history)

    db = commands.add_parser("db", help="database maintenance")
    db_commands = db.add_subparsers(dest="db_command", metavar="ACTION", required=True)
    db_commands.add_parser("upgrade", help="apply migrations up to head").set_defaults(
        handler=_db_upgrade
    )
    db_commands.add_parser("current", help="show the database's revision").set_defaults(
        handler=_db_current
    )
    backup = db_commands.add_parser(
        "backup", help="back the database up now (online: BaluPi may keep running)"
    )
    backup.add_argument(
        "--to", type=Path, help="write this new file (default: DATA_DIR/backups, keeping N)"
    )
    backup.set_defaults(handler=_db_backup)
    restore = db_commands.add_parser(
        "restore", help="replace the database with a backup (BaluPi must be stopped)"
    )
    restore.add_argument("file", type=Path, help="a backup made by 'balupi db backup'")
    restore.set_defaults(handler=_db_restore)

    doctor = commands.add_parser(
        "doctor", help="check the configuration, data path, NAS, plugs, mDNS and clock"
    )
    doctor.add_argument(
        "--nas-user", help="log in to the NAS as this user to verify BALUPI_NAS_JWT_SECRET"
    )
    doctor.add_argument(
        "--nas-password",
        help="that user's password (default: $BALUPI_DOCTOR_NAS_PASSWORD, else asked for)",
    )
    doctor.add_argument(
        "--no-nas", action="store_true", help="leave the NAS alone (no health check, no login)"
    )
    doctor.add_argument(
        "--timeout", type=float, default=5.0, help="seconds to wait for the NAS or a plug"
    )
    doctor.set_defaults(handler=_doctor)
    return parser


def _add_nas_arguments(parser: argparse.ArgumentParser) -> None:
    from balupi.sim.nas import cli as nas_cli

    nas_cli.add_arguments(parser)


def _add_energy_history_arguments(parser: argparse.ArgumentParser) -> None:
    from balupi.sim import energy_history

    energy_history.add_arguments(parser)


def _add_plug_arguments(parser: argparse.ArgumentParser) -> None:
    from balupi.sim.plug import cli as plug_cli

    plug_cli.add_arguments(parser)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``balupi`` and ``python -m balupi``."""
    args = build_parser().parse_args(argv)
    handler: Callable[[argparse.Namespace], int] = args.handler
    try:
        return handler(args)
    except ConfigError as exc:
        print(f"balupi: configuration error: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
