"""Where a request may go on the emulated NAS: path normalisation, the user jail and ownership.

BaluHost addresses files by POSIX paths relative to its storage root (docs/compat/nas-api.md §3.1).
Admins are not jailed: their paths are only kept inside the storage root. Normal users may address
``Shared``, their own home and the virtual ``Shared with me``; anything else is 403 ``Access
denied`` and a ``..`` segment is 400 ``Invalid path``.

Ownership is the ``owner_id`` of a path's own metadata row and nothing else: a path without a row
(placed on disk by hand, or a directory an upload created) has no owner, so only an admin may
change it. That is how BaluHost's ``ensure_owner_or_privileged`` behaves, and the emulator keeps it
because the quirks clients meet follow from it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from fastapi import HTTPException

from balupi.sim.nas.state import EmulatedNas, NasUser

SHARED = "Shared"
SHARED_WITH_ME = "Shared with me"
_SYSTEM_NAMES = frozenset({".system", "lost+found", ".tmp"})
_SYSTEM_PREFIXES = (".Trash-",)


def is_system_name(name: str) -> bool:
    """Whether ``name`` is one of the storage root's system directories (hidden from users)."""
    return name in _SYSTEM_NAMES or name.startswith(_SYSTEM_PREFIXES)


def is_admin(user: NasUser) -> bool:
    return user.role == "admin"


def forbidden(detail: str) -> HTTPException:
    return HTTPException(status_code=403, detail=detail)


def not_permitted() -> HTTPException:
    """BaluHost's answer when the user is neither the owner nor an admin."""
    return forbidden("Operation not permitted")


@dataclass(frozen=True)
class NasPath:
    """A normalised storage-relative path (``""`` is the root) and where it lives on disk."""

    rel: str
    root: Path

    @property
    def abs(self) -> Path:
        return self.root / self.rel if self.rel else self.root

    @property
    def name(self) -> str:
        return self.rel.rpartition("/")[2]

    @property
    def parent(self) -> NasPath:
        return NasPath(self.rel.rpartition("/")[0], self.root)

    @property
    def in_shared(self) -> bool:
        return self.rel == SHARED or self.rel.startswith(SHARED + "/")

    @property
    def top_level(self) -> bool:
        """Whether this is a direct child of the storage root (where system dirs live)."""
        return bool(self.rel) and "/" not in self.rel

    def child(self, name: str) -> NasPath:
        return NasPath(f"{self.rel}/{name}" if self.rel else name, self.root)


def normalise(raw: str, user: NasUser) -> str:
    """Strip slashes and ``.``/empty segments; refuse ``..`` for users, resolve it for admins."""
    parts: list[str] = []
    for part in raw.strip("/").split("/"):
        if part in ("", "."):
            continue
        if part != "..":
            parts.append(part)
        elif not is_admin(user):
            raise HTTPException(status_code=400, detail="Invalid path")
        elif parts:
            parts.pop()
        else:
            raise forbidden("Path is outside of the NAS storage boundary")
    return "/".join(parts)


def _jail(rel: str, user: NasUser) -> None:
    if is_admin(user) or rel == SHARED_WITH_ME:
        return
    for allowed in (SHARED, user.username):
        if rel == allowed or rel.startswith(allowed + "/"):
            return
    raise forbidden("Access denied")


def resolve(state: EmulatedNas, user: NasUser, raw: str) -> NasPath:
    """The path ``raw`` names for ``user``, or the NAS's 400/403 when it may not go there."""
    rel = normalise(raw, user)
    _jail(rel, user)
    return NasPath(rel, state.storage)


def owner_of(state: EmulatedNas, path: NasPath) -> int | None:
    record = state.files.get(path.rel)
    return record.owner_id if record is not None else None


def can_view(state: EmulatedNas, user: NasUser, path: NasPath) -> bool:
    """Everyone sees ``Shared`` and ownerless paths; otherwise only the owner and admins."""
    if is_admin(user) or path.in_shared:
        return True
    owner = owner_of(state, path)
    return owner is None or owner == user.id


def require_owner(state: EmulatedNas, user: NasUser, path: NasPath) -> None:
    """403 ``Operation not permitted`` unless ``user`` owns ``path`` or is an admin."""
    if not is_admin(user) and owner_of(state, path) != user.id:
        raise not_permitted()


def require_upload_target(state: EmulatedNas, user: NasUser, directory: NasPath) -> None:
    """Anyone may write into ``Shared`` (and admins into the root); elsewhere only the owner."""
    if directory.rel and not directory.in_shared:
        require_owner(state, user, directory)


def refuse_system_dir(path: NasPath, verb: str) -> None:
    """System directories at the root cannot be deleted, renamed or moved, not even by admins."""
    if path.top_level and is_system_name(path.name):
        raise forbidden(f"Cannot {verb} system directory '{path.name}'")


def inferred_owner(state: EmulatedNas, path: NasPath, requester: NasUser) -> int:
    """Who gets a row auto-created for an untracked directory: the home's user, else the parent's
    owner, else whoever asked (``Shared`` directories always go to whoever asked)."""
    top = path.rel.partition("/")[0]
    if top != SHARED:
        home_user = state.user_by_name(top)
        if home_user is not None:
            return home_user.id
        parent_owner = owner_of(state, path.parent) if "/" in path.rel else None
        if parent_owner is not None:
            return parent_owner
    return requester.id
