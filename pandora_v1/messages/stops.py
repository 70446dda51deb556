"""``stop_sequences``: the answer text ends before the first one it contains (``stop_reason:
"stop_sequence"``). As text streams, only the longest tail that could still become one is held back."""
from __future__ import annotations


class StopSequences:
    def __init__(self, sequences: tuple[str, ...]):
        self.sequences = sequences
        self.matched: str | None = None
        self._held = ""

    def feed(self, text: str) -> str:
        """What of ``text`` can go out now; after a match, the text before it (and ``matched`` set)."""
        text = self._held + text
        self._held = ""
        found = [(at, s) for s in self.sequences if (at := text.find(s)) >= 0]
        if found:
            at, self.matched = min(found)
            return text[:at]
        keep = max((k for s in self.sequences for k in range(min(len(s) - 1, len(text)), 0, -1)
                    if text.endswith(s[:k])), default=0)
        self._held = text[len(text) - keep:] if keep else ""
        return text[:len(text) - keep]

    def flush(self) -> str:
        """The held tail: it will not become a stop sequence (the text ended, or a tool call follows)."""
        held, self._held = self._held, ""
        return held
