"""Delete, create folder, rename and move (issue 4 item 8): forwarded, then the caches follow.

Every client spelling (docs/compat/nas-api.md §3.6, docs/compat/clients.md §1.4, §2.3–2.4, §4)
becomes one ``Mutation`` and reaches the NAS in one canonical form, with the user's own token:

    Delete        POST /api/files/delete   {"path"}
    CreateFolder  POST /api/files/folder   {"path": parent, "name"}
    Rename        PUT  /api/files/rename   {"old_path", "new_name"}
    Move          PUT  /api/files/move     {"source_path", "target_path"}

The NAS's answer goes back as it is (``{"message": …}``, or its error). After a 2xx the metadata
cache and the file cache (``FileCacheHooks``) follow: a deleted tree leaves both, a renamed or
moved one is re-keyed (its cached bytes stay cached under the new path), and the folders
involved are listed again as the user, if the Pi had listed them, for the NAS's new sizes, times
and ids.

Guards the NAS lacks: a delete, rename or move of the storage root is refused with 400 and never
forwarded (BaluDesk's ``DELETE /api/files?path=`` reaches the NAS's catch-all with an empty
path, which for an admin deletes everything). A mutation by ``file_id`` (BaluDesk's explorer)
is mapped to a path through the metadata cache and confirmed against a fresh NAS listing first,
so a stale id never acts on whichever file now holds its old path.

While the NAS is not online the mutation goes to ``OfflineMutations``, the one place that
decides what happens then. The default (``WakeOrRefuse``) wakes the NAS by the ``WakePolicy``
and forwards the mutation if it comes back within the short wait, else answers 503 +
``Retry-After``; issue 5 replaces it with a queue.
"""

from __future__ import annotations

from typing import Any

from balupi.errors import FileError
from balupi.logs import get_logger
from balupi.services.auth import AuthenticatedUser, ForwardedAnswer
from balupi.services.files.access import FileAccess, admit
from balupi.services.files.hooks import FileCacheHooks, OfflineMutations
from balupi.services.files.listing import ListingService
from balupi.services.files.metadata import MetadataStore
from balupi.services.files.model import (
    CreateFolder,
    Delete,
    EmptyPath,
    FolderNameRequired,
    Move,
    Mutation,
    MutationResult,
    Rename,
    UnknownFileId,
)
from balupi.services.files.paths import (
    SHARED,
    Viewer,
    join,
    name_of,
    parent_of,
    require_storable,
)
from balupi.services.files.upstream import NasGate

log = get_logger(__name__)


class SourceNotFound(FileError):
    """A rename or move of a file or folder the NAS does not have."""

    code = "source_not_found"
    status_code = 404

    def __init__(self) -> None:
        super().__init__("File not found")


def produced_path(mutation: CreateFolder | Rename | Move) -> str:
    """The path a folder, rename or move creates (what the NAS must be able to store)."""
    match mutation:
        case CreateFolder(parent=parent, name=name):
            return join(parent, name)
        case Rename(target=target) | Move(target=target):
            return target


def nas_request(mutation: Mutation) -> tuple[str, str, dict[str, Any]]:
    """The method, endpoint and JSON body that perform ``mutation`` on the NAS."""
    match mutation:
        case Delete(path=path):
            return "POST", "/api/files/delete", {"path": path}
        case CreateFolder(parent=parent, name=name):
            return "POST", "/api/files/folder", {"path": parent, "name": name}
        case Rename(path=path, new_name=new_name):
            return "PUT", "/api/files/rename", {"old_path": path, "new_name": new_name}
        case Move(source=source, target=target):
            return "PUT", "/api/files/move", {"source_path": source, "target_path": target}


class WakeOrRefuse:
    """Mutations while the NAS is away, for now: wake it by policy, else 503 + Retry-After."""

    def __init__(self, gate: NasGate) -> None:
        self._gate = gate

    async def submit(
        self, mutation: Mutation, user: AuthenticatedUser, *, trigger: str | None
    ) -> MutationResult | None:
        method, endpoint, _ = nas_request(mutation)
        if await self._gate.reach(user, method, endpoint, trigger=trigger):
            return None
        raise self._gate.asleep("BaluPi does not change files while the NAS is away")


