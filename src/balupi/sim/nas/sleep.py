"""BaluHost's sleep service, emulated: auto-idle, soft sleep, true suspend, escalation, presence.

The facts it follows are written down in ``docs/compat/nas-sleep.md``. ``SleepService`` is a
synchronous state machine: it never sleeps and never reads the wall clock itself. It is driven by
``tick()`` (the emulator calls it every second or so; tests call it after moving an injected clock),
by the request guard in ``sleep_api.py`` (``record_request``, auto-wake) and by the admin routes.

Emulated time may run faster than the injected clock: with ``time_scale`` = 60 one real second is
an emulated minute, and every timer shrinks alike (the 30 s idle check, the 60 s request window,
the idle timeout, escalation, the presence timeout), so a benchmark can compress a whole day.
Timestamps shown to clients are converted back to the injected clock's time.
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from balupi.sim.nas.sleep_config import SleepConfig as SleepConfig
from balupi.sim.nas.sleep_config import SleepConfigUpdate as SleepConfigUpdate
from balupi.sim.nas.timestamps import iso_z

log = logging.getLogger(__name__)

CHECK_INTERVAL_S = 30.0  # BaluHost's idle detection loop runs every 30 s while awake
RATE_WINDOW_S = 60.0  # requests per minute are counted over the last 60 s
HEARTBEAT_INTERVAL_S = 45  # the presence heartbeat interval BaluHost hands to its clients
EMULATED_CPU_PERCENT = 4.0  # the emulated machine's CPU load (also in /api/system/info)
_REQUEST_MEMORY = 600  # BaluHost keeps the last 600 request times (about 10 minutes' worth)
_DATA_DISKS = ("/dev/sda", "/dev/sdb")  # what the emulated machine spins down in soft sleep


class SleepState(StrEnum):
    AWAKE = "awake"
    ENTERING_SOFT_SLEEP = "entering_soft_sleep"
    SOFT_SLEEP = "soft_sleep"
    ENTERING_SUSPEND = "entering_suspend"
    TRUE_SUSPEND = "true_suspend"
    WAKING = "waking"


class SleepTrigger(StrEnum):
    MANUAL = "manual"
    AUTO_IDLE = "auto_idle"
    SCHEDULE = "schedule"
    AUTO_WAKE = "auto_wake"
    AUTO_ESCALATION = "auto_escalation"
    WOL = "wol"
    RTC_WAKE = "rtc_wake"


# States in which the machine runs with its disks spun down (and draws less).
_DOZING = frozenset(
    {
        SleepState.ENTERING_SOFT_SLEEP,
        SleepState.SOFT_SLEEP,
        SleepState.ENTERING_SUSPEND,
        SleepState.TRUE_SUSPEND,
    }
)


@dataclass(frozen=True)
class HistoryEntry:
    """One row of BaluHost's sleep state log; ``at`` is in emulated time."""

    id: int
    at: float
    previous_state: SleepState
    new_state: SleepState
    reason: str
    triggered_by: SleepTrigger
    details: dict[str, Any] | None = None
    duration_seconds: float | None = None


