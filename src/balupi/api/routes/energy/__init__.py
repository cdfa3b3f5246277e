"""``/api/energy/{history,costs,summary,tariffs}``: energy over time (Pi-exclusive).

One router module per family (``history``, ``costs``, ``summary``, ``tariffs``), sharing the
units and day bounds of ``common``; ``api/main.py`` mounts them in that order. Reading needs a
login, changing tariffs an admin. Units on the wire: energy in Wh, power in W, money in the
tariffs' currency (floats made from exact integers: mWh, mW, micros); instants in UTC with
``Z``; local dates (``YYYY-MM-DD``) wherever a day is meant. Live readings
(``/api/energy/current``) and alerts are the Tapo service's (``energy_live.py``).
"""

from __future__ import annotations

from balupi.api.routes.energy.history import HistoryPublic

__all__ = ["HistoryPublic"]
