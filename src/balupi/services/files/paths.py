"""BaluHost's path model and who may see what (docs/compat/nas-api.md §3.1), enforced by the Pi.

Paths are relative POSIX paths from the storage root without a leading slash; ``""`` and ``"/"``
are the root. A ``..`` segment is 400 "Invalid path". An admin sees everything. A user sees
``Shared``, their own home (named like the username), and whatever the NAS itself has listed for
them (shares): the Pi records each folder the NAS listed for a user and grants that folder and what
lies below it. System directories at the root are hidden from users. Everything else is 403
"Access denied", exactly as the NAS answers, and it applies to cache hits too: a file cached
because an admin read it is not served to a user the NAS would refuse.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, replace

from balupi.errors import AccessDenied, InvalidPath

SHARED = "Shared"
SHARED_WITH_ME = "Shared with me"
SYSTEM_DIRS = frozenset({".system", "lost+found", ".tmp"})
TRASH_PREFIX = ".Trash-"


def normalize_path(path: str | None) -> str:
    """The canonical form of a client's path: no leading or trailing slash, no empty segments.

    Raises ``InvalidPath`` for ``..`` anywhere (the NAS refuses it with 400 before anything else).
    """
    if not path:
        return ""
    segments = [
        segment for segment in path.replace("\\", "/").split("/") if segment not in ("", ".")
    ]
    if ".." in segments:
        raise InvalidPath()
    return "/".join(segments)


# What the NAS's filesystem cannot store in a name (ext4 and friends; docs/compat/nas-api.md §3.4):
# a NUL (the NAS answers 500, or drops it and stores the file renamed), CR or LF (they break the
# multipart header the Pi pushes with), and more than 255 bytes of UTF-8 (ENAMETOOLONG: 500).
MAX_NAME_BYTES = 255
UNSTORABLE_CHARACTERS = frozenset("\x00\r\n")
UNSTORABLE_NAME = (
    "File and folder names may not contain NUL, CR or LF characters "
    f"or be longer than {MAX_NAME_BYTES} bytes."
)


def _storable_name(name: str) -> bool:
    if UNSTORABLE_CHARACTERS.intersection(name):
        return False
    try:
        return len(name.encode()) <= MAX_NAME_BYTES
    except UnicodeEncodeError:  # a lone surrogate is no name a filesystem can hold
        return False


def storable(path: str) -> bool:
    """Whether the NAS can store every name in ``path`` (a normalised path)."""
    return all(_storable_name(name) for name in path.split("/"))


def require_storable(path: str) -> str:
    """``path`` itself, or ``InvalidPath`` (400) when the NAS could not store it: checked
    before anything is acknowledged, so no accepted change fails for good later."""
    if not storable(path):
        raise InvalidPath(UNSTORABLE_NAME)
    return path


def parent_of(path: str) -> str:
    return path.rpartition("/")[0]


def name_of(path: str) -> str:
    return path.rpartition("/")[2]


def join(parent: str, name: str) -> str:
    return f"{parent}/{name}" if parent else name


def ancestors(path: str) -> list[str]:
    """``a/b/c`` → ``["a", "a/b"]``: every folder above ``path``, outermost first."""
    parts = path.split("/")[:-1] if path else []
    return ["/".join(parts[: index + 1]) for index in range(len(parts))]


def is_system_path(path: str) -> bool:
    top = path.split("/", 1)[0]
    return top in SYSTEM_DIRS or top.startswith(TRASH_PREFIX)


@dataclass(frozen=True)
class Viewer:
    """Who is looking: enough of the user to apply the NAS's visibility rules."""

    username: str
    is_admin: bool
    # Folders the NAS listed for this user outside the jail (shares), e.g. "bob/Holiday".
    granted: frozenset[str] = field(default_factory=frozenset)
    # The NAS's id for the user (a string), for the owner rule of ``shows``; None: unknown.
    user_id: str | None = None

    def with_grants(self, folders: Iterable[str]) -> Viewer:
        return replace(self, granted=self.granted | frozenset(folders))

    def can_see(self, path: str) -> bool:
        """Whether the NAS would let this user address ``path`` (already normalised)."""
        if self.is_admin:
            return True
        if path == "" or path == SHARED_WITH_ME:
            return True  # the virtual root and the virtual shares folder
        if is_system_path(path):
            return False
        top = path.split("/", 1)[0]
        if top in (SHARED, self.username):
            return True
        return path in self.granted or any(folder in self.granted for folder in ancestors(path))

    def shows(self, path: str, owner_id: str | None) -> bool:
        """Whether the NAS lists (and serves) the entry at ``path`` owned by ``owner_id``.

        Beyond ``can_see``: inside a user's own home the NAS shows them only what they own or
        what has no owner (a file placed by hand); ``Shared`` and granted shares show all.
        """
        if self.is_admin:
            return True
        if not self.can_see(path):
            return False
        if path.split("/", 1)[0] == self.username:
            return owner_id is None or owner_id == self.user_id
        return True

    def require(self, path: str | None) -> str:
        """``path`` normalised, or ``InvalidPath`` / ``AccessDenied`` as the NAS would answer."""
        normalized = normalize_path(path)
        if not self.can_see(normalized):
            raise AccessDenied()
        return normalized
