"""Per-folder conflict policies: ``ask``, ``keep_both``, ``overwrite`` or ``skip``.

Without one the default applies (server wins). The deepest configured folder above a path
decides. The policies are kept in one JSON file; this class alone writes it, so it is read once.
"""

from __future__ import annotations

from pathlib import Path

from balupi.services.files.paths import ancestors, normalize_path
from balupi.services.uploads.conflicts import ConflictPolicy
from balupi.services.uploads.jsonfile import read_json, write_json


class FolderPolicies:
    def __init__(self, path: Path) -> None:
        self._path = path
        self._policies: dict[str, ConflictPolicy] | None = None  # the file's content, once read

    async def all(self) -> dict[str, ConflictPolicy]:
        if self._policies is None:
            raw: dict[str, str] = await read_json(self._path, {})
            self._policies = {folder: ConflictPolicy(policy) for folder, policy in raw.items()}
        return dict(self._policies)

    async def set(self, folder: str, policy: ConflictPolicy | None) -> dict[str, ConflictPolicy]:
        """Set (or with None, remove) the policy of ``folder``; returns all policies."""
        policies = await self.all()
        key = normalize_path(folder)
        if policy is None:
            policies.pop(key, None)
        else:
            policies[key] = policy
        await write_json(self._path, {k: v.value for k, v in policies.items()})
        self._policies = dict(policies)
        return policies

    async def policy_for(self, path: str) -> ConflictPolicy:
        policies = await self.all()
        for folder in reversed([*ancestors(path), path]):
            if folder in policies:
                return policies[folder]
        return policies.get("", ConflictPolicy.SERVER_WINS)
