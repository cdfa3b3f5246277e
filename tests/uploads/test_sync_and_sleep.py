"""Sync that does not fight sleep (issue 12, item 4).

Uploads taken while the NAS sleeps wait for it; the worker never wakes it for a background push,
and every wake, for any reason, drains the whole queue. ``SYNC_MAX_WAIT`` bounds how long an
accepted upload may stay only on the Pi: then BaluPi wakes the NAS itself, once.
"""

from __future__ import annotations

import pytest

from balupi.config import ConfigError, Settings, load_settings


@pytest.mark.parametrize(
    ("value", "seconds"),
    [("6h", 21_600.0), ("90", 90.0), ("1h30m", 5_400.0), ("45s", 45.0), ("0", 0.0), (120, 120.0)],
)
def test_sync_max_wait_takes_seconds_or_a_duration(value: object, seconds: float) -> None:
    assert Settings(sync_max_wait=value).sync_max_wait == seconds


def test_sync_max_wait_defaults_to_six_hours() -> None:
    assert Settings().sync_max_wait == 6 * 3600


@pytest.mark.parametrize("value", ["6x", "h", "soon", "-1", "1h 2"])
def test_a_bad_sync_max_wait_names_the_variable(
    value: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BALUPI_SYNC_MAX_WAIT", value)
    with pytest.raises(ConfigError, match="BALUPI_SYNC_MAX_WAIT"):
        load_settings()
