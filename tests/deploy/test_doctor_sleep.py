"""``balupi doctor`` leaves a soft-sleeping NAS asleep where it can tell that it sleeps (issue 15).

``GET /api/health`` wakes a soft-sleeping BaluHost (docs/compat/nas-sleep.md). With the NAS's
signing key the doctor asks the whitelisted sleep status instead; without it, the running
BaluPi; only when neither can tell does it ask ``/api/health``, and then says that it may have
woken the NAS. The NAS emulator runs BaluHost's sleep service and logs every wake.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from pydantic import SecretStr

from balupi.config import Settings
from balupi.doctor import Doctor, DoctorOptions, Status
from balupi.sim.nas.server import NasEmulator, NasEmulatorConfig
from balupi.sim.nas.sleep import SleepTrigger
from balupi.sim.nas.users import DEFAULT_JWT_SECRET
from tests.processes import ServeProcess, free_port
from tests.waiting import eventually


def _settings(tmp_path: Path, nas: NasEmulator, **update: object) -> Settings:
    """The doctor's settings: the emulator's URL, a BaluPi on a port nothing listens on."""
    settings = Settings(
        data_dir=tmp_path / "pi",
        nas_url=nas.api_url,
        port=free_port(),
        mdns_enabled=False,
        _env_prefix="BALUPI_TEST_UNUSED_",  # type: ignore[call-arg]
    )
    return settings.model_copy(update=update)


def _auto_wakes(nas: NasEmulator) -> list[str]:
    entries = nas.nas.sleep.history(limit=1000)["entries"]
    return [e["reason"] for e in entries if e["triggered_by"] == "auto_wake"]


def _soft_sleep(nas: NasEmulator) -> None:
    assert nas.nas.sleep.enter_soft_sleep("doctor test", SleepTrigger.MANUAL)


@pytest.fixture
async def nas(tmp_path: Path) -> AsyncIterator[NasEmulator]:
    async with NasEmulator(NasEmulatorConfig(storage=tmp_path / "nas", boot_seconds=0.0)) as nas:
        yield nas


async def test_with_the_nas_key_a_sleeping_nas_is_asked_its_sleep_status_and_left_asleep(
    tmp_path: Path, nas: NasEmulator
) -> None:
    settings = _settings(tmp_path, nas, nas_jwt_secret=SecretStr(DEFAULT_JWT_SECRET))
    _soft_sleep(nas)
    doctor = Doctor(settings, [], DoctorOptions(nas_user="admin", nas_password="admin-password"))

    [finding] = await doctor.check_nas()
    [token] = doctor.check_token_secret()

    assert finding.status is Status.OK, finding.line()
    assert "sleeps (sleep status: soft_sleep since " in finding.message
    assert "left asleep" in finding.message
    assert token.status is Status.OK, token.line()
    assert "NAS_JWT_SECRET matches" in token.message
    assert nas.nas.sleep.state.value == "soft_sleep"
    assert _auto_wakes(nas) == []


async def test_with_the_nas_key_an_awake_nas_gets_its_health_checked_without_a_warning(
    tmp_path: Path, nas: NasEmulator
) -> None:
    settings = _settings(tmp_path, nas, nas_jwt_secret=SecretStr(DEFAULT_JWT_SECRET))
    doctor = Doctor(settings, [], DoctorOptions())

    [finding] = await doctor.check_nas()
    [token] = doctor.check_token_secret()

    assert finding.status is Status.OK, finding.line()
    assert "API 1" in finding.message
    assert "may have woken" not in finding.message
    assert token.status is Status.OK  # the sleep status took the minted token
    assert "NAS_JWT_SECRET matches" in token.message


async def test_with_a_wrong_nas_key_the_doctor_falls_back_and_says_it_may_have_woken_the_nas(
    tmp_path: Path, nas: NasEmulator
) -> None:
    wrong = SecretStr("not-the-nas-secret-" + "x" * 32)
    settings = _settings(tmp_path, nas, nas_jwt_secret=wrong)
    _soft_sleep(nas)

    [finding] = await Doctor(settings, [], DoctorOptions()).check_nas()

    assert "may have woken it" in finding.message, finding.line()
    assert _auto_wakes(nas) == ["auto_wake: GET /api/health"]


async def test_without_the_nas_key_and_no_running_balupi_the_line_says_it_may_have_woken_the_nas(
    tmp_path: Path, nas: NasEmulator
) -> None:
    settings = _settings(tmp_path, nas)
    _soft_sleep(nas)

    [finding] = await Doctor(settings, [], DoctorOptions()).check_nas()

    assert finding.status is Status.OK, finding.line()
    assert "API 1" in finding.message
    assert "GET /api/health may have woken it" in finding.message
    assert (tmp_path / "pi" / "balupi.db").exists() is False  # the doctor created no database


async def test_without_the_nas_key_the_running_balupi_says_the_nas_sleeps(
    tmp_path: Path, nas: NasEmulator
) -> None:
    """The running BaluPi has the key (its link probes the sleep status); the doctor's
    configuration lacks it, and asks that BaluPi with a Pi token for the user it last saw."""
    data = tmp_path / "pi"
    pi = ServeProcess(
        tmp_path / "pi.log",
        DATA_DIR=str(data),
        NAS_URL=nas.api_url,
        NAS_JWT_SECRET=DEFAULT_JWT_SECRET,
        NAS_PROBE_SECONDS="0.2",
    )
    with pi.killed_at_exit():
        await pi.start()
        async with httpx.AsyncClient(base_url=pi.url, timeout=10) as client:
            login = await client.post(
                "/api/auth/login", json={"username": "maria", "password": "maria-password"}
            )
            assert login.status_code == 200, login.text
            auth = {"Authorization": f"Bearer {login.json()['access_token']}"}
            _soft_sleep(nas)

            async def pi_knows() -> bool:
                status = await client.get("/api/nas/status", headers=auth)
                return bool(status.json()["state"] == "sleeping")

            await eventually(pi_knows, 15, interval=0.1, what="BaluPi seeing the NAS asleep")
        settings = _settings(tmp_path, nas, data_dir=data, port=pi.port)

        [finding] = await Doctor(settings, [], DoctorOptions()).check_nas()

    assert finding.status is Status.OK, finding.line()
    assert "sleeps (the running BaluPi says sleeping" in finding.message
    assert nas.nas.sleep.state.value == "soft_sleep"
    assert _auto_wakes(nas) == []
