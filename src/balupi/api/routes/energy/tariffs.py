"""``/api/energy/tariffs``: the prices energy is costed at (read with a login, changed by an admin).

Prices are entered as a decimal per kWh and kept as exact micros; dates and times are local.
"""

from __future__ import annotations

from datetime import date, time
from decimal import Decimal

from fastapi import Response, status
from pydantic import BaseModel

from balupi.api.deps import AdminUser, CurrentUser, EnergyDep
from balupi.api.params import RowId
from balupi.api.routes.energy.common import energy_router
from balupi.services.energy import Tariff, TariffDraft
from balupi.services.energy.tariff_book import TariffChange
from balupi.services.energy.tariffs import price_micros

router = energy_router()


class TariffIn(BaseModel):
    """A tariff as an admin enters it: a price per kWh in the currency, local dates and times."""

    # Lengths and ranges are checked by TariffDraft.validated(), which says what is wrong in
    # a plain sentence; pydantic's would name the API's fields.
    name: str
    price_per_kwh: Decimal
    currency: str = "EUR"
    valid_from: date
    valid_until: date | None = None
    starts_at: time | None = None
    ends_at: time | None = None

    def draft(self) -> TariffDraft:
        return TariffDraft(
            name=self.name,
            price_per_kwh_micros=price_micros(self.price_per_kwh),
            currency=self.currency,
            valid_from=self.valid_from,
            valid_until=self.valid_until,
            starts_at=self.starts_at,
            ends_at=self.ends_at,
        )


class TariffPublic(BaseModel):
    id: int
    name: str
    price_per_kwh: float
    price_per_kwh_micros: int
    currency: str
    valid_from: date
    valid_until: date | None
    starts_at: str | None
    ends_at: str | None

    @classmethod
    def of(cls, tariff: Tariff) -> TariffPublic:
        return cls(
            id=tariff.id,
            name=tariff.name,
            price_per_kwh=tariff.price_per_kwh_micros / 1_000_000,
            price_per_kwh_micros=tariff.price_per_kwh_micros,
            currency=tariff.currency,
            valid_from=tariff.valid_from,
            valid_until=tariff.valid_until,
            starts_at=tariff.starts_at.strftime("%H:%M") if tariff.starts_at else None,
            ends_at=tariff.ends_at.strftime("%H:%M") if tariff.ends_at else None,
        )


class TariffCreatedPublic(BaseModel):
    tariff: TariffPublic
    superseded: list[TariffPublic]

    @classmethod
    def of(cls, change: TariffChange) -> TariffCreatedPublic:
        return cls(
            tariff=TariffPublic.of(change.tariff),
            superseded=[TariffPublic.of(old) for old in change.superseded],
        )


@router.get("/tariffs")
async def list_tariffs(energy: EnergyDep, user: CurrentUser) -> list[TariffPublic]:
    return [TariffPublic.of(tariff) for tariff in await energy.tariffs.all()]


@router.post("/tariffs", status_code=status.HTTP_201_CREATED)
async def create_tariff(
    energy: EnergyDep,
    admin: AdminUser,
    body: TariffIn,
    response: Response,
    dry_run: bool = False,
) -> TariffCreatedPublic:
    """A new price from ``valid_from`` on (an open-ended one ends its open-ended predecessor);
    ``?dry_run=true`` stores nothing and answers 200 with what would change (``superseded``)."""
    change = await energy.tariffs.create(body.draft(), dry_run=dry_run)
    if dry_run:
        response.status_code = status.HTTP_200_OK
    return TariffCreatedPublic.of(change)


@router.put("/tariffs/{tariff_id}")
async def replace_tariff(
    energy: EnergyDep, admin: AdminUser, tariff_id: RowId, body: TariffIn
) -> TariffPublic:
    return TariffPublic.of(await energy.tariffs.replace(tariff_id, body.draft()))


@router.delete("/tariffs/{tariff_id}")
async def delete_tariff(energy: EnergyDep, admin: AdminUser, tariff_id: RowId) -> TariffPublic:
    """Removes the tariff and answers it (200, never 204)."""
    return TariffPublic.of(await energy.tariffs.delete(tariff_id))
