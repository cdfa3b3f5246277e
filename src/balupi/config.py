"""BaluPi's configuration: one ``Settings`` object, built once and passed down.

Values come from (highest priority first) keyword arguments, ``BALUPI_*`` environment variables,
a YAML file named by ``BALUPI_CONFIG`` (keys with or without the ``BALUPI_`` prefix, any case),
and the defaults below. ``load_settings`` turns every validation problem into a ``ConfigError``
whose message is one line naming the variable, so a bad start says what to fix and nothing more.
"""

from __future__ import annotations

import contextlib
import ipaddress
import os
import re
from pathlib import Path
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    ByteSize,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic.fields import FieldInfo
from pydantic_settings import (
    BaseSettings,
    NoDecode,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

from balupi.durations import parse_duration

ENV_PREFIX = "BALUPI_"
CONFIG_FILE_VARIABLE = "BALUPI_CONFIG"
MIN_SECRET_LENGTH = 32
# Secrets that appear in docs, examples or an earlier BaluPi; never acceptable in production.
KNOWN_DEFAULT_SECRETS = frozenset(
    {"change-me", "change-me-in-prod", "changeme", "secret", "development-secret-key"}
)
DEVELOPMENT_SECRET = "development-secret-key"
# DATA_DIR/thumbnails: made by earlier BaluPis and never written (thumbnails live in the cache,
# ``Settings.thumbnails_dir``); ``check_data_dir`` removes it while it is empty.
LEGACY_THUMBNAILS = "thumbnails"
_MAC = re.compile(r"^([0-9a-f]{2})([:-]?)[0-9a-f]{2}(\2[0-9a-f]{2}){4}$", re.IGNORECASE)


class ConfigError(Exception):
    """A configuration problem, described in one line that names the variable."""


class _YamlFileSource(PydanticBaseSettingsSource):
    """Reads the YAML file named by ``BALUPI_CONFIG``; keys may carry the prefix, in any case."""

    def __init__(self, settings_cls: type[BaseSettings]) -> None:
        super().__init__(settings_cls)
        self._values = self._load()

    @staticmethod
    def _load() -> dict[str, Any]:
        path = os.environ.get(CONFIG_FILE_VARIABLE)
        if not path:
            return {}
        import yaml  # only with a config file: ~1 MB and ~15 ms of a Pi's start otherwise

        try:
            raw = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
        except OSError as exc:
            raise ConfigError(
                f"{CONFIG_FILE_VARIABLE}: cannot read {path}: {exc.strerror}"
            ) from exc
        except yaml.YAMLError as exc:
            raise ConfigError(f"{CONFIG_FILE_VARIABLE}: {path} is not valid YAML") from exc
        if raw is None:
            return {}
        if not isinstance(raw, dict):
            raise ConfigError(f"{CONFIG_FILE_VARIABLE}: {path} must hold a mapping of settings")
        values: dict[str, Any] = {}
        for key, value in raw.items():
            name = str(key).lower().removeprefix(ENV_PREFIX.lower())
            if name not in Settings.model_fields:
                raise ConfigError(f"{CONFIG_FILE_VARIABLE}: unknown setting {key!r} in {path}")
            values[name] = value
        return values

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        return self._values.get(field_name), field_name, False

    def __call__(self) -> dict[str, Any]:
        return dict(self._values)


class Settings(BaseSettings):
    """Every setting of BaluPi. Field ``x`` is the variable ``BALUPI_X``."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX, case_sensitive=False, extra="ignore", validate_default=True
    )

    env: Literal["development", "production"] = "development"
    secret_key: SecretStr | None = None
    data_dir: Path = Path("data")
    database_url: str | None = None
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"

    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)
    cors_origins: Annotated[list[str], NoDecode] = Field(default_factory=list)
    # Connection hygiene (balupi/server.py): seconds a client has to send a whole request head,
    # seconds an idle keep-alive connection stays open, and the most connections held at once
    # (also kept below the open-files limit). Slow request bodies are never timed out.
    head_timeout_seconds: float = Field(default=10.0, gt=0, le=300)
    keep_alive_seconds: float = Field(default=5.0, gt=0, le=300)
    max_connections: int = Field(default=1000, ge=8, le=100_000)
    # Days a password the NAS confirmed may log its user in while the NAS is unreachable (0: never).
    offline_login_days: int = Field(default=30, ge=0, le=3650)
    # Client polling stays on the Pi (issue 12): how long the NAS's word on a user answers
    # /api/auth/me without asking it again, how long a cached listing is served without asking,
    # and the least time between two such optional requests, for all of BaluPi together.
    auth_trust_seconds: float = Field(default=600.0, ge=0, le=3600)
    listing_fresh_seconds: float = Field(default=300.0, ge=0, le=86_400)
    nas_quiet_seconds: float = Field(default=60.0, ge=0, le=3600)

    nas_url: str | None = None
    nas_mac: str | None = None
    # Seconds between the NAS link's probes while the NAS is up: at most a minute, so BaluPi
    # knows within a minute that it fell asleep; the default's 2 a minute stay well under
    # BaluHost's idle threshold of 5 (services/nas/link.py). Far lower only under compressed time.
    nas_probe_seconds: float = Field(default=30.0, ge=0.01, le=60)
    wol_broadcast: str = "255.255.255.255"
    wol_port: int = Field(default=9, ge=1, le=65535)
    # Pass-through while the NAS sleeps: may an interactive request wake it, and how long may it
    # wait for the NAS before it is answered 503 + Retry-After (services/nas/passthrough.py).
    wake_on_request: bool = True
    wake_wait_seconds: float = Field(default=20.0, ge=0, le=300)
    nas_jwt_secret: SecretStr | None = None
    nas_handshake_secret: SecretStr | None = None
    mdns_enabled: bool = True
    mdns_interfaces: Annotated[list[str], NoDecode] = Field(default_factory=list)

    cache_max_bytes: ByteSize = ByteSize(32 * 1024**3)
    cache_high_watermark: float = Field(default=0.85, gt=0, le=1)
    cache_max_file_bytes: ByteSize = ByteSize(2 * 1024**3)
    # Cache warming (issue 12): bytes fetched in one burst right after the NAS wakes, of files
    # that changed within CACHE_WARM_DAYS in folders browsed within as many days (0 bytes: off).
    cache_warm_bytes: ByteSize = ByteSize(1024**3)
    cache_warm_days: int = Field(default=7, ge=1, le=365)
    # Sync that lets the NAS sleep (issue 12): the longest an acknowledged upload stays only on
    # the Pi before BaluPi wakes the NAS to push it, in seconds or a duration ("90s", "30m",
    # "6h", "1d"); 0 pushes at once, waking the NAS (services/uploads/worker.py).
    sync_max_wait: float = Field(default=6 * 3600.0, ge=0, le=30 * 86_400)

    tapo_username: str | None = None
    tapo_password: SecretStr | None = None
    timezone: str = "Europe/Berlin"
    energy_poll_seconds: int = Field(default=30, ge=5, le=3600)
    # Where ``POST /api/tapo/devices/discover`` broadcasts (a subnet's broadcast address on a
    # Pi with several networks, e.g. 192.168.1.255).
    tapo_discovery_target: str = "255.255.255.255"
    # Energy alerts: a plug unanswered this long, and the mains band (EN 50160: 230 V ± 10 %).
    energy_alert_offline_minutes: int = Field(default=10, ge=1, le=1440)
    energy_voltage_min_v: float = Field(default=207.0, gt=0)
    energy_voltage_max_v: float = Field(default=253.0, gt=0)

    # Nightly online backups of the database into DATA_DIR/backups (services/backup.py): how
    # many to keep (0: no nightly backups) and the local hour they run at (minute 15).
    backup_keep: int = Field(default=7, ge=0, le=365)
    backup_hour: int = Field(default=3, ge=0, le=23)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings, env_settings, _YamlFileSource(settings_cls))

    @field_validator("cors_origins", "mdns_interfaces", mode="before")
    @classmethod
    def _split_comma_lists(cls, value: Any) -> Any:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @field_validator("sync_max_wait", mode="before")
    @classmethod
    def _parse_duration(cls, value: Any) -> Any:
        return parse_duration(value) if isinstance(value, str) else value

    @field_validator("mdns_interfaces")
    @classmethod
    def _check_mdns_interfaces(cls, value: list[str]) -> list[str]:
        # zeroconf binds by address, not by interface name.
        for address in value:
            try:
                ipaddress.ip_address(address)
            except ValueError:
                raise ValueError(
                    f"{address!r} is not an IP address; list the Pi's addresses on the "
                    "interfaces to use, e.g. 192.168.1.20"
                ) from None
        return value

    @field_validator("nas_url")
    @classmethod
    def _check_nas_url(cls, value: str | None) -> str | None:
        if value is None or value == "":
            return None
        if not re.match(r"^https?://[^/\s]+", value):
            raise ValueError("must be an http:// or https:// URL, e.g. http://192.168.1.10:8000")
        return value.rstrip("/")

    @field_validator("nas_mac")
    @classmethod
    def _check_mac(cls, value: str | None) -> str | None:
        if value is None or value == "":
            return None
        if not _MAC.match(value):
            raise ValueError("must be a MAC address such as aa:bb:cc:dd:ee:ff")
        digits = re.sub(r"[^0-9a-f]", "", value.lower())
        return ":".join(digits[i : i + 2] for i in range(0, 12, 2))

    @field_validator("timezone")
    @classmethod
    def _check_timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError("must be an IANA time zone such as Europe/Berlin") from exc
        return value

    @model_validator(mode="after")
    def _check_voltage_band(self) -> Settings:
        if self.energy_voltage_min_v >= self.energy_voltage_max_v:
            raise ValueError(
                "BALUPI_ENERGY_VOLTAGE_MIN_V: must be below BALUPI_ENERGY_VOLTAGE_MAX_V"
            )
        return self

    @model_validator(mode="after")
    def _check_production(self) -> Settings:
        if self.env == "production":
            if self.secret_key is None:
                raise ValueError(
                    "BALUPI_SECRET_KEY: is required in production; generate one with "
                    "python3 -c 'import secrets; print(secrets.token_urlsafe(48))'"
                )
            secret = self.secret_key.get_secret_value()
            if secret.lower() in KNOWN_DEFAULT_SECRETS:
                raise ValueError(
                    "BALUPI_SECRET_KEY: the default secret is not allowed in production"
                )
            if len(secret) < MIN_SECRET_LENGTH:
                raise ValueError(
                    f"BALUPI_SECRET_KEY: must be at least {MIN_SECRET_LENGTH} characters "
                    "in production"
                )
        return self

    # -- derived values -----------------------------------------------------------------------
    @property
    def is_production(self) -> bool:
        return self.env == "production"

    @property
    def signing_key(self) -> str:
        """The key for BaluPi's own signatures; a fixed one only in development."""
        return self.secret_key.get_secret_value() if self.secret_key else DEVELOPMENT_SECRET

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite+aiosqlite:///{(self.data_dir / 'balupi.db').resolve()}"

    @property
    def cache_dir(self) -> Path:
        return self.data_dir / "cache"

    @property
    def uploads_dir(self) -> Path:
        return self.data_dir / "uploads"

    @property
    def thumbnails_dir(self) -> Path:
        """Thumbnails live in the cache: rendered from cached files, rebuilt when missing.
        The one place that names their folder (``check_data_dir`` and the thumbnailer use it)."""
        return self.cache_dir / "thumbnails"

    @property
    def logs_dir(self) -> Path:
        return self.data_dir / "logs"


def _describe(error: dict[str, Any]) -> str:
    """One line for one pydantic error, naming the environment variable."""
    location = [str(part) for part in error.get("loc", ()) if part != "__root__"]
    message = str(error.get("msg", "invalid value")).removeprefix("Value error, ")
    if not location:  # a model-level check already names its variable
        return message
    return f"{ENV_PREFIX}{location[0].upper()}: {message}"


def load_settings(**overrides: Any) -> Settings:
    """Build the settings from the environment and config file, or raise ``ConfigError``."""
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        raise ConfigError("; ".join(_describe(dict(e)) for e in exc.errors())) from None


def load_settings_reporting(**overrides: Any) -> tuple[Settings, list[str]]:
    """Settings even from a broken configuration, and one line per problem (``balupi doctor``).

    Every invalid value is replaced by its default and reported, so that one bad variable does
    not hide the checks that the others still allow. If only development mode makes the rest
    valid (a production check failed), development mode is assumed. ``ConfigError`` is left
    for what cannot be worked around (an unreadable config file).
    """
    fallbacks: dict[str, Any] = {}
    problems: list[str] = []
    for _ in range(len(Settings.model_fields) + 1):
        try:
            return Settings(**{**overrides, **fallbacks}), problems
        except ValidationError as exc:
            progress = False
            for error in exc.errors():
                problem = _describe(dict(error))
                if problem not in problems:
                    problems.append(problem)
                name = _field_of(dict(error), problem)
                if name is not None and name not in fallbacks and name not in overrides:
                    fallbacks[name] = Settings.model_fields[name].get_default(
                        call_default_factory=True
                    )
                    progress = True
            if not progress:
                if fallbacks.get("env") == "development":
                    break
                fallbacks["env"] = "development"
    raise ConfigError("; ".join(problems))


def _field_of(error: dict[str, Any], problem: str) -> str | None:
    """The setting an error is about: its location, or the variable its message names."""
    location = [str(part) for part in error.get("loc", ())]
    if location and location[0] in Settings.model_fields:
        return location[0]
    match = re.match(rf"^{ENV_PREFIX}(\w+):", problem)
    name = match.group(1).lower() if match else None
    return name if name in Settings.model_fields else None


def check_data_dir(settings: Settings) -> None:
    """Create ``DATA_DIR`` and its parts and prove it is writable, or raise ``ConfigError``."""
    directories = [
        settings.data_dir,
        settings.cache_dir,
        settings.uploads_dir,
        settings.thumbnails_dir,
        settings.logs_dir,
    ]
    try:
        for directory in directories:
            directory.mkdir(parents=True, exist_ok=True)
        with contextlib.suppress(OSError):  # the empty DATA_DIR/thumbnails older BaluPis made
            (settings.data_dir / LEGACY_THUMBNAILS).rmdir()
        probe = settings.data_dir / ".write-test"
        probe.write_bytes(b"ok")
        probe.unlink()
    except OSError as exc:
        reason = exc.strerror or str(exc)
        raise ConfigError(
            f"{ENV_PREFIX}DATA_DIR: {settings.data_dir} is not writable ({reason})"
        ) from None
