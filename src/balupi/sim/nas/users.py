"""The emulated NAS's start-up users and defaults: light enough for ``balupi --help`` to import."""

from __future__ import annotations

from dataclasses import dataclass

from balupi.sim.nas.state import Role

__all__ = ["DEFAULT_JWT_SECRET", "DEFAULT_MAC", "DEFAULT_USERS", "UserSpec"]

DEFAULT_MAC = "02:42:ba:10:00:01"  # locally administered: never a real NIC's
DEFAULT_JWT_SECRET = "balupi-emulated-nas-secret-not-for-production"


@dataclass(frozen=True)
class UserSpec:
    """A user the emulator creates at start: ``name:password:role`` on the command line."""

    username: str
    password: str
    role: Role = "user"

    @classmethod
    def parse(cls, text: str) -> UserSpec:
        """``name:password[:admin|user]``; the password may itself contain colons."""
        username, _, password = text.partition(":")
        role: Role = "user"
        head, _, tail = password.rpartition(":")
        if head and tail in ("admin", "user"):
            password, role = head, "admin" if tail == "admin" else "user"
        if not username or not password:
            raise ValueError(f"expected name:password[:admin|user], got {text!r}")
        return cls(username, password, role)


DEFAULT_USERS = (
    UserSpec("admin", "DevMode2024", "admin"),
    UserSpec("maria", "maria-password", "user"),
)
