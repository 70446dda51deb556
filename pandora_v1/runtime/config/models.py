"""Model aliases: the reference products' ``*_new_name`` keys, the ``models`` section, gpts.json."""
from __future__ import annotations

import json
from pathlib import Path

from .reader import Reader
from .settings import DEFAULT_CLAUDE_MODELS, TEXT_ONLY_SLUGS, AnthropicSettings, ModelEntry

# The reference products' alias keys: config key -> (upstream slug, default aliases).
LEGACY_MODEL_KEYS = {
    "gpt_4_s_new_name": ("gpt-4", "gpt-4-s"),
    "gpt_4_mobile_new_name": ("gpt-4-mobile", "gpt-4-mobile"),
    "gpt_3_5_new_name": ("gpt-4o-mini", "gpt-3.5-turbo"),
    "gpt_4_o_new_name": ("gpt-4o", "gpt-4o"),
    "gpt_4_o_mini_new_name": ("gpt-4o-mini", "gpt-4o-mini"),
    "o1_preview_new_name": ("o1-preview", "o1-preview"),
    "o1_mini_new_name": ("o1-mini", "o1-mini"),
    "o1_new_name": ("o1", "o1"),
    "o3_mini_new_name": ("o3-mini", "o3-mini"),
}


def models(reader: Reader) -> tuple[ModelEntry, ...]:
    entries: dict[str, ModelEntry] = {}

    def add(alias: str, slug: str, images: bool | None = None):
        alias = alias.strip()
        if alias:
            accepts = slug not in TEXT_ONLY_SLUGS if images is None else images
            entries[alias] = ModelEntry(alias, slug, accepts)

    for key, (slug, default_aliases) in LEGACY_MODEL_KEYS.items():
        value = reader.raw.get(key)
        names = default_aliases if value is None else value
        if not isinstance(names, str):
            reader.problems.append(f"{key}: expected comma-separated model names, got {json.dumps(value)}")
            continue
        for alias in names.split(","):
            add(alias, slug)

    models = reader.section("models")
    for alias, spec in models.items():
        name = f"models.{alias}"
        if isinstance(spec, str) and spec.strip():
            add(alias, spec.strip())
        elif isinstance(spec, dict) and isinstance(spec.get("slug"), str) and spec["slug"].strip():
            images = reader.boolean("images", None, source=spec, name=f"{name}.images") \
                if "images" in spec else None
            add(alias, spec["slug"].strip(), images)
        else:
            reader.problems.append(
                f"{name}: expected an upstream slug or {{\"slug\": ..., \"images\": true|false}}, "
                f"got {json.dumps(spec)}")
    return tuple(entries.values())


def load_gpts(path: Path) -> tuple[tuple[ModelEntry, ...], list[str]]:
    """gpts.json: ``{"model name": {"id": "g-..."}}``. A missing file is no GPTs."""
    if not path.is_file():
        return (), []
    try:
        raw = json.loads(path.read_text(encoding="utf-8") or "{}")
    except (OSError, ValueError) as exc:
        return (), [f"{path.name}: not valid JSON ({exc})"]
    if not isinstance(raw, dict):
        return (), [f"{path.name}: expected an object of {{\"name\": {{\"id\": \"g-...\"}}}}"]
    entries, problems = [], []
    for name, spec in raw.items():
        gizmo = spec.get("id") if isinstance(spec, dict) else None
        if not isinstance(gizmo, str) or not gizmo.strip().startswith("g-"):
            problems.append(f"{path.name}: {name}.id must be a GPT id starting with g-, got {json.dumps(gizmo)}")
            continue
        entries.append(ModelEntry(name.strip(), "gpt-4-gizmo", True, gizmo.strip()))
    return tuple(entries), problems


def anthropic(reader: Reader) -> AnthropicSettings:
    """Section ``anthropic``: ``models`` (Claude names or ``*`` patterns -> a model name or slug), tried before
    the defaults, which they override by name; ``context_window``."""
    section = reader.section("anthropic")
    table = section.get("models") or {}
    if not isinstance(table, dict):
        reader.problems.append(f"anthropic.models: expected an object of {{\"claude name\": \"model\"}}, "
                               f"got {json.dumps(table)}")
        table = {}
    mapped: list[tuple[str, str]] = []
    for name, target in table.items():
        if not name.strip() or not isinstance(target, str) or not target.strip():
            reader.problems.append(f"anthropic.models.{name}: expected a model name or an upstream slug, "
                                   f"got {json.dumps(target)}")
            continue
        mapped.append((name.strip(), target.strip()))
    configured = {name for name, _ in mapped}
    mapped += [(name, target) for name, target in DEFAULT_CLAUDE_MODELS if name not in configured]
    window = reader.number("context_window", AnthropicSettings.context_window, section,
                           "anthropic.context_window", minimum=1024, integer=True)
    return AnthropicSettings(tuple(mapped), window)
