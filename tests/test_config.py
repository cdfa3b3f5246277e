"""Settings: environment, YAML file, validation messages that name the variable."""

from __future__ import annotations

from pathlib import Path

import pytest

from balupi.config import ConfigError, Settings, check_data_dir, load_settings

GOOD_SECRET = "s" * 40


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    for name in list(os.environ):
        if name.startswith("BALUPI_"):
            monkeypatch.delenv(name)


def test_defaults_are_development_and_safe() -> None:
    settings = load_settings()
    assert settings.env == "development"
    assert settings.host == "127.0.0.1"
    assert settings.port == 8000
    assert settings.cache_high_watermark == 0.85
    assert settings.energy_poll_seconds == 30
    assert settings.nas_url is None


def test_environment_variables_are_read(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("BALUPI_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("BALUPI_NAS_URL", "http://192.0.2.10:8000/")
    monkeypatch.setenv("BALUPI_NAS_MAC", "AA-BB-CC-DD-EE-FF")
    monkeypatch.setenv("BALUPI_CACHE_MAX_BYTES", "10GiB")
    monkeypatch.setenv("BALUPI_CORS_ORIGINS", "http://a.test, http://b.test")

    settings = load_settings()

    assert settings.data_dir == tmp_path
    assert settings.nas_url == "http://192.0.2.10:8000"
    assert settings.nas_mac == "aa:bb:cc:dd:ee:ff"
    assert settings.cache_max_bytes == 10 * 2**30
    assert settings.cors_origins == ["http://a.test", "http://b.test"]
    assert settings.resolved_database_url == f"sqlite+aiosqlite:///{tmp_path.resolve()}/balupi.db"


def test_yaml_file_is_read_and_environment_wins(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    config = tmp_path / "balupi.yaml"
    config.write_text("BALUPI_PORT: 9000\ntimezone: Europe/Vienna\nlog_level: DEBUG\n")
    monkeypatch.setenv("BALUPI_CONFIG", str(config))
    monkeypatch.setenv("BALUPI_LOG_LEVEL", "WARNING")

    settings = load_settings()

    assert settings.port == 9000
    assert settings.timezone == "Europe/Vienna"
    assert settings.log_level == "WARNING"


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("port: [1, 2\n", "not valid YAML"),
        ("- a\n- b\n", "must hold a mapping"),
        ("no_such_setting: 1\n", "unknown setting 'no_such_setting'"),
    ],
)
def test_bad_yaml_file_is_one_clear_error(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, content: str, message: str
) -> None:
    config = tmp_path / "balupi.yaml"
    config.write_text(content)
    monkeypatch.setenv("BALUPI_CONFIG", str(config))
    with pytest.raises(ConfigError, match=message):
        load_settings()


def test_missing_yaml_file_is_named(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("BALUPI_CONFIG", str(tmp_path / "nope.yaml"))
    with pytest.raises(ConfigError, match="BALUPI_CONFIG: cannot read"):
        load_settings()


@pytest.mark.parametrize(
    ("secret", "message"),
    [
        (None, "BALUPI_SECRET_KEY: is required in production"),
        ("too-short", "BALUPI_SECRET_KEY: must be at least 32 characters"),
        ("change-me-in-prod", "BALUPI_SECRET_KEY: the default secret is not allowed"),
    ],
)
def test_production_refuses_a_weak_secret(
    monkeypatch: pytest.MonkeyPatch, secret: str | None, message: str
) -> None:
    monkeypatch.setenv("BALUPI_ENV", "production")
    if secret is not None:
        monkeypatch.setenv("BALUPI_SECRET_KEY", secret)
    with pytest.raises(ConfigError) as caught:
        load_settings()
    assert str(caught.value).startswith(message)
    assert "\n" not in str(caught.value)


def test_production_accepts_a_strong_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BALUPI_ENV", "production")
    monkeypatch.setenv("BALUPI_SECRET_KEY", GOOD_SECRET)
    assert load_settings().is_production


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("BALUPI_PORT", "eighty", "BALUPI_PORT: Input should be a valid integer"),
        ("BALUPI_NAS_MAC", "not-a-mac", "BALUPI_NAS_MAC: must be a MAC address"),
        ("BALUPI_NAS_URL", "192.0.2.10", "BALUPI_NAS_URL: must be an http:// or https:// URL"),
        ("BALUPI_TIMEZONE", "Mars/Olympus", "BALUPI_TIMEZONE: must be an IANA time zone"),
        ("BALUPI_CACHE_HIGH_WATERMARK", "1.5", "BALUPI_CACHE_HIGH_WATERMARK"),
        ("BALUPI_ENV", "staging", "BALUPI_ENV"),
    ],
)
def test_bad_values_name_their_variable(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str, message: str
) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(ConfigError, match=message):
        load_settings()


def test_data_dir_is_created_with_its_parts(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "new")
    check_data_dir(settings)
    for part in ("cache", "uploads", "cache/thumbnails", "logs"):
        assert (tmp_path / "new" / part).is_dir()
    assert not (tmp_path / "new" / "thumbnails").exists()


def test_the_empty_thumbnails_folder_of_earlier_versions_goes(tmp_path: Path) -> None:
    (tmp_path / "thumbnails").mkdir()
    check_data_dir(Settings(data_dir=tmp_path))
    assert not (tmp_path / "thumbnails").exists()
    (tmp_path / "thumbnails").mkdir()
    (tmp_path / "thumbnails" / "mine.jpg").write_bytes(b"not BaluPi's")
    check_data_dir(Settings(data_dir=tmp_path))
    assert (tmp_path / "thumbnails" / "mine.jpg").exists()  # never deletes what it didn't make


def test_unwritable_data_dir_is_a_config_error(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    with pytest.raises(ConfigError, match=r"BALUPI_DATA_DIR: .* is not writable"):
        check_data_dir(Settings(data_dir=blocker / "data"))