class MutationService:
    """Performs file mutations on the NAS as the user and keeps the caches in step."""

    def __init__(
        self,
        metadata: MetadataStore,
        access: FileAccess,
        gate: NasGate,
        listing: ListingService,
        *,
        cache_hooks: FileCacheHooks,
        offline: OfflineMutations,
    ) -> None:
        self._metadata = metadata
        self._access = access
        self._gate = gate
        self._listing = listing
        self._cache_hooks = cache_hooks
        self._offline = offline

    # -- the client's spellings ---------------------------------------------------------------
    async def delete(
        self, raw_path: str | None, user: AuthenticatedUser, *, trigger: str | None = None
    ) -> MutationResult:
        """Delete a path (every delete route); an empty path is ``EmptyPath`` (400)."""
        path = self._admit(await self._viewer(user), raw_path)
        if not path:
            raise EmptyPath("delete")
        return await self._perform(Delete(path), user, trigger)

    async def delete_path_or_id(
        self, segment: str, user: AuthenticatedUser, *, trigger: str | None = None
    ) -> MutationResult:
        """``DELETE /api/files/{segment}``: a path as on the NAS, except a bare number that
        names no entry at the storage root but a known ``file_id`` (BaluDesk's explorer)."""
        if segment.isascii() and segment.isdigit() and await self._metadata.entry(segment) is None:
            row = await self._metadata.by_file_id(int(segment))
            if row is not None:
                path = self._admit(await self._viewer(user), row.path)
                return await self._perform(Delete(path, file_id=int(segment)), user, trigger)
        return await self.delete(segment, user, trigger=trigger)

    async def create_folder(
        self,
        raw_parent: str | None,
        name: str,
        user: AuthenticatedUser,
        *,
        trigger: str | None = None,
    ) -> MutationResult:
        """``POST /api/files/folder {path, name}``: folder ``name`` inside ``raw_parent``."""
        if not name:
            raise FolderNameRequired()
        viewer = await self._viewer(user)
        parent = self._admit(viewer, raw_parent)
        self._admit(viewer, join(parent, name))  # the name may climb (..) or nest (a/b)
        return await self._perform(CreateFolder(parent, name), user, trigger)

    async def make_directory(
        self, raw_path: str | None, user: AuthenticatedUser, *, trigger: str | None = None
    ) -> MutationResult:
        """Legacy ``POST /api/files/mkdir {path}``: the whole new path."""
        path = self._admit(await self._viewer(user), raw_path)
        if not path:
            raise FolderNameRequired()
        return await self._perform(CreateFolder(parent_of(path), name_of(path)), user, trigger)

    async def rename(
        self,
        *,
        path: str | None,
        file_id: int | None,
        new_name: str,
        user: AuthenticatedUser,
        trigger: str | None = None,
    ) -> MutationResult:
        """``PUT /api/files/rename``: ``old_path`` (or ``path``), or BaluDesk's ``file_id``."""
        viewer = await self._viewer(user)
        source, by_id = await self._source(viewer, path, file_id, "rename")
        target = self._admit(viewer, join(parent_of(source), new_name))
        if target == parent_of(source):
            raise EmptyPath("rename")  # an empty name: the NAS would rename onto the parent
        return await self._perform(Rename(source, new_name, target, by_id), user, trigger)

    async def move(
        self,
        *,
        source: str | None,
        file_id: int | None,
        target: str | None,
        user: AuthenticatedUser,
        trigger: str | None = None,
    ) -> MutationResult:
        """``PUT /api/files/move``: ``source_path`` (or a ``file_id``) to ``target_path`` (or
        BaluApp's ``destination_path``, BaluDesk's ``new_path``; ``""`` is the root)."""
        viewer = await self._viewer(user)
        path, by_id = await self._source(viewer, source, file_id, "move")
        return await self._perform(Move(path, self._admit(viewer, target), by_id), user, trigger)

    # -- performing ---------------------------------------------------------------------------
    async def _perform(
        self, mutation: Mutation, user: AuthenticatedUser, trigger: str | None
    ) -> MutationResult:
        if isinstance(mutation, CreateFolder | Rename | Move):  # awake or asleep: 400, not 500
            require_storable(produced_path(mutation))
        if not self._gate.online:
            kept = await self._offline.submit(mutation, user, trigger=trigger)
            if kept is not None:
                return kept
            if not self._gate.online:  # nothing is ever sent to a NAS that is not online
                raise self._gate.asleep("The NAS did not come back")
        if isinstance(mutation, Delete | Rename | Move) and mutation.file_id is not None:
            await self._confirm_id(mutation, user)
        destination = (
            await self._destination(mutation, user) if isinstance(mutation, Move) else None
        )
        method, endpoint, body = nas_request(mutation)
        response = await self._gate.call(method, endpoint, user, trigger=trigger, json=body)
        if response.is_success:
            await self._follow(mutation, destination, user)
        else:
            log.info("nas refused a change", endpoint=endpoint, status=response.status_code)
            if response.status_code >= 500 and isinstance(mutation, Rename | Move):
                await self._missing_source(mutation, user)
        return ForwardedAnswer.of(response)

    async def _missing_source(self, mutation: Rename | Move, user: AuthenticatedUser) -> None:
        """The NAS answers a rename or move of a file that is not there with its own unhandled
        500 (docs/compat/nas-api.md §3.6); the Pi looks at the folder and answers 404 instead."""
        source = mutation.source if isinstance(mutation, Move) else mutation.path
        await self._listing.refresh(parent_of(source), user)
        if await self._metadata.entry(source) is None:
            raise SourceNotFound()

    async def _follow(
        self, mutation: Mutation, destination: str | None, user: AuthenticatedUser
    ) -> None:
        """Bring the metadata and file caches in line with what the NAS just did."""
        match mutation:
            case Delete(path=path):
                await self._forget(path)
                touched = [parent_of(path)]
            case CreateFolder(parent=parent):
                touched = [parent]
            case Rename(path=path, target=target):
                await self._relocate(path, target)
                touched = [parent_of(path)]
            case Move(source=source):
                if destination is None:  # where it went is unknown: forget rather than guess
                    await self._forget(source)
                    touched = [parent_of(source)]
                else:
                    await self._relocate(source, destination)
                    touched = list(dict.fromkeys([parent_of(source), parent_of(destination)]))
        for folder in touched:
            if await self._metadata.was_listed(folder):
                await self._listing.refresh(folder, user)

    async def _forget(self, path: str) -> None:
        await self._metadata.remove_tree(path)
        await self._cache_hooks.removed(path)

    async def _relocate(self, old: str, new: str) -> None:
        await self._cache_hooks.removed(new)  # whatever the NAS overwrote at ``new``
        await self._metadata.move_tree(old, new)
        await self._cache_hooks.moved(old, new)

    async def _destination(self, move: Move, user: AuthenticatedUser) -> str | None:
        """Where the NAS will put ``move.source``: into ``target`` if that is an existing
        folder, else at ``target``; None if the Pi cannot tell (the NAS would not list it)."""
        target = move.target
        if target in ("", SHARED, user.username):  # folders that always exist
            return join(target, name_of(move.source))
        row = await self._metadata.entry(target)
        known = row is not None or await self._listing.refresh(parent_of(target), user)
        if row is None and known:
            row = await self._metadata.entry(target)
        if row is not None and row.is_directory:
            return join(target, name_of(move.source))
        return target if known else None

    async def _confirm_id(self, mutation: Delete | Rename | Move, user: AuthenticatedUser) -> None:
        """The path a ``file_id`` was mapped to still holds that id, as the NAS lists it now."""
        path = mutation.source if isinstance(mutation, Move) else mutation.path
        await self._listing.refresh(parent_of(path), user)
        row = await self._metadata.entry(path)
        if row is None or row.file_id != mutation.file_id:
            raise UnknownFileId()

    # -- checks -------------------------------------------------------------------------------
    async def _viewer(self, user: AuthenticatedUser) -> Viewer:
        return await self._access.viewer_for(user)

    def _admit(self, viewer: Viewer, raw_path: str | None) -> str:
        return admit(viewer, raw_path, nas_decides=self._gate.online)

    async def _source(
        self, viewer: Viewer, raw_path: str | None, file_id: int | None, verb: str
    ) -> tuple[str, int | None]:
        """The path a rename or move acts on, and the ``file_id`` it was mapped from (if the
        client named the file by id only)."""
        by_id = None
        if raw_path is None and file_id is not None:
            row = await self._metadata.by_file_id(file_id)
            if row is None:
                raise UnknownFileId()
            raw_path, by_id = row.path, file_id
        path = self._admit(viewer, raw_path)
        if not path:
            raise EmptyPath(verb)
        return path, by_id
