"""Emulated BaluHost file routes (``/api/files/*``), faithful to docs/compat/nas-api.md §3.

Routes are registered in BaluHost's order because the order is observable: the generic
``DELETE /api/files/{path}`` comes last and swallows ``GET /api/files/download?path=`` (405,
``Allow: DELETE``), the chunked abort route and, after Starlette's trailing-slash redirect,
BaluDesk's ``DELETE /api/files?path=``. Routes that touch the disk are plain ``def`` so FastAPI
runs them in its thread pool; the upload is ``async`` and hands its disk work to threads.
"""

from __future__ import annotations

import hashlib
import mimetypes
import os
import posixpath
import shutil
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import PurePosixPath
from stat import S_ISDIR
from typing import Any

import anyio.to_thread
from fastapi import APIRouter, File, Form, HTTPException, UploadFile
from fastapi.responses import FileResponse

from balupi.sim.nas.deps import CurrentUser, State
from balupi.sim.nas.file_models import (
    FileItem,
    FileListResponse,
    FolderRequest,
    MessageResponse,
    MoveRequest,
    PathRequest,
    RenameRequest,
    UploadResponse,
)
from balupi.sim.nas.paths import (
    SHARED,
    SHARED_WITH_ME,
    NasPath,
    can_view,
    forbidden,
    inferred_owner,
    is_admin,
    is_system_name,
    not_permitted,
    owner_of,
    refuse_system_dir,
    require_owner,
    require_upload_target,
    resolve,
)
from balupi.sim.nas.state import EmulatedNas, FileRecord, NasUser
from balupi.sim.nas.storage import (
    available_bytes,
    require_space,
    tree_size,
    used_bytes,
    write_stream,
)

router = APIRouter(prefix="/api/files")

_UPLOAD_READ_BYTES = 1024 * 1024


def server_error() -> HTTPException:
    """Stands for an exception BaluHost leaves unhandled; its body is scrubbed like any 5xx."""
    return HTTPException(status_code=500, detail="Internal server error")


# -- storage info ----------------------------------------------------------------------------
def _usage(state: EmulatedNas) -> tuple[int, int, int]:
    """(size, used, available) of the one storage the emulator has."""
    if state.quota_bytes is not None:
        used = used_bytes(state.storage)
        return state.quota_bytes, used, max(0, state.quota_bytes - used)
    disk = shutil.disk_usage(state.storage)
    return disk.total, disk.used, disk.free


@router.get("/mountpoints")
def mountpoints(state: State, user: CurrentUser) -> dict[str, Any]:
    """BaluHost's single-storage (no RAID) answer; BaluDesk's explorer needs one entry."""
    size, used, available = _usage(state)
    storage = {
        "id": "storage",
        "name": "Storage",
        "type": "storage",
        "path": "",
        "size_bytes": size,
        "used_bytes": used,
        "available_bytes": available,
        "raid_level": None,
        "status": "optimal",
        "is_default": True,
        "breakdown": {
            "cache_bytes": 0,
            "cache_enabled": False,
            "vcl_bytes": 0,
            "user_files_bytes": used,
        },
    }
    return {"mountpoints": [storage], "default_mountpoint": "storage"}


# -- listing ---------------------------------------------------------------------------------
def _item(state: EmulatedNas, path: NasPath, record: FileRecord | None) -> FileItem:
    stat = path.abs.stat()
    is_dir = S_ISDIR(stat.st_mode)
    owner = state.users.get(record.owner_id) if record is not None else None
    return FileItem(
        name=path.name,
        path=path.rel,
        size=tree_size(path.abs) if is_dir else stat.st_size,
        type="directory" if is_dir else "file",
        modified_at=datetime.fromtimestamp(stat.st_mtime, tz=UTC),
        owner_id=str(record.owner_id) if record is not None else None,
        owner_name=owner.username if owner is not None else None,
        mime_type=None if is_dir else mimetypes.guess_type(path.name)[0],
        file_id=record.id if record is not None else None,
        checksum=record.checksum if record is not None and not is_dir else None,
    )


def _virtual_root(state: EmulatedNas, user: NasUser) -> list[FileItem]:
    """A normal user's root: ``Shared`` (if it exists) and their home, both size 0, no id."""
    home = NasPath(user.username, state.storage)
    home.abs.mkdir(parents=True, exist_ok=True)
    state.ensure_file_record(home.rel, user.id, is_directory=True)
    entries = [(NasPath(SHARED, state.storage), None), (home, str(user.id))]
    return [
        FileItem(
            name=path.name,
            path=path.rel,
            size=0,
            type="directory",
            modified_at=datetime.fromtimestamp(path.abs.stat().st_mtime, tz=UTC),
            owner_id=owner_id,
        )
        for path, owner_id in entries
        if path.abs.is_dir()
    ]


