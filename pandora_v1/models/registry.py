"""Model registry: the name a client sends -> the upstream slug and conversation mode."""
from __future__ import annotations

import re

from ..errors import APIError
from ..runtime.config import ModelEntry, Settings

# GPTs work by id without configuration: "gpt-4-gizmo-g-abc" and "gizmo-g-abc".
_GIZMO_NAME = re.compile(r"^(?:gpt-4-gizmo-|gizmo-)(g-[A-Za-z0-9_-]+)$")
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
        self._gpts = [entry.alias for entry in settings.gpts]

    def names(self) -> list[str]:
        """The configured aliases, the search models, then the GPTs."""
        aliases = [n for n in self._by_name if n not in self._gpts]
        return aliases + [n for n in SEARCH_MODELS if n not in self._by_name] + self._gpts

    def resolve(self, name: str) -> ModelEntry:
        entry = self._by_name.get(name)
        if entry:
            return entry
        match = _GIZMO_NAME.match(name)
        if match:
            return ModelEntry(name, "gpt-4-gizmo", True, match.group(1))
        if is_search_model(name):
            return ModelEntry(name, self._search_slug)
        raise APIError(404, f"The model `{name}` does not exist or you do not have access to it.",
                       param="model", code="model_not_found")


def conversation_mode(entry: ModelEntry) -> dict:
    if entry.gizmo_id:
        return {"kind": "gizmo_interaction", "gizmo_id": entry.gizmo_id}
    return {"kind": "primary_assistant"}
