"""``/api/nas/*`` answers (Pi-exclusive; documented in docs/api.md)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from balupi.clock import utc_iso
from balupi.services.nas.history import HistoryWindow, TransitionRecord
from balupi.services.nas.panel import WakeOutcome


class SleepPublic(BaseModel):
    asked: bool
    current_state: str | None
    state_since: str | None


class GatePublic(BaseModel):
    requests_sent: dict[str, int]
    requests_refused: dict[str, int]
    requests_last_minute: int


class TodayPublic(BaseModel):
    awake_seconds: int
    asleep_seconds: int


class NasStatusPublic(BaseModel):
    state: str
    since: str | None
    evidence: str | None
    last_seen_at: str | None
    wake_in_progress: bool
    configured: bool
    nas_url: str | None
    nas_version: str | None
    power_w: int | float | None
    power_class: str | None
    sleep: SleepPublic
    gate: GatePublic | None
    today: TodayPublic


class TransitionPublic(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    at: str
    from_state: str = Field(alias="from")
    to_state: str = Field(alias="to")
    evidence: str | None

    @classmethod
    def of(cls, record: TransitionRecord) -> TransitionPublic:
        return cls(
            at=utc_iso(record.at),
            from_state=record.from_state.value,
            to_state=record.to_state.value,
            evidence=record.evidence,
        )


class NasHistoryPublic(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    start: str = Field(alias="from")
    end: str = Field(alias="to")
    awake_seconds: int
    asleep_seconds: int
    transitions: list[TransitionPublic]

    @classmethod
    def of(cls, window: HistoryWindow) -> NasHistoryPublic:
        return cls(
            start=utc_iso(window.start),
            end=utc_iso(window.end),
            awake_seconds=int(window.awake.total_seconds()),
            asleep_seconds=int(window.asleep.total_seconds()),
            transitions=[TransitionPublic.of(r) for r in window.transitions],
        )


class WakePublic(BaseModel):
    sent: bool
    state: str
    mac: str | None

    @classmethod
    def of(cls, outcome: WakeOutcome) -> WakePublic:
        return cls(sent=outcome.result.sent, state=outcome.result.state.value, mac=outcome.mac)