def _list_directory(state: EmulatedNas, user: NasUser, directory: NasPath) -> list[FileItem]:
    if not directory.abs.exists():
        return []
    if not directory.abs.is_dir():
        raise server_error()  # BaluHost fails on iterdir() of a file
    if not can_view(state, user, directory):
        raise not_permitted()
    items = []
    for name in os.listdir(directory.abs):
        if is_system_name(name) and not is_admin(user):
            continue
        entry = directory.child(name)
        record = state.files.get(entry.rel)
        if record is None and entry.abs.is_dir():
            # Listing gives untracked directories a row (and so a file_id); files stay untracked.
            owner = inferred_owner(state, entry, user)
            record = state.ensure_file_record(entry.rel, owner, is_directory=True)
        if can_view(state, user, entry):
            items.append(_item(state, entry, record))
    items.sort(key=lambda item: (item.type != "directory", item.name.lower()))
    return items


@router.get("/list")
def list_files(state: State, user: CurrentUser, path: str = "") -> FileListResponse:
    """``""`` and ``"/"`` are the root; a missing directory lists as empty, not 404."""
    if not is_admin(user):
        stripped = path.strip("/")
        if not stripped:
            return FileListResponse(files=_virtual_root(state, user))
        if stripped == SHARED_WITH_ME:
            return FileListResponse(files=[])  # the emulator has no user-to-user shares
    directory = resolve(state, user, path)
    return FileListResponse(files=_list_directory(state, user, directory))


# -- download --------------------------------------------------------------------------------
@router.get("/download/{resource_path:path}")
def download(resource_path: str, state: State, user: CurrentUser) -> FileResponse:
    """Starlette's ``FileResponse``, as on BaluHost: Range/206/416, If-Range, mtime+size ETag."""
    target = resolve(state, user, resource_path)
    if not can_view(state, user, target):
        raise not_permitted()
    if not target.abs.is_file():
        raise HTTPException(status_code=404, detail="File not found")
    return FileResponse(target.abs, filename=target.abs.name)


# -- upload ----------------------------------------------------------------------------------
def _safe_filename(name: str | None) -> str:
    """The last path component only, so a part's filename cannot climb out of the target."""
    safe = PurePosixPath((name or "").replace("\x00", "")).name
    return safe if safe not in ("", ".", "..") else "upload.bin"


def _prepare_upload(
    state: EmulatedNas, user: NasUser, target: NasPath
) -> tuple[NasPath, str | None]:
    """Apply the dot heuristic, create the directory, then check the right to write there.

    A ``path`` whose last segment contains a dot names the file itself (BaluApp's folder sync
    relies on it); then only an existing row of the parent is checked, so an untracked parent
    is open to anyone the jail lets in. The directory is created before the check, as on the NAS.
    """
    file_name = target.name if "." in target.name else None
    directory = target.parent if file_name is not None else target
    directory.abs.mkdir(parents=True, exist_ok=True)
    if file_name is None:
        require_upload_target(state, user, directory)
    elif directory.rel and owner_of(state, directory) is not None:
        require_owner(state, user, directory)
    return directory, file_name


async def _chunks_of(upload: UploadFile) -> AsyncIterator[bytes]:
    while chunk := await upload.read(_UPLOAD_READ_BYTES):
        yield chunk


async def _store(state: EmulatedNas, user: NasUser, upload: UploadFile, dest: NasPath) -> None:
    """Stream one part to ``dest`` (overwriting silently) and record its SHA-256 and owner."""
    await anyio.to_thread.run_sync(lambda: dest.abs.parent.mkdir(parents=True, exist_ok=True))
    hasher = hashlib.sha256()
    try:
        await write_stream(dest.abs, _chunks_of(upload), hasher)
    except OSError as exc:  # e.g. the target is a directory: unhandled on the NAS
        raise server_error() from exc
    # An existing row keeps its file_id and owner; only the checksum changes.
    state.ensure_file_record(dest.rel, user.id, is_directory=False, checksum=hasher.hexdigest())


@router.post("/upload")
async def upload(
    state: State,
    user: CurrentUser,
    files: list[UploadFile] | None = File(None),
    file: UploadFile | None = File(None),
    path: str = Form(""),
) -> UploadResponse:
    """Multipart ``file`` or repeated ``files`` (``files`` wins) into form ``path``.

    A ``path`` in the query string is ignored, as on the NAS. The quota is checked up front
    from the parts' sizes (the multipart parser has already spooled them).
    """
    target = resolve(state, user, path)
    incoming = files if files is not None else ([file] if file is not None else [])
    upload_ids = [str(uuid.uuid4()) for _ in incoming]
    directory, file_name = await anyio.to_thread.run_sync(_prepare_upload, state, user, target)
    total = sum(part.size or 0 for part in incoming)
    await anyio.to_thread.run_sync(require_space, state, total)
    for part in incoming:
        dest = directory.child(_safe_filename(file_name or part.filename))
        await _store(state, user, part, dest)
    return UploadResponse(message="Files uploaded", uploaded=len(incoming), upload_ids=upload_ids)


@router.get("/storage/available")
def storage_available(state: State, user: CurrentUser) -> dict[str, int | None]:
    return {
        "available_bytes": available_bytes(state),
        "used_bytes": used_bytes(state.storage),
        "quota_bytes": state.quota_bytes,
    }


