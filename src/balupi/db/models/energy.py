"""Smart plugs, their raw readings, the hourly and daily roll-ups, and the tariffs.

Units are integers chosen so that no value is ever rounded on the way in:

* power in **mW**, voltage in **mV**, current in **mA** (what the plug's protocol reports);
* the plug's own counters in **Wh** (a Tapo reports ``today_energy`` / ``month_energy`` in Wh);
* integrated energy in **mWh**: a NAS asleep at 3 W uses 3 Wh an hour, and whole Wh would
  round that by up to 17 %;
* money in **micros**, millionths of the currency unit (1 ct = 10 000 micros). An hour of a
  sleeping NAS costs about a tenth of a cent, so whole cents per hour would round most of it
  away; micros keep a year of hourly roll-ups within a cent, and integers keep SQLite (which
  has no decimal type) exact. Convert to ``Decimal`` only for display.

The sample and roll-up tables are ``WITHOUT ROWID`` tables keyed by (device, time): each row
is stored once, in key order, with no separate index, which roughly halves their size (a
year for ten plugs must fit the Pi comfortably), and writing the same reading or the same
hour twice hits the key instead of making a duplicate. Batch migrations that rebuild them
must pass ``table_kwargs={"sqlite_with_rowid": False}`` to keep that.
"""

from __future__ import annotations

import enum
from datetime import date, datetime, time
from typing import Any

from sqlalchemy import JSON, CheckConstraint, ForeignKey, Index, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from balupi.db.models.base import Base, CreatedUpdatedMixin, str_enum, utc_now

WITHOUT_ROWID: dict[str, Any] = {"sqlite_with_rowid": False}


class DeviceRole(enum.StrEnum):
    """``nas``: the plug the NAS hangs on (its power is evidence of the NAS's state)."""

    NAS = "nas"
    MONITOR = "monitor"
    GENERIC = "generic"


class TapoDevice(CreatedUpdatedMixin, Base):
    """A smart plug, identified by its MAC so a new DHCP lease is still the same plug.

    ``mac_address`` is normalised ``AA:BB:CC:DD:EE:FF``. ``host`` / ``port`` are where it was
    last reached (``port`` only for emulators on non-standard ports); ``device_config`` caches
    the connection parameters python-kasa negotiated, so reconnects skip discovery.
    ``hourly_done_until`` (UTC hour) and ``daily_done_until`` (local date) are the roll-up
    watermarks: every hour / day before them is aggregated, so the jobs are idempotent and can
    backfill after downtime. ``off_below_mw`` … ``idle_below_mw`` are the plug's own NAS power
    thresholds, used while its role is ``nas``.
    """

    __tablename__ = "tapo_devices"

    id: Mapped[int] = mapped_column(primary_key=True)
    mac_address: Mapped[str] = mapped_column(String(17), unique=True)
    name: Mapped[str] = mapped_column(String(255))
    host: Mapped[str] = mapped_column(String(255))
    port: Mapped[int | None]
    model: Mapped[str | None] = mapped_column(String(64))
    firmware: Mapped[str | None] = mapped_column(String(64))
    role: Mapped[DeviceRole] = mapped_column(str_enum(DeviceRole), default=DeviceRole.GENERIC)
    is_online: Mapped[bool] = mapped_column(default=False)
    consecutive_failures: Mapped[int] = mapped_column(default=0)
    last_seen_at: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)
    # Alert when the plug draws more than this; None means no limit.
    power_limit_mw: Mapped[int | None]
    # How the NAS plug's draw reads as off / standby / idle / active (upper bounds, exclusive);
    # all three or none (None: the defaults of ``services.nas.power.PowerThresholds``), which
    # the Tapo service checks; no CHECK, so adding them needed no rebuild of the table.
    off_below_mw: Mapped[int | None]
    standby_below_mw: Mapped[int | None]
    idle_below_mw: Mapped[int | None]
    device_config: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    hourly_done_until: Mapped[datetime | None]
    daily_done_until: Mapped[date | None]


class PlugSeries:
    """A plug's rows keyed by (device, time): the key's first column and the ``WITHOUT ROWID``
    storage the module docstring explains. Each table adds its time column as the key's second
    (``sort_order`` keeps ``device_id`` first, so the key stays (device, time))."""

    __table_args__: Any = (WITHOUT_ROWID,)

    device_id: Mapped[int] = mapped_column(
        ForeignKey("tapo_devices.id", ondelete="CASCADE"), primary_key=True, sort_order=-1
    )


