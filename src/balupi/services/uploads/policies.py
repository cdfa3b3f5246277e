"""Per-folder conflict policies: ``ask``, ``keep_both``, ``overwrite`` or ``skip``.

Without one the default applies (server wins). The deepest configured folder above a path
decides. The policies are kept in one JSON file.
"""

from __future__ import annotations

from pathlib import Path

from balupi.services.files.paths import ancestors, normalize_path
from balupi.services.uploads.conflicts import ConflictPolicy
from balupi.services.uploads.jsonfile import read_json, write_json


class FolderPolicies:
    def __init__(self, path: Path) -> None:
        self._path = path

    async def all(self) -> dict[str, ConflictPolicy]:
        raw: dict[str, str] = await read_json(self._path, {})
        return {folder: ConflictPolicy(policy) for folder, policy in raw.items()}

    async def set(self, folder: str, policy: ConflictPolicy | None) -> dict[str, ConflictPolicy]:
        """Set (or with None, remove) the policy of ``folder``; returns all policies."""
        policies = await self.all()
        key = normalize_path(folder)
        if policy is None:
            policies.pop(key, None)
        else:
            policies[key] = policy
        await write_json(self._path, {k: v.value for k, v in policies.items()})
        return policies

    async def policy_for(self, path: str) -> ConflictPolicy:
        policies = await self.all()
        for folder in reversed([*ancestors(path), path]):
            if folder in policies:
                return policies[folder]
        return policies.get("", ConflictPolicy.SERVER_WINS)
