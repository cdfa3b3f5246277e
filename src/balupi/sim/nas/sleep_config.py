"""BaluHost's sleep configuration (``/api/system/sleep/config``), as the emulator keeps it.

The values and their defaults, and a partial update with BaluHost's bounds. Apart from the state
machine in ``sleep.py``, which applies them and re-exports both names.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class SleepConfig(BaseModel):
    """The sleep configuration as ``GET /api/system/sleep/config`` shows it, with its defaults.

    Frozen: a change is a new object (``SleepConfigUpdate.applied_to``), so one config may be
    shared, hashed and kept in a frozen ``NasEmulatorConfig``.
    """

    model_config = ConfigDict(frozen=True)

    auto_idle_enabled: bool = False
    idle_timeout_minutes: int = 15
    idle_cpu_threshold: float = 5.0
    idle_disk_io_threshold: float = 0.5
    idle_http_threshold: float = 5.0
    auto_escalation_enabled: bool = False
    escalation_after_minutes: int = 60
    schedule_enabled: bool = False
    schedule_sleep_time: str = "23:00"
    schedule_wake_time: str = "06:00"
    schedule_mode: Literal["soft", "suspend"] = "soft"
    pause_monitoring: bool = True
    pause_disk_io: bool = True
    reduced_telemetry_interval: float = 30.0
    disk_spindown_enabled: bool = True
    presence_enabled: bool = True
    presence_mode: str = "active"
    presence_timeout_minutes: int = 3


class SleepConfigUpdate(BaseModel):
    """A partial ``PUT /api/system/sleep/config``: fields left out (or null) keep their value."""

    auto_idle_enabled: bool | None = None
    idle_timeout_minutes: int | None = Field(None, ge=1, le=1440)
    idle_cpu_threshold: float | None = Field(None, ge=0.0, le=100.0)
    idle_disk_io_threshold: float | None = Field(None, ge=0.0)
    idle_http_threshold: float | None = Field(None, ge=0.0)
    auto_escalation_enabled: bool | None = None
    escalation_after_minutes: int | None = Field(None, ge=1, le=1440)
    schedule_enabled: bool | None = None
    schedule_sleep_time: str | None = None
    schedule_wake_time: str | None = None
    schedule_mode: Literal["soft", "suspend"] | None = None
    pause_monitoring: bool | None = None
    pause_disk_io: bool | None = None
    reduced_telemetry_interval: float | None = Field(None, ge=5.0, le=300.0)
    disk_spindown_enabled: bool | None = None
    presence_enabled: bool | None = None
    presence_mode: str | None = None
    presence_timeout_minutes: int | None = Field(None, ge=1, le=1440)

    def applied_to(self, config: SleepConfig) -> SleepConfig:
        """``config`` with this update's non-null fields in place."""
        changes = {k: v for k, v in self.model_dump(exclude_unset=True).items() if v is not None}
        return config.model_copy(update=changes)
