"""The handshake secret, compared with the NAS's own view where allowed."""

from __future__ import annotations

from urllib.parse import urlsplit

from balupi.config import MIN_SECRET_LENGTH
from balupi.doctor.base import DoctorBase
from balupi.doctor.findings import Finding, Parts, Status
from balupi.doctor.helpers import (
    json_object,
)
from balupi.errors import NasUnreachable
from balupi.services.nas.client import NasClient


class HandshakeChecks(DoctorBase):
    """``handshake``."""

    async def check_handshake(self) -> list[Finding]:
        secret = self.settings.nas_handshake_secret
        setup = (
            "on the NAS (as admin): POST /api/admin/balupi/generate-secret, then PUT "
            "/api/admin/balupi/config {enabled, url, secret}; the same secret into "
            "BALUPI_NAS_HANDSHAKE_SECRET"
        )
        if secret is None:
            return [
                Finding(
                    "handshake",
                    Status.WARN,
                    "BALUPI_NAS_HANDSHAKE_SECRET is not set: the NAS's start and shutdown "
                    "notices are refused",
                    setup,
                )
            ]
        value = secret.get_secret_value()
        parts = Parts("handshake")
        if len(value) < MIN_SECRET_LENGTH:
            parts.add(
                Status.WARN,
                f"the secret has {len(value)} characters; BaluHost wants {MIN_SECRET_LENGTH}",
                setup,
            )
        else:
            parts.add(Status.OK, f"secret set ({len(value)} characters)")
        await self._compare_handshake(parts, value)
        return [parts.finding()]

    async def _compare_handshake(self, parts: Parts, secret: str) -> None:
        """Compare with the NAS's own view (``GET /api/admin/balupi/config``, admin only)."""
        if self._nas_token is None or self.settings.nas_url is None:
            parts.add(Status.OK, "not compared with the NAS (needs an admin --nas-user)")
            return
        headers = {"Authorization": f"Bearer {self._nas_token}"}
        async with NasClient(self.settings.nas_url) as client:
            try:
                response = await client.request("GET", "/api/admin/balupi/config", headers=headers)
            except NasUnreachable:
                parts.add(Status.OK, "not compared (the NAS stopped answering)")
                return
        body = json_object(response)
        if response.status_code in (404, 405) or body is None:
            parts.add(Status.OK, "not compared (the NAS has no /api/admin/balupi/config)")
            return
        if response.status_code == 403:
            parts.add(Status.OK, "not compared (--nas-user is no admin)")
            return
        if not body.get("enabled"):
            parts.add(
                Status.WARN,
                "the NAS's BaluPi integration is off",
                "PUT /api/admin/balupi/config {enabled: true} on the NAS",
            )
        preview = str(body.get("secret_preview") or "").rstrip(".")
        if not body.get("has_secret"):
            parts.add(Status.FAIL, "the NAS has no handshake secret", "set it on the NAS")
        elif preview and not secret.startswith(preview):
            parts.add(
                Status.FAIL,
                f"the NAS's secret starts {preview!r}, this Pi's does not",
                "put the NAS's secret into BALUPI_NAS_HANDSHAKE_SECRET",
            )
        else:
            parts.add(Status.OK, "the NAS holds the same secret")
        url = body.get("url")
        if isinstance(url, str) and urlsplit(url).port not in (None, self.settings.port):
            parts.add(
                Status.WARN,
                f"the NAS notifies {url}, but this Pi listens on port {self.settings.port}",
                "correct BALUPI_URL on the NAS",
            )
