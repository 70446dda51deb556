"""SSE events -> message snapshots.

Format A events already are snapshots (``{"message", "conversation_id",
"error"}``). Format B (delta encoding v1) sends JSON-pointer operations on
that same root object; ``DeltaFolder`` applies them so that everything after
this stage sees format A only.

``Folder.feed`` gives the snapshot root (a dict, mutated in place by later
deltas: read it, don't keep it) or a ``Signal`` for events that carry no
message.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import orjson

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Signal:
    kind: str          # "done" | "error" | "moderation" | "resume" | "handoff"
    value: Any = None


DONE = Signal("done")


class DeltaError(ValueError):
    pass


_POINTERS: dict[str, tuple] = {}


def _pointer(path: str) -> tuple:
    """"/message/content/parts/0" -> (("message", None), ..., ("0", 0)): key and list index."""
    tokens = _POINTERS.get(path)
    if tokens is None:
        if path and not path.startswith("/"):
            raise DeltaError(f"not a JSON pointer: {path!r}")
        names = [t.replace("~1", "/").replace("~0", "~") for t in path.split("/")[1:]]
        tokens = tuple((name, int(name) if name.isdigit() else None) for name in names)
        if len(_POINTERS) < 4096:  # paths repeat; bound the cache anyway
            _POINTERS[path] = tokens
    return tokens


def _child(container, token: tuple):
    name, index = token
    if type(container) is dict:
        return container[name]
    if type(container) is list and index is not None:
        return container[index]
    raise DeltaError(f"cannot index {type(container).__name__} with {name!r}")


class DeltaFolder:
    """Applies delta-encoding v1 operations to the current message root.

    Beyond the 2024 rules (a missing ``p``/``o`` reuses the previous ones),
    today's upstream sends frames without ``v`` (``{"c": 5}``: nothing to do),
    bare ``{"v": "text"}`` continuing the last string append (also one made
    inside a patch list), and bare ``{"v": [ops]}`` patch lists.
    """

    def __init__(self):
        self.root: dict | None = None
        self._path = ""
        self._op = "add"
        self._text_target: tuple | None = None   # (container, key) the last string append grew

    def apply(self, event: dict) -> None:
        value = event.get("v")
        if value is None and "v" not in event and "p" not in event and "o" not in event:
            return                               # {"c": 5}: a counter only
        if "p" not in event and "o" not in event:
            target = self._text_target
            if type(value) is str:
                if target is not None:
                    container, key = target      # the hot path: {"v": "more text"}
                    container[key] += value
                    return
            elif type(value) is list and value and all(type(op) is dict and ("p" in op or "o" in op)
                                                       for op in value):
                self._path, self._op = "", "patch"    # a bare list of operations is a patch
            elif isinstance(value, dict) and "message" in value:
                # A bare {"v": {"message": ...}, "c": N} starts a new message too.
                self._path, self._op = "", "add"
        path, op = event.get("p", self._path), event.get("o", self._op)
        self._path, self._op = path, op
        self._text_target = self._apply(path, op, value)

    def _apply(self, path: str, op: str, value) -> tuple | None:
        """Returns (container, key) when it appended text to a string, for the next bare append."""
        if op == "patch":
            if not isinstance(value, list):
                raise DeltaError("patch needs a list of operations")
            target = None
            for inner in value:
                if not isinstance(inner, dict):
                    raise DeltaError("patch operation is not an object")
                grown = self._apply(inner.get("p", path), inner.get("o", "replace"), inner.get("v"))
                if grown is not None:
                    target = grown               # the last string append in the list
            return target
        tokens = _pointer(path)
        if not tokens:
            if op in ("add", "replace"):
                self.root = value
                return None
            if op == "append" and isinstance(self.root, dict) and isinstance(value, dict):
                self.root.update(value)
                return None
            raise DeltaError(f"cannot {op} the root")
        parent = self.root
        try:
            for token in tokens[:-1]:
                parent = _child(parent, token)
            name, index = tokens[-1]
            if type(parent) is dict:
                key = name
                if op == "append" and type(value) is str and type(parent.get(key)) is str:
                    parent[key] += value          # text growing
                    return parent, key
            elif type(parent) is list and (index is not None or name == "-"):
                key = len(parent) if name == "-" else index
            else:
                raise DeltaError(f"cannot index {type(parent).__name__} with {name!r}")
            if op in ("add", "replace"):
                if isinstance(parent, list) and op == "add":
                    parent.insert(key, value)
                elif isinstance(parent, list) and key == len(parent):
                    parent.append(value)
                else:
                    parent[key] = value
            elif op == "append":
                current = parent[key] if (isinstance(parent, dict) and key in parent) or \
                    (isinstance(parent, list) and key < len(parent)) else None
                if current is None:
                    if isinstance(parent, list) and key == len(parent):
                        parent.append(value)
                    else:
                        parent[key] = value
                    # text appended to a field that did not exist yet (a thought's summary)
                    return (parent, key) if type(value) is str and isinstance(parent, dict) else None
                elif isinstance(current, str):
                    parent[key] = current + value
                    return (parent, key) if type(value) is str else None
                elif isinstance(current, list):
                    current.extend(value) if isinstance(value, list) else current.append(value)
                elif isinstance(current, dict):
                    current.update(value)
                else:
                    raise DeltaError(f"cannot append to {type(current).__name__}")
            elif op == "truncate":
                parent[key] = parent[key][:int(value)]
            elif op == "remove":
                del parent[key]
            else:
                raise DeltaError(f"unknown operation {op!r}")
        except (KeyError, IndexError, TypeError, ValueError) as exc:
            raise DeltaError(f"{op} {path}: {exc}") from None
        return None


def _signal_for(obj: dict) -> Signal | None:
    kind = obj.get("type")
    if kind == "moderation":
        verdict = obj.get("moderation_response") or {}
        return Signal("moderation", verdict) if isinstance(verdict, dict) else None
    if kind == "resume_conversation_token" and isinstance(obj.get("token"), str):
        return Signal("resume", obj)       # what a hand-off's continuation needs
    if kind == "stream_handoff":
        return Signal("handoff", obj)
    # input_message, message_marker, title_generation, server_ste_metadata, ...: no answer text
    return None


def _error_text(error) -> str:
    if isinstance(error, dict):
        return str(error.get("message") or error.get("detail") or error)
    return str(error)


class Folder:
    """``feed(name, data)`` for each SSE event: the snapshot root, a ``Signal``, or None.

    After ``DONE`` or an error it ignores the rest.
    """

    def __init__(self):
        self._delta = DeltaFolder()
        self.ended = False

    def feed(self, name: str, data: bytes | memoryview) -> dict | Signal | None:
        if self.ended or name == "ping" or name == "delta_encoding":
            return None
        if data == b"[DONE]":
            self.ended = True
            return DONE
        try:
            obj = orjson.loads(data)
        except orjson.JSONDecodeError:
            log.warning("skipping an upstream event that is not valid JSON (%d bytes)", len(data))
            return None
        if type(obj) is not dict:
            return None  # "v1" and other bare values carry nothing
        if "message" in obj or "error" in obj and "v" not in obj:
            root = obj  # format A snapshot
        elif "v" in obj and (name == "delta" or "c" in obj) or "p" in obj or "o" in obj:
            try:
                self._delta.apply(obj)
            except DeltaError as exc:
                log.warning("skipping an upstream delta that does not apply: %s", exc)
                return None
            root = self._delta.root
            if type(root) is not dict:
                return None
        else:
            return _signal_for(obj)
        if root.get("error"):
            self.ended = True
            return Signal("error", _error_text(root["error"]))
        return root if type(root.get("message")) is dict else None
