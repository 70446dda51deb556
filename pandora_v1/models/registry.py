"""Model registry: the name a client sends -> the upstream slug and conversation mode.

Claude names (``anthropic.models``: exact names and ``*`` patterns, the first that matches wins) map to
a model this server serves, or else to an upstream slug, so Claude Code and the Anthropic SDKs work
unconfigured.
"""
from __future__ import annotations

import re
from fnmatch import fnmatchcase

from ..errors import APIError
from ..runtime.config import TEXT_ONLY_SLUGS, ModelEntry, Settings

# GPTs work by id without configuration: "gpt-4-gizmo-g-abc" and "gizmo-g-abc".
_GIZMO_NAME = re.compile(r"^(?:gpt-4-gizmo-|gizmo-)(g-[A-Za-z0-9_-]+)$")
_PATTERN = re.compile(r"[*?\[]")


class ModelRegistry:
    def __init__(self, settings: Settings):
        self._by_name: dict[str, ModelEntry] = {}
        for entry in settings.models + settings.gpts:
            self._by_name[entry.alias] = entry
        self._claude = settings.anthropic.models
        self._gpts = [entry.alias for entry in settings.gpts]

    def names(self) -> list[str]:
        """Every alias, the Claude names mapped by name (patterns cannot be listed), then the GPTs."""
        aliases = [name for name in self._by_name if name not in self._gpts]
        claude = [name for name, _ in self._claude if not _PATTERN.search(name) and name not in self._by_name]
        return aliases + claude + [name for name in self._by_name if name in self._gpts]

    def resolve(self, name: str) -> ModelEntry:
        entry = self._by_name.get(name)
        if entry:
            return entry
        target = self._claude_target(name)
        if target is not None:
            mapped = self._by_name.get(target)
            if mapped:
                return ModelEntry(name, mapped.slug, mapped.accepts_images, mapped.gizmo_id)
            return ModelEntry(name, target, target not in TEXT_ONLY_SLUGS)
        match = _GIZMO_NAME.match(name)
        if match:
            return ModelEntry(name, "gpt-4-gizmo", True, match.group(1))
        raise APIError(404, f"The model `{name}` does not exist or you do not have access to it.",
                       param="model", code="model_not_found")

    def _claude_target(self, name: str) -> str | None:
        return next((target for pattern, target in self._claude
                     if pattern == name or (_PATTERN.search(pattern) and fnmatchcase(name, pattern))), None)


def conversation_mode(entry: ModelEntry) -> dict:
    if entry.gizmo_id:
        return {"kind": "gizmo_interaction", "gizmo_id": entry.gizmo_id}
    return {"kind": "primary_assistant"}
