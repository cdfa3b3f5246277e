"""Energy over time: roll-ups, retention, tariffs, costs, history and the summary.

``service.EnergyService`` puts the parts together; ``integration`` holds the one rule by which
power readings become energy, ``calendar`` what a local day is, and ``store`` every query.
"""

from balupi.services.energy.aggregation import RollupPolicy, RollupReport
from balupi.services.energy.calendar import LocalCalendar, Period
from balupi.services.energy.errors import (
    DeviceNotFound,
    EnergyError,
    TariffConflict,
    TariffInvalid,
    TariffNotFound,
)
from balupi.services.energy.history import HistoryRange, Resolution
from balupi.services.energy.service import EnergyService
from balupi.services.energy.tariffs import Tariff, TariffDraft

__all__ = [
    "DeviceNotFound",
    "EnergyError",
    "EnergyService",
    "HistoryRange",
    "LocalCalendar",
    "Period",
    "Resolution",
    "RollupPolicy",
    "RollupReport",
    "Tariff",
    "TariffConflict",
    "TariffDraft",
    "TariffInvalid",
    "TariffNotFound",
]
