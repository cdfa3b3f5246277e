"""The Tapo plugs: python-kasa behind one boundary, polled concurrently, live and stored.

``client.py`` is the only module that imports python-kasa. ``devices.py`` stores plugs, samples
and alerts; ``poller.py`` runs one coordinator per plug and the round cadence; ``live.py`` keeps
the latest reading per plug in memory; ``alerts.py`` decides which alerts hold; ``service.py``
(``TapoService``) puts them together for the routes and feeds the NAS plug's power to
``NasLink``.
"""

from balupi.services.tapo.alerts import AlertRules
from balupi.services.tapo.client import PlugAddress, PlugConnector, PlugReading
from balupi.services.tapo.devices import KEEP, PlugChanges, PlugStore
from balupi.services.tapo.live import LivePlug, PlugState
from balupi.services.tapo.poller import PollTiming
from balupi.services.tapo.service import CurrentPower, DiscoveryEntry, PlugView, TapoService

__all__ = [
    "KEEP",
    "AlertRules",
    "CurrentPower",
    "DiscoveryEntry",
    "LivePlug",
    "PlugAddress",
    "PlugChanges",
    "PlugConnector",
    "PlugReading",
    "PlugState",
    "PlugStore",
    "PlugView",
    "PollTiming",
    "TapoService",
]
