"""Where an uploaded file goes, decided as BaluHost decides it (docs/compat/nas-api.md §3.4).

The form field ``path`` is a folder, or, when its last segment contains a dot, the full target
file path (BaluApp's folder sync relies on that "dot heuristic"). The multipart filename is cut
to its last component; ``\\`` counts as a separator (BaluDesk on Windows sends it). BaluDesk's
explorer puts the full path in the query string instead of the form: the NAS ignores it, the Pi
uses it when the form has no ``path``. A name the NAS cannot store is refused here, before the
upload is acknowledged (``require_storable``).
"""

from __future__ import annotations

from balupi.errors import InvalidPath
from balupi.services.files.paths import join, name_of, normalize_path, require_storable


def safe_filename(filename: str) -> str:
    """The last path component of a client's filename; ``InvalidPath`` when nothing is left."""
    name = filename.replace("\\", "/").rsplit("/", 1)[-1].strip()
    if name in ("", ".", ".."):
        raise InvalidPath("Invalid filename")
    return name


def upload_target(form_path: str | None, query_path: str | None, filename: str) -> str:
    """The NAS path the file will have; ``InvalidPath`` if the NAS could not store it."""
    raw = form_path if form_path is not None else (query_path or "")
    destination = normalize_path(raw.replace("\\", "/"))
    if destination and "." in name_of(destination):
        return require_storable(destination)
    return require_storable(join(destination, safe_filename(filename)))
