"""The Pi's own health: CPU, load, memory, temperature, disk, uptime and BaluPi's memory use.

psutil calls block (an earlier BaluPi froze its event loop for 0.5 s per status call), so every
reading runs in a worker thread, at most two at a time, and a reading younger than a second is
shared between callers. CPU % is sampled by a scheduler job and read from the last sample.
"""

from __future__ import annotations

import os
import shutil
import socket
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import anyio
import psutil

from balupi.clock import Clock, utc_iso

_THERMAL_ZONE = Path("/sys/class/thermal/thermal_zone0/temp")
_SENSOR_NAMES = ("cpu_thermal", "coretemp", "k10temp", "soc_thermal", "cpu-thermal", "acpitz")


@dataclass(frozen=True)
class DiskUsage:
    path: str
    total_bytes: int
    used_bytes: int
    free_bytes: int
    percent: float


@dataclass(frozen=True)
class SystemStatus:
    hostname: str
    timestamp: str
    cpu_percent: float
    cpu_count: int
    load_average: tuple[float, float, float]
    memory_percent: float
    memory_used_mb: float
    memory_total_mb: float
    temperature_c: float | None
    uptime_seconds: int
    service_uptime_seconds: int
    process_rss_bytes: int
    process_rss_mb: float
    disk: DiskUsage

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def read_temperature() -> float | None:
    """The SoC temperature in °C, or None where the machine has no sensor (VMs, CI)."""
    try:
        sensors = psutil.sensors_temperatures()
    except (AttributeError, OSError):
        sensors = {}
    for name in _SENSOR_NAMES:
        readings = sensors.get(name)
        if readings:
            return round(float(readings[0].current), 1)
    try:
        return round(int(_THERMAL_ZONE.read_text().strip()) / 1000, 1)
    except (OSError, ValueError):
        return None


class SystemMonitor:
    """Collects ``SystemStatus`` off the event loop."""

    def __init__(self, data_dir: Path, clock: Clock, *, max_age_seconds: float = 1.0) -> None:
        self._data_dir = data_dir
        self._clock = clock
        self._started = clock.monotonic()
        self._process = psutil.Process(os.getpid())
        self._limiter = anyio.CapacityLimiter(2)
        self._lock = anyio.Lock()
        self._max_age = max_age_seconds
        self._latest: SystemStatus | None = None
        self._latest_at = float("-inf")
        self._cpu_percent = 0.0
        self.sample_cpu()  # primes psutil's counter: its first reading is meaningless

    def sample_cpu(self) -> None:
        """Blocking: CPU % since the previous sample. Run by a scheduler job in a thread."""
        self._cpu_percent = float(psutil.cpu_percent(interval=None))

    async def sample_cpu_async(self) -> None:
        await anyio.to_thread.run_sync(self.sample_cpu, limiter=self._limiter)

    async def status(self) -> SystemStatus:
        """The current status; concurrent callers share one reading."""
        async with self._lock:
            if self._clock.monotonic() - self._latest_at >= self._max_age:
                self._latest = await anyio.to_thread.run_sync(self._collect, limiter=self._limiter)
                self._latest_at = self._clock.monotonic()
        assert self._latest is not None
        return self._latest

    def _collect(self) -> SystemStatus:
        memory = psutil.virtual_memory()
        disk = shutil.disk_usage(self._data_dir)
        rss = int(self._process.memory_info().rss)
        load = os.getloadavg() if hasattr(os, "getloadavg") else (0.0, 0.0, 0.0)
        return SystemStatus(
            hostname=socket.gethostname(),
            timestamp=utc_iso(self._clock.now()),
            cpu_percent=self._cpu_percent,
            cpu_count=psutil.cpu_count() or 1,
            load_average=(round(load[0], 2), round(load[1], 2), round(load[2], 2)),
            memory_percent=float(memory.percent),
            memory_used_mb=round((memory.total - memory.available) / 2**20, 1),
            memory_total_mb=round(memory.total / 2**20, 1),
            temperature_c=read_temperature(),
            uptime_seconds=int(time.time() - psutil.boot_time()),
            service_uptime_seconds=int(self._clock.monotonic() - self._started),
            process_rss_bytes=rss,
            process_rss_mb=round(rss / 2**20, 1),
            disk=DiskUsage(
                path=str(self._data_dir.resolve()),
                total_bytes=disk.total,
                used_bytes=disk.used,
                free_bytes=disk.free,
                percent=round(disk.used / disk.total * 100, 1) if disk.total else 0.0,
            ),
        )
