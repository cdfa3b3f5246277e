"""Clocks for tests.

``ManualClock`` sleeps until the test advances it: tests that step a loop use it. Tests written
before loops slept on the clock let the loop run on real time (tiny intervals, ``eventually``)
while they move the wall clock by hand; they use ``RealSleepClock``.
"""

from __future__ import annotations

import asyncio

from balupi.clock import ManualClock


class RealSleepClock(ManualClock):
    """A ``ManualClock`` whose ``now()``/``monotonic()`` move by hand but whose sleeps are real."""

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(max(seconds, 0.0))
