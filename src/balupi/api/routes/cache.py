"""The Pi's own cache endpoints: statistics, pins ("keep on the Pi"), verification.

GET    /api/cache/stats             what the cache holds and has done
GET    /api/cache/pins              pinned paths the caller may see
PUT    /api/cache/pins?path=…       keep a file on the Pi (fetched now if needed)
DELETE /api/cache/pins?path=…       lift the caller's pin (an admin's: every pin on the file);
                                    403 for a pin only other users hold
POST   /api/cache/verify[?path=…]   re-hash stored bytes, refetch corrupt ones (admins)
"""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel

from balupi.api.deps import AdminUser, CacheDep, CurrentUser
from balupi.services.cache.model import Pin, VerifyReport
from balupi.services.cache.stats import CacheReport

router = APIRouter(prefix="/api/cache", tags=["cache"])


class PinsPublic(BaseModel):
    pins: list[Pin]


# The services' report dataclasses are the answers: pydantic documents and writes them as
# ``dataclasses.asdict`` would, field for field.
@router.get("/stats")
async def stats(user: CurrentUser, cache: CacheDep) -> CacheReport:
    return await cache.report(user)


@router.get("/pins")
async def pins(user: CurrentUser, cache: CacheDep) -> PinsPublic:
    return PinsPublic(pins=await cache.pins(user))


@router.put("/pins")
async def pin(path: str, user: CurrentUser, cache: CacheDep) -> Pin:
    return await cache.pin(user, path)


@router.delete("/pins")
async def unpin(path: str, user: CurrentUser, cache: CacheDep) -> Pin:
    return await cache.unpin(user, path)


@router.post("/verify")
async def verify(user: AdminUser, cache: CacheDep, path: str | None = None) -> VerifyReport:
    return await cache.verify([path] if path is not None else None, refetch_as=user)
