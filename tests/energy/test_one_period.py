"""One definition of each period (issue 13): the calendar day, week, month or year holding now,
counted up to the closed hours; the costs answer says which window that is, and the history of
that window adds up to the same energy and cost."""

from __future__ import annotations

from datetime import timedelta

import httpx
import pytest

from balupi.clock import ManualClock
from balupi.services.container import Services
from balupi.services.energy import EnergyService, TariffDraft
from tests.energy.plugs import add_plug, berlin, constant, sample, steady_hours, store
from tests.energy.test_api import Headers, app, http, services, user  # noqa: F401 (fixtures)


@pytest.mark.parametrize(
    ("period", "start", "end"),
    [
        ("day", berlin(2026, 1, 14), berlin(2026, 1, 15)),
        ("week", berlin(2026, 1, 12), berlin(2026, 1, 19)),
        ("month", berlin(2026, 1, 1), berlin(2026, 2, 1)),
        ("year", berlin(2026, 1, 1), berlin(2027, 1, 1)),
    ],
)
async def test_the_costs_window_and_the_history_of_it_agree(
    http: httpx.AsyncClient,  # noqa: F811
    services: Services,  # noqa: F811
    clock: ManualClock,
    user: Headers,  # noqa: F811
    period: str,
    start: object,
    end: object,
) -> None:
    energy: EnergyService = services.energy
    await energy.tariffs.create(TariffDraft("flat", 300_000, valid_from=berlin(2025, 1, 1).date()))
    plug = await add_plug(services.sessions, "nas")
    # Closed hours before today, today's readings up to now (12:00 in Berlin): the job closes
    # the hours up to 11:00.
    await steady_hours(
        energy, services.sessions, plug, 25, berlin(2025, 12, 20), berlin(2026, 1, 14)
    )
    await store(services.sessions, plug, sample(constant(25), berlin(2026, 1, 14), clock.now()))
    await energy.roll_up()

    costs = (await http.get("/api/energy/costs", params={"period": period}, headers=user)).json()

    iso = lambda moment: moment.isoformat().replace("+00:00", "Z")  # noqa: E731
    assert (costs["from"], costs["to"]) == (iso(start), iso(end))
    assert costs["counted_until"] == iso(berlin(2026, 1, 14, 11))
    assert costs["now"] == iso(clock.now())
    window = {"range": period, "from": costs["from"], "to": costs["counted_until"]}
    history = (await http.get("/api/energy/history", params=window, headers=user)).json()
    energy_wh = sum(p["energy_wh"] for p in history["total"])
    # Equal but for each five-minute slot's rounding to whole mWh (a day: under 0.3 Wh).
    assert energy_wh == pytest.approx(costs["total"]["energy_wh"], abs=0.3)
    assert energy_wh > 0
    first = max(start, berlin(2025, 12, 20))  # type: ignore[type-var]
    assert energy_wh == pytest.approx(
        25 * (berlin(2026, 1, 14, 11) - first) / timedelta(hours=1), rel=1e-3
    )
