"""Offline credential verifiers: a slow salted hash of a password the NAS confirmed.

The Pi keeps no passwords. After the NAS accepts a login, the Pi stores an scrypt hash of the
password so that the same user can log in while the NAS sleeps, for a limited time, as SSSD's
cached credentials do. The hash is memory-hard, so a stolen SD card does not give
the passwords away cheaply.

The parameters are kept inside the stored string (``scrypt$n$r$p$salt$hash``), so they can be
raised later without invalidating what is stored. Each hash takes ``128·n·r`` bytes (32 MiB
with the defaults) and noticeable CPU on a Pi 3B+, so hashing runs in worker threads, at most
``concurrency`` at a time: twenty simultaneous logins must not take 640 MiB of a 1 GiB Pi.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
from dataclasses import dataclass

import anyio
import anyio.to_thread

SCHEME = "scrypt"
SALT_BYTES = 16
HASH_BYTES = 32


@dataclass(frozen=True)
class ScryptParams:
    """scrypt's cost parameters: ``n`` (CPU and memory), ``r`` (block size), ``p``."""

    n: int = 2**15
    r: int = 8
    p: int = 1

    @property
    def maxmem(self) -> int:
        # scrypt needs 128·n·r bytes; OpenSSL's default cap (32 MiB) is exactly too small.
        return 128 * self.n * self.r * self.p + 1024 * 1024


# 32 MiB and about 0.1 s on a desktop core, several times that on a Pi 3B+: slow enough to make
# guessing expensive, cheap enough for an interactive login.
DEFAULT_PARAMS = ScryptParams()


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _scrypt(password: str, salt: bytes, params: ScryptParams) -> bytes:
    return hashlib.scrypt(
        password.encode("utf-8"),
        salt=salt,
        n=params.n,
        r=params.r,
        p=params.p,
        maxmem=params.maxmem,
        dklen=HASH_BYTES,
    )


def make_verifier(password: str, params: ScryptParams) -> str:
    """A new verifier for ``password`` with a fresh salt (blocking: tens of milliseconds)."""
    salt = os.urandom(SALT_BYTES)
    digest = _scrypt(password, salt, params)
    return f"{SCHEME}${params.n}${params.r}${params.p}${_b64(salt)}${_b64(digest)}"


def check_verifier(password: str, verifier: str) -> bool:
    """Whether ``password`` matches ``verifier`` (blocking); False for a malformed verifier."""
    try:
        scheme, n, r, p, salt, expected = verifier.split("$")
        if scheme != SCHEME:
            return False
        params = ScryptParams(int(n), int(r), int(p))
        digest = _scrypt(password, base64.b64decode(salt), params)
        return hmac.compare_digest(digest, base64.b64decode(expected))
    except ValueError:  # wrong field count, bad numbers or base64, parameters scrypt refuses
        return False


class PasswordVerifier:
    """Makes and checks verifiers off the event loop, a bounded number at a time."""

    def __init__(self, params: ScryptParams | None = None, *, concurrency: int = 2) -> None:
        self.params = params or DEFAULT_PARAMS
        self._limiter = anyio.CapacityLimiter(concurrency)

    async def make(self, password: str) -> str:
        return await anyio.to_thread.run_sync(
            make_verifier, password, self.params, limiter=self._limiter
        )

    async def check(self, password: str, verifier: str) -> bool:
        return await anyio.to_thread.run_sync(
            check_verifier, password, verifier, limiter=self._limiter
        )
