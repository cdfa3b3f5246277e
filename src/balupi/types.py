"""BaluPi's domain words: the few values that cross layers (database, services, API, emulators).

Each is a plain alias, not a ``NewType``: a signature says what a number or a string *is* (which
plug, which unit) without making every caller wrap its values. They carry the unit where the
unit is not in the name already, so ``Watts`` and ``Milliwatts`` cannot be mistaken for each
other in a signature. This module depends on nothing of BaluPi's, so everything may import it.

Not here on purpose: ``NasState`` (the link's enum lives with its table in ``db.models``),
and a NAS path type (the emulator's ``sim.nas.paths.NasPath`` is a class of its own; the
services pass NAS paths as BaluHost writes them, plain strings).
"""

from __future__ import annotations

from typing import Literal, TypeAlias

# A smart plug: ``tapo_devices.id``, the key of its readings, roll-ups, alerts and API routes.
DeviceId: TypeAlias = int

# Power as people say it (thresholds, simulated loads): float watts.
Watts: TypeAlias = float
# Power as a plug reports it and the database stores it: integer milliwatts.
Milliwatts: TypeAlias = int
# A plug's own energy counters (``today_wh``, ``month_wh``): integer watt-hours.
WattHours: TypeAlias = int
# Integrated energy (roll-ups, costs): integer milliwatt-hours, exact for a sleeping NAS.
MilliwattHours: TypeAlias = int
# Money: millionths of the currency unit (1 ct = 10 000 micros), integers for SQLite.
Micros: TypeAlias = int

# A BaluHost user's login name, as the NAS spells it (the key of a user's files and uploads).
UserName: TypeAlias = str
# The two roles BaluHost knows.
UserRole: TypeAlias = Literal["admin", "user"]
# A file's content hash, 64 lower-case hex digits (uploads, the cache, thumbnails).
Sha256Hex: TypeAlias = str
