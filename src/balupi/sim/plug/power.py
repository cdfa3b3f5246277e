"""Where the emulated plug's load comes from: a constant, a daily profile, or the NAS emulator.

Each source says what the load draws *while the plug is switched on* (the plug reports 0 W when
off) and how much energy it used between two instants. Energy is the integral of ``watts`` with
the midpoint rule over the pieces between ``breakpoints``; that is exact for constant,
stepwise and piecewise-linear loads, so a clock that jumps a whole day still gets the right
watt-hours.

Spec strings (``--power``):

``constant:W``
    A fixed draw of ``W`` watts.
``profile:FILE``
    A daily profile in the plug's local time, repeated every day. ``FILE`` is either JSON,
    ``{"interpolation": "linear" | "step", "points": {"HH:MM": watts, …}}``, or text/CSV with one
    ``HH:MM,watts`` (or ``HH:MM watts``) per line, ``#`` comments and blank lines ignored, always
    linear. Linear interpolates between neighbouring points and wraps from the last point of a
    day to the first of the next; step holds each point's value until the next point.
``nas:URL``
    The NAS emulator's control channel: ``GET {URL}/state`` returns JSON with ``power_w``.
    Switching the plug off posts ``{URL}/power/off`` and switching it on ``{URL}/power/on``.
    Between samples the last reading holds (as a real meter's does); when the NAS emulator does
    not answer, the last good reading stays (0 W before the first one) and one warning is
    logged per outage, so a restarting NAS emulator never takes the plug down with it.
"""

from __future__ import annotations

import bisect
import itertools
import json
import logging
import math
import re
from abc import ABC, abstractmethod
from collections.abc import Iterator, Sequence
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo

import httpx

log = logging.getLogger(__name__)

Interpolation = Literal["linear", "step"]
_MINUTES_PER_DAY = 24 * 60
_HHMM = re.compile(r"^([01]?\d|2[0-3]):([0-5]\d)$")


class PowerSource(ABC):
    """The load behind the plug. Subclasses override ``watts`` and, if it has kinks, breakpoints.

    ``poll_interval_s`` is set by sources whose readings must be fetched (``refresh``); the
    emulator then samples them in the background as well as before each answer.
    """

    poll_interval_s: float | None = None

    @abstractmethod
    def watts(self, at: datetime) -> float:
        """The load's draw at ``at`` while the plug is on."""

    def breakpoints(self, start: datetime, end: datetime) -> Iterator[datetime]:
        """Instants strictly between ``start`` and ``end`` where ``watts`` changes its shape."""
        return iter(())

    def energy_wh(self, start: datetime, end: datetime) -> float:
        """Watt-hours used from ``start`` to ``end`` (the plug being on throughout)."""
        # All in UTC, so differences are elapsed time even across a DST change.
        edges = [t.astimezone(UTC) for t in (start, *self.breakpoints(start, end), end)]
        joules = 0.0
        for left, right in itertools.pairwise(edges):
            seconds = (right - left).total_seconds()
            if seconds > 0:
                joules += self.watts(left + (right - left) / 2) * seconds
        return joules / 3600

    # Hooks with deliberate no-op defaults: only the NAS source has anything to do in them.

    async def refresh(self) -> None:  # noqa: B027
        """Fetch a new reading, for sources that have to ask someone."""

    async def switched(self, on: bool) -> None:  # noqa: B027
        """The plug's relay changed; sources that power something real pass it on."""

    async def aclose(self) -> None:  # noqa: B027
        """Release connections."""


def _check_watts(watts: float) -> float:
    if not 0 <= watts < math.inf:
        raise ValueError(f"power {watts!r} must be a finite number of watts, not negative")
    return watts


class ConstantPower(PowerSource):
    def __init__(self, watts: float) -> None:
        self._watts = _check_watts(watts)

    def watts(self, at: datetime) -> float:
        return self._watts


