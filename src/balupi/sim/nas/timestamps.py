"""How the emulated NAS writes points in time, in the two styles BaluHost's responses mix.

Columns read back from SQLite come out naive (no offset, docs/compat/nas-api.md §2.1); a few
hand-built responses add a ``Z``. Keeping both here stops each route from inventing a third.
"""

from __future__ import annotations

from datetime import UTC, datetime


def iso_z(timestamp: float, timespec: str = "microseconds") -> str:
    """UTC ISO-8601 with a ``Z``; ``timespec="milliseconds"`` gives ``2026-01-01T12:00:00.123Z``."""
    moment = datetime.fromtimestamp(timestamp, UTC)
    return moment.isoformat(timespec=timespec).replace("+00:00", "Z")


def naive_iso(timestamp: float) -> str:
    """UTC ISO-8601 without an offset, as BaluHost serialises its SQLite datetimes."""
    return datetime.fromtimestamp(timestamp, UTC).replace(tzinfo=None).isoformat()
