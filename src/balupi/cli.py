"""The ``balupi`` command line: ``serve``, ``demo``, ``sim …`` and ``db …``.

Configuration problems end the command with one line on stderr and exit status 2, never a
traceback. Heavy imports happen inside the commands so ``balupi --help`` stays quick on a Pi.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from balupi import __version__
from balupi.config import ConfigError, Settings, check_data_dir, load_settings

EXIT_CONFIG = 2


def _serve(args: argparse.Namespace) -> int:
    import uvicorn

    from balupi.app import create_app
    from balupi.logs import configure_logging
    from balupi.server import uvicorn_config

    overrides = {k: v for k, v in (("host", args.host), ("port", args.port)) if v is not None}
    settings = load_settings(**overrides)
    check_data_dir(settings)
    configure_logging(json_lines=settings.is_production, level=settings.log_level)
    # BaluPi's protocol: /api/auth/me and /refresh must be able to close a connection unanswered.
    config = uvicorn_config(
        create_app(settings),
        host=settings.host,
        port=settings.port,
        proxy_headers=True,
        timeout_graceful_shutdown=10,
    )
    uvicorn.Server(config).run()
    return 0


def _demo(args: argparse.Namespace) -> int:
    from balupi.demo import run_demo

    return asyncio.run(run_demo(port=args.port, host=args.host, data_dir=args.data_dir))


def _sim_nas(args: argparse.Namespace) -> int:
    from balupi.sim.nas import cli as nas_cli

    return asyncio.run(nas_cli.run(args))


def _sim_energy_history(args: argparse.Namespace) -> int:
    from balupi.sim import energy_history

    return energy_history.run(args)


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
    demo.set_defaults(handler=_demo)

    sim = commands.add_parser("sim", help="run one emulator of the simulated home")
    emulators = sim.add_subparsers(dest="emulator", metavar="EMULATOR", required=True)
    nas = emulators.add_parser("nas", help="a BaluHost-compatible NAS with a power model")
    _add_nas_arguments(nas)
    nas.set_defaults(handler=_sim_nas)
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
    return parser


def _add_nas_arguments(parser: argparse.ArgumentParser) -> None:
    from balupi.sim.nas import cli as nas_cli

    nas_cli.add_arguments(parser)


def _add_energy_history_arguments(parser: argparse.ArgumentParser) -> None:
    from balupi.sim import energy_history

    energy_history.add_arguments(parser)


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