class SleepService:
    """The sleep state machine of one emulated BaluHost (module docstring)."""

    def __init__(
        self,
        clock: Callable[[], float],
        *,
        config: SleepConfig | None = None,
        time_scale: float = 1.0,
        active_uploads: Callable[[], int] = lambda: 0,
    ) -> None:
        if time_scale <= 0:
            raise ValueError("time_scale must be positive")
        self._clock = clock
        self._origin = clock()
        self.time_scale = time_scale
        self.config = config or SleepConfig()
        self._active_uploads = active_uploads
        # Called (under no lock of the emulator's) once the service has decided to suspend the
        # machine; the emulator closes the API. None: nothing happens beyond the state change.
        self.on_suspend: Callable[[], None] | None = None
        self._lock = threading.RLock()
        self._state = SleepState.AWAKE
        self._since = self.now()
        self._requests: deque[float] = deque(maxlen=_REQUEST_MEMORY)
        self._presence: dict[str, float] = {}  # client_id -> last heartbeat (emulated time)
        self._history: list[HistoryEntry] = []
        self._idle_checks = 0
        self._idle_seconds = 0.0
        self._soft_since: float | None = None
        self._escalate_at: float | None = None
        self._spun_down: list[str] = []
        self._paused: list[str] = []
        self._next_check = self._since + CHECK_INTERVAL_S

    # -- time --------------------------------------------------------------------------------
    def now(self) -> float:
        """Emulated seconds: the injected clock, sped up ``time_scale`` times since creation."""
        return self._origin + (self._clock() - self._origin) * self.time_scale

    def _wall(self, moment: float) -> float:
        """The injected clock's time at emulated ``moment`` (for timestamps clients see)."""
        return self._origin + (moment - self._origin) / self.time_scale

    # -- reading -----------------------------------------------------------------------------
    @property
    def state(self) -> SleepState:
        return self._state

    @property
    def dozing(self) -> bool:
        """Running with disks spun down: soft sleep, or on the way into suspend."""
        return self._state in _DOZING

    def requests_per_minute(self, at: float | None = None) -> float:
        """Requests counted in the 60 (emulated) seconds up to ``at`` (default: now)."""
        end = self.now() if at is None else at
        with self._lock:
            return float(sum(1 for t in self._requests if end - RATE_WINDOW_S < t <= end))

    def anyone_present(self, at: float | None = None) -> bool:
        """A presence heartbeat within ``presence_timeout_minutes`` (if presence is enabled)."""
        return self.config.presence_enabled and self._present_clients(at) > 0

    def _present_clients(self, at: float | None = None) -> int:
        end = self.now() if at is None else at
        cutoff = end - self.config.presence_timeout_minutes * 60
        with self._lock:
            return sum(1 for t in self._presence.values() if cutoff < t <= end)

    def activity_metrics(self, at: float | None = None) -> dict[str, Any]:
        return {
            "cpu_usage_avg": EMULATED_CPU_PERCENT,
            "disk_io_avg_mbps": 0.0,
            "active_uploads": self._active_uploads(),
            "active_downloads": 0,
            "http_requests_per_minute": self.requests_per_minute(at),
        }

    def status(self) -> dict[str, Any]:
        """``GET /api/system/sleep/status``."""
        config = self.config
        present = self._present_clients() if config.presence_enabled else 0
        with self._lock:
            return {
                "current_state": self._state.value,
                "state_since": iso_z(self._wall(self._since)),
                "idle_seconds": self._idle_seconds,
                "idle_threshold_seconds": float(config.idle_timeout_minutes * 60),
                "activity_metrics": self.activity_metrics(),
                "paused_services": list(self._paused),
                "spun_down_disks": list(self._spun_down),
                "auto_idle_enabled": config.auto_idle_enabled,
                "schedule_enabled": config.schedule_enabled,
                "escalation_enabled": config.auto_escalation_enabled,
                "core_uptime": {
                    "enabled": False,
                    "active": False,
                    "current_window_label": None,
                    "current_window_ends_at": None,
                    "next_start": None,
                },
                "always_awake": {"enabled": False, "until": None, "expires_in_seconds": None},
                "presence": {
                    "enabled": config.presence_enabled,
                    "mode": config.presence_mode,
                    "active_session_count": present,
                    "anyone_present": present > 0,
                    "suppressing_suspend": present > 0,
                },
            }

    def history(self, limit: int = 50, offset: int = 0) -> dict[str, Any]:
        """``GET /api/system/sleep/history``: newest first, with the total count."""
        with self._lock:
            rows = list(reversed(self._history))[offset : offset + limit]
            total = len(self._history)
        return {"entries": [self._public(row) for row in rows], "total": total}

    def _public(self, row: HistoryEntry) -> dict[str, Any]:
        return {
            "id": row.id,
            "timestamp": iso_z(self._wall(row.at)),
            "previous_state": row.previous_state.value,
            "new_state": row.new_state.value,
            "reason": row.reason,
            "triggered_by": row.triggered_by.value,
            "details": row.details,
            "duration_seconds": row.duration_seconds,
        }

    # -- inputs ------------------------------------------------------------------------------
    def record_request(self) -> None:
        """A request arrived (presence heartbeats are not counted; the guard skips them)."""
        moment = self.now()
        with self._lock:
            self._requests.append(moment)

    def record_presence(self, client_id: str) -> None:
        moment = self.now()
        with self._lock:
            self._presence[client_id] = moment

    def update_config(self, update: SleepConfigUpdate) -> SleepConfig:
        with self._lock:
            self.config = update.applied_to(self.config)
            return self.config

    # -- the clock ---------------------------------------------------------------------------
    def tick(self) -> None:
        """Run every idle check and escalation that has come due, in order, as BaluHost's loops
        would have by now (a clock that jumps ten minutes gets its twenty checks)."""
        now = self.now()
        with self._lock:
            while self._next_check <= now:
                self._idle_check(self._next_check)
                self._next_check += CHECK_INTERVAL_S
            due = self._escalate_at
            if due is None or due > now or self._state is not SleepState.SOFT_SLEEP:
                return
            self._escalate_at = None  # one attempt per soft sleep, as BaluHost's monitor task
            if self.anyone_present(due):
                log.info("sleep: escalation skipped, a client is present")
                return
            self.enter_true_suspend("auto_escalation", SleepTrigger.AUTO_ESCALATION, at=due)

    def _idle_check(self, at: float) -> None:
        config = self.config
        if not config.auto_idle_enabled:
            self._idle_checks, self._idle_seconds = 0, 0.0
            return
        if self._state is not SleepState.AWAKE:
            return
        if not self._is_idle(at):
            self._idle_checks, self._idle_seconds = 0, 0.0
            return
        self._idle_checks += 1
        self._idle_seconds = self._idle_checks * CHECK_INTERVAL_S
        if self._idle_seconds >= config.idle_timeout_minutes * 60:
            self.enter_soft_sleep("auto_idle", SleepTrigger.AUTO_IDLE, at=at)
            self._idle_checks = 0

    def _is_idle(self, at: float) -> bool:
        config, metrics = self.config, self.activity_metrics(at)
        return not (
            metrics["cpu_usage_avg"] > config.idle_cpu_threshold
            or metrics["disk_io_avg_mbps"] > config.idle_disk_io_threshold
            or metrics["active_uploads"] > 0
            or metrics["http_requests_per_minute"] > config.idle_http_threshold
        )

    # -- transitions -------------------------------------------------------------------------
    def enter_soft_sleep(
        self, reason: str, trigger: SleepTrigger, *, at: float | None = None
    ) -> bool:
        """Awake → soft sleep (HTTP stays up, disks spin down); False from any other state."""
        moment = self.now() if at is None else at
        with self._lock:
            if self._state is not SleepState.AWAKE:
                return False
            config = self.config
            self._paused = [
                name
                for name, on in (
                    ("monitoring_orchestrator", config.pause_monitoring),
                    ("disk_io_monitor", config.pause_disk_io),
                )
                if on
            ]
            self._spun_down = list(_DATA_DISKS) if config.disk_spindown_enabled else []
            self._soft_since = moment
            self._escalate_at = (
                moment + config.escalation_after_minutes * 60
                if config.auto_escalation_enabled
                else None
            )
            details = {"paused_services": self._paused, "spun_down_disks": self._spun_down}
            self._move(SleepState.SOFT_SLEEP, reason, trigger, moment, details=details)
            return True

    def exit_soft_sleep(self, reason: str) -> bool:
        """Soft sleep → awake; BaluHost logs every exit as triggered by ``auto_wake``."""
        moment = self.now()
        with self._lock:
            if self._state not in (SleepState.SOFT_SLEEP, SleepState.ENTERING_SOFT_SLEEP):
                return False
            duration = moment - self._soft_since if self._soft_since is not None else None
            self._paused, self._spun_down = [], []
            self._soft_since = self._escalate_at = None
            self._idle_checks, self._idle_seconds = 0, 0.0
            self._move(SleepState.AWAKE, reason, SleepTrigger.AUTO_WAKE, moment, duration=duration)
            return True

    def enter_true_suspend(
        self, reason: str, trigger: SleepTrigger, *, at: float | None = None
    ) -> bool:
        """Awake or soft sleep → true suspend (through soft sleep); the machine then goes away.

        An automatic suspend is refused while a client is present; a manual one never is.
        """
        moment = self.now() if at is None else at
        with self._lock:
            if trigger is not SleepTrigger.MANUAL and self.anyone_present(moment):
                return False
            if self._state is SleepState.AWAKE:
                self.enter_soft_sleep(reason, trigger, at=moment)
            if self._state is not SleepState.SOFT_SLEEP:
                return False
            self._escalate_at = None
            self._move(SleepState.TRUE_SUSPEND, reason, trigger, moment, details={"wake_at": None})
        if self.on_suspend is not None:
            self.on_suspend()
        return True

    def resumed(self) -> None:
        """The machine came back from a suspend: a true suspend ends through soft sleep to awake.

        The loops were frozen while it slept, so the idle checks start afresh from now.
        """
        with self._lock:
            self._next_check = self.now() + CHECK_INTERVAL_S
            if self._state is SleepState.TRUE_SUSPEND:
                self._state = SleepState.SOFT_SLEEP
                self.exit_soft_sleep("resume_from_suspend")

    def suspend_failed(self) -> None:
        """The machine could not suspend: BaluHost stays in soft sleep."""
        with self._lock:
            if self._state is SleepState.TRUE_SUSPEND:
                self._state = SleepState.SOFT_SLEEP
                self._since = self.now()

    def restarted(self) -> None:
        """The backend process started again (cold boot): awake, in-memory counters gone.

        History and presence live in BaluHost's database, so they survive.
        """
        with self._lock:
            self._state = SleepState.AWAKE
            self._since = self.now()
            self._requests.clear()
            self._idle_checks, self._idle_seconds = 0, 0.0
            self._soft_since = self._escalate_at = None
            self._paused, self._spun_down = [], []
            self._next_check = self._since + CHECK_INTERVAL_S

    def _move(
        self,
        new: SleepState,
        reason: str,
        trigger: SleepTrigger,
        at: float,
        *,
        details: dict[str, Any] | None = None,
        duration: float | None = None,
    ) -> None:
        entry = HistoryEntry(
            len(self._history) + 1, at, self._state, new, reason, trigger, details, duration
        )
        self._history.append(entry)
        self._state, self._since = new, at
        log.info("sleep: %s -> %s (%s)", entry.previous_state, new, reason)
