"""The decisions the routes handed to services (issue 15): Wake-on-LAN's target and who may
send it (``NasPanel``), who may upload where (``require_upload_permission``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, cast

import pytest

from balupi.clock import ManualClock
from balupi.db.models import NasState
from balupi.errors import AccessDenied, PermissionDenied
from balupi.services.auth import AuthenticatedUser, CredentialKind
from balupi.services.nas.link import NasLink
from balupi.services.nas.panel import OTHER_MAC_ADMIN_ONLY, NasPanel
from balupi.services.nas.wake import NasWaker, WakeResult
from balupi.services.uploads.intake import require_upload_permission

NAS_MAC = "aa:bb:cc:dd:ee:ff"
OTHER_MAC = "11:22:33:44:55:66"


def _user(name: str, *, admin: bool = False) -> AuthenticatedUser:
    role = "admin" if admin else "user"
    return AuthenticatedUser(name, name, role, "token", CredentialKind.NAS_TOKEN)


@dataclass
class _Link:
    mac: str | None = NAS_MAC


@dataclass
class _Waker:
    calls: list[tuple[str, Any]] = field(default_factory=list)

    async def wake(self, reason: str) -> WakeResult:
        self.calls.append(("nas", reason))
        return WakeResult(sent=True, state=NasState.WAKING)

    def wake_other(self, mac: str, reason: str) -> WakeResult:
        self.calls.append((mac, reason))
        return WakeResult(sent=True, state=NasState.SLEEPING)


def _panel(mac: str | None = NAS_MAC) -> tuple[NasPanel, _Waker]:
    waker = _Waker()
    link = cast(NasLink, _Link(mac))
    panel = NasPanel(link, cast(NasWaker, waker), ManualClock(), cast(Any, None), None)
    return panel, waker


async def test_no_mac_or_the_nas_mac_wakes_the_nas() -> None:
    for asked in (None, NAS_MAC):
        panel, waker = _panel()
        outcome = await panel.wake(asked, _user("alice"))
        assert (outcome.mac, outcome.result.state) == (NAS_MAC, NasState.WAKING)
        assert waker.calls == [("nas", "requested through the API")]


async def test_another_mac_is_for_administrators_only() -> None:
    panel, waker = _panel()
    with pytest.raises(PermissionDenied) as refused:
        await panel.wake(OTHER_MAC, _user("alice"))
    assert refused.value.detail == OTHER_MAC_ADMIN_ONLY
    assert waker.calls == []
    outcome = await panel.wake(OTHER_MAC, _user("root", admin=True))
    assert outcome.mac == OTHER_MAC
    assert waker.calls == [(OTHER_MAC, "requested through the API by root")]


async def test_without_a_configured_mac_any_user_wakes_the_nas() -> None:
    panel, waker = _panel(mac=None)
    outcome = await panel.wake(None, _user("alice"))
    assert outcome.mac is None
    assert waker.calls == [("nas", "requested through the API")]


def test_a_user_uploads_below_their_folders_an_admin_anywhere() -> None:
    assert require_upload_permission(_user("alice"), "alice/a.txt") == "alice/a.txt"
    assert require_upload_permission(_user("alice"), "Shared/a.txt") == "Shared/a.txt"
    assert require_upload_permission(_user("root", admin=True), "a.txt") == "a.txt"
    for refused in ("bob/a.txt", "a.txt"):
        with pytest.raises(AccessDenied):
            require_upload_permission(_user("alice"), refused)
