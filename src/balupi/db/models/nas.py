"""The NAS the Pi fronts, and the history of its power and reachability state.

The seed's ``servers`` table (dead code in the earlier BaluPi) becomes the NAS link's
persisted state: where the NAS is, how to wake it, and what state it was last known to be
in, so a restart of the Pi does not begin by polling (and so waking) a sleeping NAS.
"""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from balupi.db.models.base import Base, CreatedUpdatedMixin, str_enum, utc_now


class NasState(enum.StrEnum):
    """What the Pi believes the NAS is doing."""

    UNKNOWN = "unknown"
    ONLINE = "online"
    SLEEPING = "sleeping"
    OFFLINE = "offline"
    WAKING = "waking"
    SHUTTING_DOWN = "shutting_down"


class Server(CreatedUpdatedMixin, Base):
    """A NAS connection profile (normally exactly one row).

    ``base_url`` follows mDNS when the NAS's address changes; ``mac_address`` is the
    Wake-on-LAN target (``AA:BB:CC:DD:EE:FF``, upper case). ``state`` and ``state_since``
    mirror the newest ``NasTransition`` so the current state is one row read.
    """

    __tablename__ = "servers"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(255))
    base_url: Mapped[str] = mapped_column(String(2048))
    mac_address: Mapped[str | None] = mapped_column(String(17))
    mdns_name: Mapped[str | None] = mapped_column(String(255))
    last_seen_at: Mapped[datetime | None]
    state: Mapped[NasState] = mapped_column(
        str_enum(NasState), default=NasState.UNKNOWN, server_default=NasState.UNKNOWN.value
    )
    state_since: Mapped[datetime | None]


class NasTransition(Base):
    """One accepted change of the NAS's state, kept to report uptime and sleep time.

    ``evidence`` says why (``"mdns announcement"``, ``"plug 3.1 W"``, ``"lifecycle notice"``,
    ``"health check failed 3x"``...); free text or JSON, for people and for the status API.
    """

    __tablename__ = "nas_transitions"
    __table_args__ = (Index(None, "server_id", "at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    server_id: Mapped[int] = mapped_column(ForeignKey("servers.id", ondelete="CASCADE"))
    at: Mapped[datetime] = mapped_column(default=utc_now)
    from_state: Mapped[NasState] = mapped_column(str_enum(NasState))
    to_state: Mapped[NasState] = mapped_column(str_enum(NasState))
    evidence: Mapped[str | None] = mapped_column(Text)