# -- delete ----------------------------------------------------------------------------------
def _delete_tree(state: EmulatedNas, user: NasUser, target: NasPath) -> None:
    """Delete bottom-up, checking every node, as BaluHost does.

    A denied child aborts the walk with what was deleted so far gone. Children are visited in
    sorted order, so at the root the dot-named system directories come first and an admin's
    accidental root delete stops at the first one before removing anything. The storage root
    itself is never removed.
    """
    if not os.path.lexists(target.abs):
        return
    refuse_system_dir(target, "delete")
    require_owner(state, user, target)
    if target.abs.is_dir() and not target.abs.is_symlink():
        for name in sorted(os.listdir(target.abs)):
            _delete_tree(state, user, target.child(name))
        if target.rel:
            target.abs.rmdir()
    else:
        target.abs.unlink()
    state.drop_file_record(target.rel)


def _delete(state: EmulatedNas, user: NasUser, raw_path: str) -> MessageResponse:
    """Missing paths are "Deleted" too: BaluHost returns early when nothing is there."""
    _delete_tree(state, user, resolve(state, user, raw_path))
    return MessageResponse(message="Deleted")


@router.delete("/raw/{resource_path:path}")
def delete_raw(resource_path: str, state: State, user: CurrentUser) -> MessageResponse:
    return _delete(state, user, resource_path)


@router.delete("/delete")
def delete_by_body(body: PathRequest, state: State, user: CurrentUser) -> MessageResponse:
    return _delete(state, user, body.path)


@router.post("/delete")
def delete_by_post(body: PathRequest, state: State, user: CurrentUser) -> MessageResponse:
    return _delete(state, user, body.path)


# -- folders ---------------------------------------------------------------------------------
def _create_folder(
    state: EmulatedNas, user: NasUser, raw_parent: str, name: str
) -> MessageResponse:
    """Idempotent; missing parents are created (without rows), the folder gets a row."""
    parent = resolve(state, user, raw_parent)
    parent.abs.mkdir(parents=True, exist_ok=True)  # before the checks, as on the NAS
    if not parent.rel and is_system_name(name):
        raise forbidden(f"Cannot create folder with reserved name '{name}'")
    require_upload_target(state, user, parent)
    folder = resolve(state, user, f"{parent.rel}/{name}")
    folder.abs.mkdir(parents=True, exist_ok=True)
    if folder.rel:
        state.ensure_file_record(folder.rel, user.id, is_directory=True)
    return MessageResponse(message="Folder created")


@router.post("/folder")
def create_folder(body: FolderRequest, state: State, user: CurrentUser) -> MessageResponse:
    if not body.name:
        raise HTTPException(status_code=400, detail="Folder name required")
    return _create_folder(state, user, body.path or "", body.name)


@router.post("/mkdir")
def mkdir(body: PathRequest, state: State, user: CurrentUser) -> MessageResponse:
    """Legacy form: the whole new path in ``path``, leading ``/`` allowed."""
    parent, name = posixpath.split(body.path.rstrip("/"))
    return _create_folder(state, user, parent, name)


# -- rename and move -------------------------------------------------------------------------
def _check_source(state: EmulatedNas, user: NasUser, source: NasPath, verb: str) -> None:
    refuse_system_dir(source, verb)
    require_owner(
        state, user, source
    )  # a missing source has no row: 403 for users, 500 later for admins


def _rename(state: EmulatedNas, source: NasPath, dest: NasPath) -> None:
    """POSIX rename (an existing file at ``dest`` is replaced); rows follow, ids are kept."""
    try:
        os.rename(source.abs, dest.abs)
    except OSError as exc:  # e.g. a missing source: unhandled on the NAS, hence a 500
        raise server_error() from exc
    state.move_file_records(source.rel, dest.rel)


@router.put("/rename")
def rename(body: RenameRequest, state: State, user: CurrentUser) -> MessageResponse:
    source = resolve(state, user, body.old_path)
    _check_source(state, user, source, "rename")
    dest = resolve(state, user, f"{source.parent.rel}/{body.new_name}")
    _rename(state, source, dest)
    return MessageResponse(message="Renamed")


@router.put("/move")
def move(body: MoveRequest, state: State, user: CurrentUser) -> MessageResponse:
    """An existing directory as target receives the source; anything else is the new path.

    The target's parent must be owned by the user even inside ``Shared`` (unlike uploads).
    """
    source = resolve(state, user, body.source_path)
    target = resolve(state, user, body.target_path)
    _check_source(state, user, source, "move")
    if target.abs.is_dir():
        parent, dest = target, target.child(source.name)
    else:
        parent, dest = target.parent, target
    if parent.rel:
        require_owner(state, user, parent)
    parent.abs.mkdir(parents=True, exist_ok=True)
    _rename(state, source, dest)
    return MessageResponse(message="Moved")


# Last: BaluHost registers the catch-all delete after every other /api/files route.
@router.delete("/{resource_path:path}")
def delete_by_path(resource_path: str, state: State, user: CurrentUser) -> MessageResponse:
    return _delete(state, user, resource_path)
