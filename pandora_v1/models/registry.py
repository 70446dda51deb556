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

# OpenAI's search models (platform-spec §2.1); any other name with "-search" works the same.
SEARCH_MODELS = ("gpt-4o-search-preview", "gpt-4o-mini-search-preview", "gpt-5-search-api")


def is_search_model(name: str) -> bool:
    """A name that asks for web search by itself (``gpt-4o-search-preview``, dated snapshots, …)."""
    return "-search" in name


class ModelRegistry:
    def __init__(self, settings: Settings):
        self._by_name: dict[str, ModelEntry] = {}
        self._search_slug = settings.model_settings.search_slug
        for entry in settings.models + settings.gpts:
            self._by_name[entry.alias] = entry
        self._claude = settings.anthropic.models
        self._gpts = [entry.alias for entry in settings.gpts]

    def names(self) -> list[str]:
        """The configured aliases, the search models, the Claude names mapped by name (patterns cannot be
        listed), then the GPTs."""
        aliases = [name for name in self._by_name if name not in self._gpts]
        search = [name for name in SEARCH_MODELS if name not in self._by_name]
        claude = [name for name, _ in self._claude if not _PATTERN.search(name) and name not in self._by_name]
        return aliases + search + claude + self._gpts

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
        if is_search_model(name):
            return ModelEntry(name, self._search_slug)
        raise APIError(404, f"The model `{name}` does not exist or you do not have access to it.",
                       param="model", code="model_not_found")

    def _claude_target(self, name: str) -> str | None:
        return next((target for pattern, target in self._claude
                     if pattern == name or (_PATTERN.search(pattern) and fnmatchcase(name, pattern))), None)


def conversation_mode(entry: ModelEntry) -> dict:
    if entry.gizmo_id:
        return {"kind": "gizmo_interaction", "gizmo_id": entry.gizmo_id}
    return {"kind": "primary_assistant"}
