"""Durations as people write them in configuration: ``90``, ``90s``, ``30m``, ``6h``, ``1h30m``.

A small grammar of its own, apart from ``config.py``: ``Settings`` hands a duration setting's
string (``SYNC_MAX_WAIT``) here, and any later duration setting is written the same way.
"""

from __future__ import annotations

import re

_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)\s*([smhd]?)", re.IGNORECASE)
_DURATION_UNIT = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86_400}


def parse_duration(text: str) -> float:
    """Seconds in ``text``: a number of seconds or parts like "6h", "1h30m", "45s" (else a
    ``ValueError`` that says how to write one)."""
    compact = text.strip().replace(" ", "")
    parts = _DURATION_PART.findall(compact)
    if (
        not compact
        or "".join(n + u for n, u in parts) != compact
        or (len(parts) > 1 and any(not u for _, u in parts))
    ):
        raise ValueError(f"{text!r} is not a duration; write seconds or e.g. 90s, 30m, 6h, 1d")
    return sum(float(number) * _DURATION_UNIT[unit.lower()] for number, unit in parts)
