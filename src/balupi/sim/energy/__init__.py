"""Demo energy history: months of plug readings and NAS link states for charts and costs.

Demo data only: BaluPi's services never import this package; ``balupi sim energy-history``,
the demo and the benchmarks do.
"""

from balupi.sim.energy.filler import FillReport, HistoryFiller

__all__ = ["FillReport", "HistoryFiller"]
