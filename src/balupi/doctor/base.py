"""The state the checks share: later checks reuse what earlier ones learnt (the NAS's answer)."""

from __future__ import annotations

from datetime import datetime

import httpx

from balupi.config import Settings
from balupi.doctor.findings import DoctorOptions
from balupi.doctor.sleep import SleepView


class DoctorBase:
    """Settings, configuration problems, options, and what the NAS checks learnt."""

    def __init__(self, settings: Settings, problems: list[str], options: DoctorOptions) -> None:
        self.settings = settings
        self.problems = problems
        self.options = options
        self._health: httpx.Response | None = None
        self._health_received: datetime | None = None
        self._nas_token: str | None = None
        self._nas_error: str | None = None
        self._login_throttled = False
        self._sleep = SleepView(None)  # what the NAS check learnt of the NAS's sleep

    def _problem(self, variable: str) -> str | None:
        """The configuration problem naming ``BALUPI_<variable>``, if there is one."""
        prefix = f"BALUPI_{variable.upper()}:"
        return next((p for p in self.problems if p.startswith(prefix)), None)
