"""``balupi doctor``'s hints fit the cause (issue 13)."""

from __future__ import annotations

import errno
from pathlib import Path

import pytest

from balupi.config import Settings
from balupi.doctor import Doctor, DoctorOptions, Status


def _doctor(tmp_path: Path, **options: object) -> Doctor:
    settings = Settings(
        data_dir=tmp_path,
        nas_jwt_secret="doctor-hints-secret-0123456789abcdef",
        _env_prefix="BALUPI_TEST_UNUSED_",  # type: ignore[call-arg]
    )
    return Doctor(settings, [], DoctorOptions(**options))  # type: ignore[arg-type]


def test_a_user_without_a_password_is_told_so(tmp_path: Path) -> None:
    doctor = _doctor(tmp_path, nas_user="admin", nas_password="")
    doctor._health = type("Answer", (), {"status_code": 200})()  # type: ignore[assignment]

    [finding] = doctor.check_token_secret()

    assert finding.status is Status.SKIP
    assert "no password given" in finding.message
    assert "BALUPI_DOCTOR_NAS_PASSWORD" in (finding.fix or "")


@pytest.mark.parametrize(
    ("code", "expected", "not_expected"),
    [(errno.EROFS, "read-only", "chown"), (errno.EACCES, "chown", "read-only")],
)
def test_an_unwritable_data_directory_gets_the_hint_for_its_cause(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, code: int, expected: str, not_expected: str
) -> None:
    def refuse(self: Path, data: bytes) -> int:
        raise OSError(code, "refused")

    monkeypatch.setattr(Path, "write_bytes", refuse)
    [finding] = _doctor(tmp_path).check_data()
    assert finding.status is Status.FAIL
    assert expected in (finding.fix or "")
    assert not_expected not in (finding.fix or "")
