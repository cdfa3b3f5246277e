"""The energy services' errors: what a caller did wrong, with the status the API answers.

EnergyError            (a BaluPiError)
├── DeviceNotFound     no plug with that id (404)
├── TariffNotFound     no tariff with that id (404)
├── TariffInvalid      a tariff that cannot mean anything (422)
├── TariffConflict     a tariff that contradicts the stored ones (409)
└── WindowInvalid      a history or summary window that cannot be answered (422)
"""

from __future__ import annotations

from balupi.errors import BaluPiError


class EnergyError(BaluPiError):
    """Refused energy request; ``status_code`` and ``detail`` are what the API answers."""

    code = "energy_error"
    status_code = 400
    detail: str = "The energy request cannot be answered"

    def __init__(self, detail: str) -> None:
        super().__init__(detail)


class DeviceNotFound(EnergyError):
    code = "device_not_found"
    status_code = 404

    def __init__(self, device_id: int) -> None:
        super().__init__(f"no plug with id {device_id}")


class TariffNotFound(EnergyError):
    code = "tariff_not_found"
    status_code = 404

    def __init__(self, tariff_id: int) -> None:
        super().__init__(f"no tariff with id {tariff_id}")


class TariffInvalid(EnergyError):
    code = "tariff_invalid"
    status_code = 422


class TariffConflict(EnergyError):
    code = "tariff_conflict"
    status_code = 409


class WindowInvalid(EnergyError):
    code = "window_invalid"
    status_code = 422
