"""``/api/nas/*``: the NAS's state as the Pi sees it, and Wake-on-LAN (Pi-exclusive).

The decisions (which MAC is the NAS's, who may wake another machine, the totals of a window)
are ``services/nas/panel.py``'s; this module parses requests and shapes the answers.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, HTTPException, Query
from pydantic import BaseModel, field_validator

from balupi.api.deps import CurrentUser, NasPanelDep
from balupi.api.schemas.nas import NasHistoryPublic, NasStatusPublic, WakePublic
from balupi.services.nas.magic_packet import normalize_mac

router = APIRouter(prefix="/api/nas", tags=["nas"])

HISTORY_DEFAULT_SPAN = timedelta(days=1)
HISTORY_MAX_SPAN = timedelta(days=400)


class WakeRequest(BaseModel):
    """Optional body of ``POST /api/nas/wol``; without it the configured NAS is woken."""

    mac: str | None = None

    @field_validator("mac")
    @classmethod
    def _mac(cls, value: str | None) -> str | None:
        return normalize_mac(value) if value else None


@router.get("/status")
async def get_status(nas: NasPanelDep, user: CurrentUser) -> NasStatusPublic:
    return NasStatusPublic.model_validate(await nas.status())


@router.get("/history")
async def get_history(
    nas: NasPanelDep,
    user: CurrentUser,
    from_: Annotated[datetime | None, Query(alias="from")] = None,
    to: datetime | None = None,
) -> NasHistoryPublic:
    """The NAS link's transitions between ``from`` and ``to`` (default: the last 24 hours)."""
    start, end = _window(from_, to, nas.now())
    return NasHistoryPublic.of(await nas.history(start, end))


@router.post("/wol")
async def wake_on_lan(
    nas: NasPanelDep, user: CurrentUser, body: WakeRequest | None = None
) -> WakePublic:
    """Wake the NAS (any user), or another machine by its MAC (administrators only)."""
    return WakePublic.of(await nas.wake(body.mac if body else None, user))


def _window(
    start: datetime | None, end: datetime | None, now: datetime
) -> tuple[datetime, datetime]:
    """The query's window, or 422 for one the history cannot answer."""
    end = end or now
    start = start or end - HISTORY_DEFAULT_SPAN
    if start.tzinfo is None or end.tzinfo is None:
        raise HTTPException(422, "'from' and 'to' need a time zone: add Z or an offset")
    if not start < end:
        raise HTTPException(422, "'from' must come before 'to'")
    if end - start > HISTORY_MAX_SPAN:
        raise HTTPException(422, f"the window spans at most {HISTORY_MAX_SPAN.days} days")
    return start, end
