"""What the energy routers share: their prefix, the units on the wire, and the days they answer for.

Kept in one place so that history, costs and summary write a plug, a cost line and a day the
same way: energy in Wh and money in the tariffs' currency, as floats made from exact integers.
"""

from __future__ import annotations

from datetime import date

from fastapi import APIRouter, HTTPException
from pydantic import BaseModel

from balupi.services.energy.costs import CostLine
from balupi.services.energy.store import DeviceInfo

PREFIX = "/api/energy"
TAGS: list[str] = ["energy"]

# The days the energy routes answer for: plugs kept no readings before 1970, and far beyond
# any reading the calendar's arithmetic still stays inside Python's dates.
EARLIEST_DAY = date(1970, 1, 1)
LATEST_DAY = date(9000, 12, 31)


def energy_router() -> APIRouter:
    """One family's router under ``/api/energy``, tagged ``energy`` in the OpenAPI document."""
    return APIRouter(prefix=PREFIX, tags=list(TAGS))


def wh(mwh: int) -> float:
    return mwh / 1000


def money(micros: int | None) -> float | None:
    return None if micros is None else micros / 1_000_000


def check_day(day: date, name: str) -> date:
    """``day`` if the calendar can count from it, else 422: a local midnight, the next day or
    the next year of a day at either end of Python's dates is an ``OverflowError``."""
    if not EARLIEST_DAY <= day <= LATEST_DAY:
        raise HTTPException(422, f"'{name}' must lie between {EARLIEST_DAY} and {LATEST_DAY}")
    return day


class DevicePublic(BaseModel):
    id: int
    name: str
    role: str

    @classmethod
    def of(cls, device: DeviceInfo) -> DevicePublic:
        return cls(id=device.id, name=device.name, role=device.role.value)


class CostLinePublic(BaseModel):
    energy_wh: float
    cost: float
    unpriced_energy_wh: float

    @classmethod
    def of(cls, line: CostLine) -> CostLinePublic:
        return cls(
            energy_wh=wh(line.energy_mwh),
            cost=line.cost_micros / 1_000_000,
            unpriced_energy_wh=wh(line.unpriced_energy_mwh),
        )