class RollupFigures(PlugSeries):
    """What an hourly and a daily roll-up both hold for their span (see ``EnergyHourly``):
    one set of columns, so the two tables cannot drift apart."""

    energy_mwh: Mapped[int]
    counter_wh: Mapped[int | None]
    avg_power_mw: Mapped[int]
    min_power_mw: Mapped[int]
    max_power_mw: Mapped[int]
    sample_count: Mapped[int]
    covered_seconds: Mapped[int]
    cost_micros: Mapped[int | None]


class EnergySample(PlugSeries, Base):
    """One reading of one plug (every 30 s; kept 7 days).

    ``today_wh`` and ``month_wh`` are the plug's counters as read; they reset at the plug's
    local midnight and month start, which roll-ups must treat as resets, not negative energy.
    Voltage and current are only reported by some firmware.
    """

    __tablename__ = "energy_samples"

    ts: Mapped[datetime] = mapped_column(primary_key=True)
    power_mw: Mapped[int]
    voltage_mv: Mapped[int | None]
    current_ma: Mapped[int | None]
    today_wh: Mapped[int | None]
    month_wh: Mapped[int | None]


class EnergyHourly(RollupFigures, Base):
    """One closed UTC hour of one plug (kept a year).

    ``energy_mwh`` integrates power over the time the samples cover (``covered_seconds``; gaps
    are not bridged); ``counter_wh`` is the same hour by the plug's counter deltas, reset
    aware, to cross-check. ``cost_micros`` applies the tariff in force during that hour.
    """

    __tablename__ = "energy_hourly"

    hour_start: Mapped[datetime] = mapped_column(primary_key=True)


class EnergyDaily(RollupFigures, Base):
    """One local calendar day of one plug (kept forever), in the configured ``TIMEZONE``.

    A local day has 23, 24 or 25 hours; ``covered_seconds`` says how much of it had data.
    """

    __tablename__ = "energy_daily"

    day: Mapped[date] = mapped_column(primary_key=True)


class EnergyPrice(Base):
    """A tariff: a price per kWh valid over local dates, optionally only at certain hours.

    Valid from ``valid_from`` (inclusive) until ``valid_until`` (exclusive; ``None`` = open),
    so a new price never rewrites the past. With ``starts_at`` / ``ends_at`` (local wall
    time; ``starts_at > ends_at`` wraps midnight, e.g. a 22:00-06:00 night rate) the price
    applies only within that window and wins over an all-day price for the same dates.
    """

    __tablename__ = "energy_price_config"
    __table_args__ = (
        CheckConstraint("(starts_at IS NULL) = (ends_at IS NULL)", name="time_window_complete"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(255))
    price_per_kwh_micros: Mapped[int]
    currency: Mapped[str] = mapped_column(String(3), default="EUR")
    valid_from: Mapped[date] = mapped_column(index=True)
    valid_until: Mapped[date | None]
    starts_at: Mapped[time | None]
    ends_at: Mapped[time | None]
    created_at: Mapped[datetime] = mapped_column(default=utc_now)


class AlertKind(enum.StrEnum):
    """What an energy alert is about; each has one cause that, once gone, clears it."""

    PLUG_OFFLINE = "plug_offline"  # no answer for longer than the configured minutes
    POWER_OVER_LIMIT = "power_over_limit"  # drawing more than the plug's ``power_limit_mw``
    VOLTAGE_OUT_OF_RANGE = "voltage_out_of_range"  # mains outside the configured band
    NAS_POWER_WHILE_ASLEEP = "nas_power_while_asleep"  # running draw, NAS not reachable
    NAS_NO_POWER_WHILE_AWAKE = "nas_no_power_while_awake"  # no draw while believed online


class EnergyAlert(Base):
    """An alert about one plug, from the moment its cause appeared until it went away.

    Rows are history: a cleared alert keeps its ``cleared_at`` and a new occurrence is a new
    row. At most one alert per plug and kind is active (``cleared_at IS NULL``), which a
    partial unique index enforces, so a restart can never raise the same alert twice.
    """

    __tablename__ = "energy_alerts"
    __table_args__ = (
        Index(
            "ix_energy_alerts_active",
            "device_id",
            "kind",
            unique=True,
            sqlite_where=text("cleared_at IS NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    device_id: Mapped[int] = mapped_column(
        ForeignKey("tapo_devices.id", ondelete="CASCADE"), index=True
    )
    kind: Mapped[AlertKind] = mapped_column(str_enum(AlertKind))
    message: Mapped[str] = mapped_column(Text)
    raised_at: Mapped[datetime]
    cleared_at: Mapped[datetime | None]
