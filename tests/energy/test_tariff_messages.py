"""Tariff refusals are plain sentences without API field names, and an admin can ask first what
adding a tariff would change (issue 13)."""

from __future__ import annotations

import httpx
import pytest

from tests.energy.test_api import Headers, admin, app, http, services  # noqa: F401 (fixtures)

URL = "/api/energy/tariffs"
BASE = {"name": "Arbeitspreis", "price_per_kwh": "0.3412", "valid_from": "2026-01-01"}
# "name" and "currency" are plain words too; these are only ever field names
FIELDS = ("price_per_kwh", "valid_from", "valid_until", "starts_at", "ends_at")


@pytest.mark.parametrize(
    "body",
    [
        {**BASE, "name": " "},
        {**BASE, "name": "x" * 256},
        {**BASE, "valid_until": "2025-12-31"},
        {**BASE, "price_per_kwh": -1},
        {**BASE, "price_per_kwh": 1000},
        {**BASE, "price_per_kwh": "0.1234567"},
        {**BASE, "currency": "euro"},
        {**BASE, "starts_at": "22:00"},
        {**BASE, "starts_at": "22:00", "ends_at": "22:00"},
    ],
)
async def test_a_refused_tariff_is_a_plain_sentence(
    http: httpx.AsyncClient,  # noqa: F811
    admin: Headers,  # noqa: F811
    body: dict[str, object],
) -> None:
    answer = await http.post(URL, json=body, headers=admin)
    assert answer.status_code == 422, answer.text
    detail = answer.json()["detail"]
    assert isinstance(detail, str)
    assert detail[0].isupper()
    assert detail.endswith(".")
    assert not [field for field in FIELDS if field in detail]


async def test_an_overlap_names_the_other_tariff_plainly(
    http: httpx.AsyncClient,  # noqa: F811
    admin: Headers,  # noqa: F811
) -> None:
    night = {**BASE, "name": "Nacht", "starts_at": "22:00", "ends_at": "06:00"}
    assert (await http.post(URL, json=night, headers=admin)).status_code == 201
    clash = await http.post(URL, json={**night, "starts_at": "05:00"}, headers=admin)
    assert clash.status_code == 409
    assert clash.json()["detail"].startswith("This tariff overlaps “Nacht” (from 2026-01-01")


async def test_a_dry_run_says_which_tariff_would_be_shortened_and_changes_nothing(
    http: httpx.AsyncClient,  # noqa: F811
    admin: Headers,  # noqa: F811
) -> None:
    first = (await http.post(URL, json=BASE, headers=admin)).json()["tariff"]
    newer = {**BASE, "price_per_kwh": "0.40", "valid_from": "2026-03-01"}

    preview = await http.post(URL, params={"dry_run": "true"}, json=newer, headers=admin)

    assert preview.status_code == 200, preview.text
    would = preview.json()
    assert [(t["id"], t["valid_until"]) for t in would["superseded"]] == [
        (first["id"], "2026-03-01")
    ]
    stored = (await http.get(URL, headers=admin)).json()
    assert [(t["id"], t["valid_until"]) for t in stored] == [(first["id"], None)]
