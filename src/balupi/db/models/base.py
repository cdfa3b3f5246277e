"""The declarative base every table derives from, and the column types they share.

Three decisions live here so that no model can get them wrong on its own:

* **Constraint names are deterministic** (``NAMING_CONVENTION``). SQLite cannot alter a
  constraint in place; Alembic's batch mode rebuilds the table and must be able to name the
  constraint it drops or recreates. Unnamed constraints make later migrations impossible.
* **Timestamps are UTC and timezone-aware in Python** (``UtcDateTime``). SQLite has no
  datetime type; an earlier BaluPi stored naive values and mixed UTC with local time when it
  bucketed energy into days. Here a naive datetime is refused when written, every value is
  stored as UTC, and every value read comes back with ``tzinfo=UTC``.
* **Enumerations are stored as their string values** (``str_enum``), without a CHECK
  constraint, so adding a state later needs no table rebuild; Python validates the values.
"""

from __future__ import annotations

import enum
from datetime import UTC, datetime
from typing import Any, ClassVar, Final

from sqlalchemy import DateTime, Dialect, Enum, MetaData
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

NAMING_CONVENTION: Final[dict[str, str]] = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

# Long enough for every state name we use; fixed so a new, longer value needs no migration.
ENUM_LENGTH: Final = 32


def utc_now() -> datetime:
    """The current time as an aware UTC datetime: the default for ``created_at``-style columns.

    Services whose behaviour depends on time pass their injected clock's value explicitly;
    this default only stamps bookkeeping columns.
    """
    return datetime.now(UTC)


class UtcDateTime(TypeDecorator[datetime]):
    """A datetime column that stores UTC and always returns aware UTC datetimes.

    Values are stored naive (SQLite's text form, ``YYYY-MM-DD HH:MM:SS.ffffff``), all in UTC,
    so string order equals time order and range queries on indexes work. Writing a naive
    datetime raises ``ValueError``: its zone is unknowable, and guessing is how day buckets
    went wrong before.
    """

    impl = DateTime(timezone=False)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError(f"naive datetime {value!r} written to a UTC column; attach a tzinfo")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


def str_enum(enum_class: type[enum.StrEnum]) -> Enum:
    """A column type that stores a ``StrEnum`` by value, as a plain string without a CHECK."""
    return Enum(
        enum_class,
        native_enum=False,
        create_constraint=False,
        length=ENUM_LENGTH,
        values_callable=lambda members: [member.value for member in members],
        validate_strings=True,
    )


class Base(DeclarativeBase):
    """Declarative base: naming convention, and ``Mapped[datetime]`` meaning ``UtcDateTime``."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map: ClassVar[dict[Any, Any]] = {datetime: UtcDateTime}


class CreatedUpdatedMixin:
    """``created_at`` and ``updated_at`` bookkeeping for rows that are edited in place."""

    created_at: Mapped[datetime] = mapped_column(default=utc_now)
    updated_at: Mapped[datetime] = mapped_column(default=utc_now, onupdate=utc_now)
