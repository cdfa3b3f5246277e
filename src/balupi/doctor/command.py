"""``balupi doctor`` on the command line: options, the header, the lines, the exit status."""

from __future__ import annotations

import argparse
import getpass
import os
import sys

from balupi import __version__
from balupi.config import ConfigError, load_settings_reporting
from balupi.doctor.core import Doctor
from balupi.doctor.findings import DoctorOptions, Finding, Status, summary
from balupi.logs import configure_logging


def _options(args: argparse.Namespace) -> DoctorOptions:
    password = args.nas_password or os.environ.get("BALUPI_DOCTOR_NAS_PASSWORD")
    if args.nas_user and password is None and sys.stdin.isatty():
        password = getpass.getpass(f"NAS password of {args.nas_user}: ")
    return DoctorOptions(
        nas_user=args.nas_user,
        nas_password=password or "",
        contact_nas=not args.no_nas,
        timeout=args.timeout,
    )


async def run_doctor(args: argparse.Namespace) -> int:
    """``balupi doctor``: print one line per check; 1 if any failed, else 0."""
    configure_logging(json_lines=False, level="ERROR")  # findings, not the services' log lines
    options = _options(args)
    print(
        f"BaluPi doctor {__version__}. "
        + (
            "It contacts the NAS (an explicit admin action; it leaves a NAS it knows asleep "
            "alone, else a request may wake a soft-sleeping NAS) and every plug."
            if options.contact_nas
            else "The NAS is left alone (--no-nas); it contacts every plug."
        ),
        flush=True,
    )
    try:
        settings, problems = load_settings_reporting()
    except ConfigError as exc:
        print(Finding("config", Status.FAIL, str(exc), "fix the configuration file").line())
        return 1
    findings = await Doctor(settings, problems, options).run()
    for finding in findings:
        print(finding.line())
    print(summary(findings))
    return 1 if any(f.status is Status.FAIL for f in findings) else 0
