"""Who may see what (issue 4 item 2): the ``Viewer`` of a user, and the check on every path.

A user's ``Viewer`` carries the NAS's jail (``paths.Viewer``) plus the shares the NAS granted:
every folder the NAS listed for them outside ``Shared`` and their home. So while the NAS sleeps
the Pi refuses exactly what it cannot prove the NAS would allow; a file or folder known because
an admin listed it is not shown to a user the NAS would refuse.

While the NAS is online, a path outside what the Pi can prove (a share it has not seen listed
yet) is left to the NAS, which answers for that user with their own token: its ``200`` is how
the share becomes known, its ``403 {"detail": "Access denied"}`` goes back unchanged. ``..``
(400) and the root's system folders (403) are refused by the Pi in every state.
"""

from __future__ import annotations

from balupi.errors import AccessDenied
from balupi.services.auth import AuthenticatedUser
from balupi.services.files.metadata import MetadataStore
from balupi.services.files.paths import Viewer, is_system_path, normalize_path


class FileAccess:
    """Builds each user's ``Viewer`` from what the NAS listed for them."""

    def __init__(self, metadata: MetadataStore) -> None:
        self._metadata = metadata

    async def viewer_for(self, user: AuthenticatedUser) -> Viewer:
        """``user`` as the visibility rules need them, with the shares the NAS granted."""
        viewer = Viewer(user.username, user.is_admin, user_id=user.id)
        if user.is_admin:
            return viewer
        folders = await self._metadata.listed_folders(user.id)
        return viewer.with_grants(folder for folder in folders if not viewer.can_see(folder))


def admit(viewer: Viewer, raw_path: str | None, *, nas_decides: bool) -> str:
    """``raw_path`` normalised, if ``viewer`` may address it; else ``InvalidPath`` (400) or
    ``AccessDenied`` (403). ``nas_decides``: the NAS is asked next and judges the jail itself.
    """
    path = normalize_path(raw_path)
    if viewer.can_see(path) or (nas_decides and not is_system_path(path)):
        return path
    raise AccessDenied()
