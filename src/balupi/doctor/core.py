"""The doctor: every check, in order."""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable

from balupi.doctor.findings import Finding
from balupi.doctor.handshake import HandshakeChecks
from balupi.doctor.local import LocalChecks
from balupi.doctor.nas import NasChecks
from balupi.doctor.network import NetworkChecks
from balupi.doctor.plugs import PlugChecks


class Doctor(LocalChecks, NasChecks, HandshakeChecks, NetworkChecks, PlugChecks):
    """Runs the checks in order; later checks reuse what earlier ones learnt (the NAS's answer)."""

    def _checks(self) -> list[Callable[[], list[Finding] | Awaitable[list[Finding]]]]:
        return [
            self.check_config,
            self.check_data,
            self.check_disk,
            self.check_database,
            self.check_backups,
            self.check_nas,
            self.check_token_secret,
            self.check_handshake,
            self.check_wake_on_lan,
            self.check_plugs,
            self.check_mdns,
            self.check_clock,
        ]

    async def run(self) -> list[Finding]:
        findings: list[Finding] = []
        for check in self._checks():  # in order: later checks use what earlier ones learnt
            result = check()
            findings.extend(await result if inspect.isawaitable(result) else result)
        return findings
