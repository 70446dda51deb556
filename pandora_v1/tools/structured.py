"""``response_format`` json_object / json_schema: the answer text made exactly JSON, and checked.

The model is asked for bare JSON (tools.format_instruction) but often wraps
it in a fence. ``JsonText`` strips leading whitespace and a ```` ```json ````
opener as the text streams, and stops at the closing fence, holding back only
a trailing run of whitespace and backticks while a closing fence is still
possible. ``json_error`` says what is wrong with the final text, if anything.
"""
from __future__ import annotations

import orjson

from .definitions import ResponseFormat
from .detector import schema_errors

_TRAILING = " \t\r\n`"


class JsonText:
    def __init__(self):
        self._started = False    # the first non-blank character was seen
        self._fenced = False
        self._ended = False      # the closing fence was seen: the rest is dropped
        self._held = ""

    def feed(self, text: str) -> str:
        if self._ended:
            return ""
        text = self._held + text
        self._held = ""
        if not self._started:
            text = text.lstrip()
            if not text:
                return ""
            if "```".startswith(text[:3]) and text[0] == "`":
                newline = text.find("\n")
                if newline < 0:
                    self._held = text     # the fence opener's line is not complete yet
                    return ""
                if text.startswith("```"):
                    self._fenced = True
                    text = text[newline + 1:]
            self._started = True
        if not self._fenced:
            return text
        end = text.find("```")
        if end >= 0:
            self._ended = True
            return text[:end].rstrip()
        keep = len(text) - len(text.rstrip(_TRAILING))
        if keep:
            self._held = text[-keep:]
            return text[:-keep]
        return text

    def close(self) -> str:
        held, self._held = self._held, ""
        if self._ended:
            return ""
        if not self._started:
            return held.strip()
        return held.rstrip(_TRAILING) if self._fenced else held


def json_error(text: str, fmt: ResponseFormat) -> str | None:
    """None when ``text`` is what the format asks for, else the reason (for the retry prompt)."""
    try:
        value = orjson.loads(text)
    except orjson.JSONDecodeError as exc:
        return f"the reply is not valid JSON ({exc})"
    if not isinstance(value, dict) and (fmt.type == "json_object" or fmt.schema is None):
        return "the reply must be a JSON object"
    if fmt.schema is not None:
        errors = schema_errors(value, fmt.schema)
        if errors:
            return "the reply does not match the JSON Schema: " + "; ".join(errors)
    return None
