"""A client's limit on output tokens, applied as the answer streams.

``take(kind, text)`` gives ``text`` back, or the part of it that fits once the output reaches the
limit (``reached`` is set then, and the caller ends the answer). The output is counted whole across
kinds (tokens merge across pieces, so pieces cannot be counted one by one), and only once its UTF-8
size could exceed the limit: a token is at least a byte, so short answers are never counted here.
"""
from __future__ import annotations

from ..usage import tokens


class OutputBudget:
    def __init__(self, limit: int | None, slug: str):
        self.limit = limit
        self.slug = slug
        self.reached = False
        self.texts: dict[str, list[str]] = {}   # what was taken, by kind
        self._bytes = 0
        self._next_check = limit or 0      # no count is needed below this size

    def take(self, kind: str, text: str, cut: bool = True) -> str:
        """``cut`` False: ``text`` counts but is never cut (a tool call goes out whole or not at all)."""
        mine = self.texts.setdefault(kind, [])
        if self.limit is None:
            mine.append(text)
            return text
        self._bytes += len(text.encode("utf-8", "surrogatepass"))
        if self._bytes <= self._next_check or not cut:
            mine.append(text)
            return text
        before = "".join(mine)
        others = sum(tokens.count("".join(texts), self.slug) for other, texts in self.texts.items() if other != kind)
        allowed = self.limit - others
        used, kept = tokens.cut(before + text, allowed, self.slug)
        if kept is None:
            self._next_check = self._bytes + (allowed - used)   # no cut is possible before this many more bytes
            mine.append(text)
            return text
        self.reached = True
        kept = kept[len(before):] if kept.startswith(before) else ""
        mine.append(kept)
        return kept
