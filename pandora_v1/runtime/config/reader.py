"""Typed access to the raw config JSON that records every problem by key (the file stays as users wrote it:
``"true"`` for true, numbers as strings)."""
from __future__ import annotations

import json


class Reader:
    """Typed access to the raw JSON that records every problem by key."""

    def __init__(self, raw: dict):
        self.raw = raw
        self.problems: list[str] = []
        self.notes: list[str] = []      # not errors, but worth one start-up warning

    def _get(self, key, default, source=None):
        source = self.raw if source is None else source
        value = source.get(key)
        return default if value is None or value == "" else value

    def string(self, key, default="", source=None, name=None, strip=True) -> str:
        value = self._get(key, default, source)
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return str(value)
        if not isinstance(value, str):
            self.problems.append(f"{name or key}: expected a string, got {json.dumps(value)}")
            return default
        return value.strip() if strip else value

    def boolean(self, key, default=False, source=None, name=None) -> bool:
        value = self._get(key, default, source)
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.strip().lower() in ("true", "false", "1", "0", "yes", "no"):
            return value.strip().lower() in ("true", "1", "yes")
        if isinstance(value, int) and value in (0, 1):
            return bool(value)
        self.problems.append(f"{name or key}: expected true or false, got {json.dumps(value)}")
        return default

    def number(self, key, default, source=None, name=None, minimum=0.0, integer=False):
        value = self._get(key, default, source)
        try:
            number = (int(value) if integer else float(value)) if not isinstance(value, bool) else None
        except (TypeError, ValueError):
            number = None
        if number is None or (integer and isinstance(value, float) and value != int(value)):
            kind = "an integer" if integer else "a number"
            self.problems.append(f"{name or key}: expected {kind}, got {json.dumps(value)}")
            return default
        if number < minimum:
            self.problems.append(f"{name or key}: must be at least {minimum}, got {number}")
            return default
        return number

    def strings(self, key, default: tuple[str, ...], source=None, name=None) -> tuple[str, ...]:
        """A list of non-empty strings (a comma-separated string too)."""
        value = self._get(key, None, source)
        if value is None:
            return default
        items = value.split(",") if isinstance(value, str) else value
        if not isinstance(items, list) or not all(isinstance(i, str) and i.strip() for i in items):
            self.problems.append(f"{name or key}: expected a list of non-empty strings, got {json.dumps(value)}")
            return default
        return tuple(i.strip() for i in items)

    def section(self, key) -> dict:
        value = self.raw.get(key)
        if value is None or value == "":
            return {}
        if not isinstance(value, dict):
            self.problems.append(f"{key}: expected an object, got {json.dumps(value)}")
            return {}
        return value


def http_url(reader: Reader, key: str, source: dict, name: str) -> str:
    url = reader.string(key, "", source, name)
    if url and not url.startswith(("http://", "https://")):
        reader.problems.append(f"{name}: must start with http:// or https://, got {json.dumps(url)}")
    return url