class DailyProfile(PowerSource):
    """A load that follows the same curve every local day (see the module docstring)."""

    def __init__(
        self,
        points: Sequence[tuple[int, float]],
        *,
        tz: ZoneInfo,
        interpolation: Interpolation = "linear",
    ) -> None:
        """``points`` are (minute of the day, watts); at least one, minutes unique."""
        ordered = sorted(points)
        if not ordered:
            raise ValueError("a power profile needs at least one point")
        minutes = [m for m, _ in ordered]
        if len(set(minutes)) != len(minutes):
            raise ValueError("a power profile lists the same time twice")
        if any(not 0 <= m < _MINUTES_PER_DAY for m in minutes):
            raise ValueError("profile times must lie within one day")
        self._minutes = minutes
        self._watts = [_check_watts(w) for _, w in ordered]
        self._tz = tz
        self._interpolation = interpolation

    def watts(self, at: datetime) -> float:
        local = at.astimezone(self._tz)
        minute = local.hour * 60 + local.minute + (local.second + local.microsecond / 1e6) / 60
        index = bisect.bisect_right(self._minutes, minute) - 1  # -1: before the first point
        before_m, before_w = self._point(index)
        if self._interpolation == "step" or len(self._minutes) == 1:
            return before_w
        after_m, after_w = self._point(index + 1)
        if before_m > minute:  # wrapped: the previous point was yesterday's last
            before_m -= _MINUTES_PER_DAY
        if after_m <= before_m:  # wrapped: the next point is tomorrow's first
            after_m += _MINUTES_PER_DAY
        share = (minute - before_m) / (after_m - before_m)
        return before_w + (after_w - before_w) * share

    def _point(self, index: int) -> tuple[int, float]:
        index %= len(self._minutes)
        return self._minutes[index], self._watts[index]

    def breakpoints(self, start: datetime, end: datetime) -> Iterator[datetime]:
        first: date = start.astimezone(self._tz).date() - timedelta(days=1)
        last: date = end.astimezone(self._tz).date() + timedelta(days=1)
        day = first
        while day <= last:
            for minute in self._minutes:
                wall = datetime.combine(day, time(minute // 60, minute % 60), tzinfo=self._tz)
                moment = wall.astimezone(UTC)
                if start < moment < end:
                    yield moment
            day += timedelta(days=1)


def _minute_of_day(text: str) -> int:
    match = _HHMM.match(text.strip())
    if not match:
        raise ValueError(f"profile time {text!r} is not HH:MM (00:00–23:59)")
    return int(match[1]) * 60 + int(match[2])


def load_profile(path: Path, *, tz: ZoneInfo) -> DailyProfile:
    """Read a daily profile file (JSON or text/CSV, see the module docstring)."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ValueError(f"cannot read power profile {path}: {exc.strerror}") from exc
    if path.suffix.lower() == ".json":
        return _profile_from_json(text, path, tz)
    points: list[tuple[int, float]] = []
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        fields = [f for f in re.split(r"[,;\s]+", line) if f]
        if len(fields) != 2:
            raise ValueError(f"{path}:{number}: expected 'HH:MM,watts'")
        try:
            points.append((_minute_of_day(fields[0]), float(fields[1])))
        except ValueError as exc:
            raise ValueError(f"{path}:{number}: {exc}") from exc
    return DailyProfile(points, tz=tz)


def _profile_from_json(text: str, path: Path, tz: ZoneInfo) -> DailyProfile:
    try:
        document: Any = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path}: not valid JSON ({exc.msg})") from exc
    if not isinstance(document, dict) or not isinstance(document.get("points"), dict):
        raise ValueError(f'{path}: expected {{"points": {{"HH:MM": watts, …}}}}')
    interpolation = document.get("interpolation", "linear")
    if interpolation not in ("linear", "step"):
        raise ValueError(f"{path}: interpolation must be 'linear' or 'step'")
    points = []
    for moment, watts in document["points"].items():
        if not isinstance(watts, int | float) or isinstance(watts, bool):
            raise ValueError(f"{path}: power at {moment} is not a number")
        points.append((_minute_of_day(moment), float(watts)))
    return DailyProfile(points, tz=tz, interpolation=interpolation)


class NasPower(PowerSource):
    """The NAS emulator's reported draw, read over its control channel (module docstring)."""

    poll_interval_s = 1.0

    def __init__(self, base_url: str, *, timeout_s: float = 2.0) -> None:
        if not base_url.startswith(("http://", "https://")):
            raise ValueError(f"NAS control URL {base_url!r} must start with http:// or https://")
        self.base_url = base_url.rstrip("/")
        self._client = httpx.AsyncClient(base_url=self.base_url, timeout=timeout_s)
        self._watts = 0.0
        self._reachable = True

    def watts(self, at: datetime) -> float:
        return self._watts

    async def refresh(self) -> None:
        try:
            response = await self._client.get("/state")
            response.raise_for_status()
            reading = response.json()["power_w"]
            if not isinstance(reading, int | float) or isinstance(reading, bool):
                raise ValueError(f"power_w is {reading!r}")
            _check_watts(reading)
        except (httpx.HTTPError, ValueError, KeyError, TypeError) as exc:
            self._lost(f"no power reading from {self.base_url}/state: {exc}")
            return
        self._found()
        self._watts = float(reading)

    async def switched(self, on: bool) -> None:
        action = "on" if on else "off"
        try:
            response = await self._client.post(f"/power/{action}")
        except httpx.HTTPError as exc:
            self._lost(f"could not switch the NAS emulator {action}: {exc}")
            return
        self._found()
        if response.is_error:  # e.g. 409: the machine cannot make that transition now
            log.warning(
                "NAS emulator refused power %s: %s %s", action, response.status_code, response.text
            )

    async def aclose(self) -> None:
        await self._client.aclose()

    def _lost(self, message: str) -> None:
        if self._reachable:
            log.warning("%s; keeping %.1f W", message, self._watts)
        self._reachable = False

    def _found(self) -> None:
        if not self._reachable:
            log.info("NAS emulator at %s answers again", self.base_url)
        self._reachable = True


def parse_power_spec(spec: str, *, tz: ZoneInfo) -> PowerSource:
    """Build the source a ``--power`` spec names (module docstring); ``ValueError`` if invalid."""
    kind, sep, value = spec.partition(":")
    if not sep or not value:
        raise ValueError(f"power spec {spec!r} is not constant:W, profile:FILE or nas:URL")
    if kind == "constant":
        try:
            watts = float(value)
        except ValueError:
            raise ValueError(f"constant power {value!r} is not a number") from None
        return ConstantPower(watts)
    if kind == "profile":
        return load_profile(Path(value), tz=tz)
    if kind == "nas":
        return NasPower(value)
    raise ValueError(f"unknown power source {kind!r}: use constant:W, profile:FILE or nas:URL")
