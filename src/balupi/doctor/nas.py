"""Checks that talk to the NAS: is it there, which API, does its token verify."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime

import httpx

from balupi.clock import SystemClock
from balupi.doctor.base import DoctorBase
from balupi.doctor.findings import Finding, Status
from balupi.doctor.helpers import (
    as_int,
    json_object,
)
from balupi.doctor.sleep import sleep_view
from balupi.errors import NasUnreachable
from balupi.services.auth.tokens import InvalidToken, TokenSigner
from balupi.services.nas.client import NasClient

NAS_API_VERSION = 1  # the BaluHost API version this BaluPi speaks (docs/compat/nas-api.md §0)
MAY_HAVE_WOKEN = (
    "GET /api/health may have woken it if it slept (without BALUPI_NAS_JWT_SECRET, and with no "
    "running BaluPi to ask, nothing told whether it slept)"
)
TOKEN_TAKEN = (
    "the NAS answered its sleep status to a token signed with BALUPI_NAS_JWT_SECRET: "
    "NAS_JWT_SECRET matches"
)


class NasChecks(DoctorBase):
    """``nas`` and ``token``."""

    # -- the NAS ------------------------------------------------------------------------------
    async def check_nas(self) -> list[Finding]:
        url = self.settings.nas_url
        if url is None:
            problem = self._problem("nas_url")
            return [
                Finding(
                    "nas",
                    Status.FAIL,
                    problem or "BALUPI_NAS_URL is not set",
                    "set BALUPI_NAS_URL to the NAS's address, e.g. http://192.168.1.10:8000",
                )
            ]
        if not self.options.contact_nas:
            return [Finding("nas", Status.SKIP, "--no-nas: the NAS was not contacted")]
        async with NasClient(url, timeout=httpx.Timeout(self.options.timeout)) as client:
            try:
                self._sleep = await sleep_view(self.settings, client, self.options.timeout)
                if self._sleep.asleep:
                    return [self._asleep(url)]
                response = await client.request("GET", "/api/health")
            except NasUnreachable as exc:
                self._nas_error = f"not reachable at {url} ({exc})"
                return [
                    Finding(
                        "nas",
                        Status.FAIL,
                        self._nas_error,
                        "check BALUPI_NAS_URL; if the NAS sleeps, wake it "
                        "(POST /api/nas/wol or its power button) and run the doctor again",
                    )
                ]
            self._health, self._health_received = response, datetime.now(UTC)
            if response.status_code == 200 and self.options.nas_user and self.options.nas_password:
                await self._login(client)
        finding = self._judge_health(url, response)
        if self._sleep.asleep is None:
            message = f"{finding.message}; {MAY_HAVE_WOKEN}"
            finding = dataclasses.replace(finding, message=message)
        return [finding]

    def _asleep(self, url: str) -> Finding:
        return Finding(
            "nas",
            Status.OK,
            f"BaluHost at {url} sleeps ({self._sleep.source}); left asleep, so its API version "
            "is not checked",
        )

    def _judge_health(self, url: str, response: httpx.Response) -> Finding:
        try:
            body = response.json()
        except ValueError:
            body = None
        if response.status_code != 200 or not isinstance(body, dict):
            self._nas_error = f"{url}/api/health answered {response.status_code}"
            return Finding(
                "nas",
                Status.FAIL,
                f"{self._nas_error}, not BaluHost's health",
                "check that BALUPI_NAS_URL points at BaluHost's backend (port 8000)",
            )
        version = body.get("version", "?")
        api, minimum = as_int(body.get("api_version")), as_int(body.get("min_api_version"))
        message = f"BaluHost {version} at {url}, API {api} (this Pi speaks {NAS_API_VERSION})"
        if minimum is not None and minimum > NAS_API_VERSION:
            return Finding(
                "nas",
                Status.FAIL,
                f"{message}; the NAS needs API {minimum} or newer",
                "update BaluPi (deploy/update.sh)",
            )
        if api is not None and api != NAS_API_VERSION:
            return Finding("nas", Status.WARN, message, "update BaluPi (deploy/update.sh)")
        return Finding("nas", Status.OK, message)

    async def _login(self, client: NasClient) -> None:
        credentials = {"username": self.options.nas_user, "password": self.options.nas_password}
        try:
            response = await client.request("POST", "/api/auth/login", json=credentials)
        except NasUnreachable as exc:
            self._nas_error = f"login failed: {exc}"
            return
        body = json_object(response) or {}
        token = body.get("access_token")
        if response.status_code == 429:
            self._login_throttled = True
            self._nas_error = "the NAS allows 5 logins a minute; run the doctor again in a minute"
        elif response.status_code != 200:
            detail = body.get("detail", response.reason_phrase)
            self._nas_error = f"the NAS refused the login of {self.options.nas_user!r}: {detail}"
        elif body.get("requires_2fa"):
            self._nas_error = f"{self.options.nas_user!r} has two-factor login; use another user"
        elif isinstance(token, str):
            self._nas_token = token
        else:
            self._nas_error = "the NAS's login answer holds no access token"

    def check_token_secret(self) -> list[Finding]:
        secret = self.settings.nas_jwt_secret
        if secret is None:
            return [
                Finding(
                    "token",
                    Status.WARN,
                    "BALUPI_NAS_JWT_SECRET is not set: the Pi cannot check NAS tokens while the "
                    "NAS sleeps",
                    "copy SECRET_KEY from BaluHost's .env into BALUPI_NAS_JWT_SECRET",
                )
            ]
        if self._sleep.asleep:
            if self._sleep.nas_took_token:
                return [Finding("token", Status.OK, TOKEN_TAKEN)]
            return [Finding("token", Status.SKIP, "the NAS sleeps: not woken for a login")]
        if self._health is None or self._health.status_code != 200:
            return [Finding("token", Status.SKIP, "the NAS was not reached")]
        if not self.options.nas_user and self._sleep.nas_took_token:
            return [Finding("token", Status.OK, TOKEN_TAKEN)]
        if not self.options.nas_user:
            return [
                Finding(
                    "token",
                    Status.SKIP,
                    "give --nas-user (and --nas-password) to verify NAS_JWT_SECRET on a login",
                )
            ]
        if not self.options.nas_password:  # no terminal to ask on, and none given
            return [
                Finding(
                    "token",
                    Status.SKIP,
                    f"no password given for {self.options.nas_user!r}",
                    "pass --nas-password or set BALUPI_DOCTOR_NAS_PASSWORD "
                    "(without a terminal the doctor cannot ask for it)",
                )
            ]
        if self._nas_token is None and self._login_throttled:
            return [Finding("token", Status.SKIP, self._nas_error or "login refused (429)")]
        if self._nas_token is None:
            return [
                Finding(
                    "token",
                    Status.FAIL,
                    self._nas_error or "no token",
                    "check --nas-user / --nas-password",
                )
            ]
        signer = TokenSigner.from_settings(self.settings, SystemClock())
        try:
            claims = signer.verify_nas(self._nas_token, expected="access")
        except InvalidToken as exc:
            return [
                Finding(
                    "token",
                    Status.FAIL,
                    f"a token the NAS just issued does not verify with BALUPI_NAS_JWT_SECRET "
                    f"({exc}): it is not the NAS's SECRET_KEY",
                    "copy SECRET_KEY from BaluHost's .env into BALUPI_NAS_JWT_SECRET",
                )
            ]
        return [
            Finding(
                "token",
                Status.OK,
                f"the NAS's token for {claims.username!r} verifies: NAS_JWT_SECRET matches",
            )
        ]
