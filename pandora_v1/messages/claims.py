"""A search answer's text -> Anthropic's text blocks: plain text, and claims with their citations.

Anthropic cuts an answer that rests on its searches into text blocks (platform-spec.md §6.8): plain
text, and claims carrying the ``citations`` of the pages they rest on. Recorded, a claim's block starts
with ``citations: []``, its ``citations_delta`` events come first, then its text, and the claim is one
sentence ("Apple Ginza opens to customers Friday, September 26, at 10 a.m. JST."), the text between
claims plain blocks of their own (" ", "\\n\\n## Apple News\\n").

The upstream marks a source right after the claim it supports; with silent citations the mark is gone
from the text and a citation stands where it was (translate/citations.py). The claim is the sentence
that mark ends: from the last sentence boundary before it to it, and on to the sentence's end when the
mark came before the full stop ("today[mark]." keeps its period; a space before the mark is dropped).
So only the text since the last sentence boundary is held back, a sentence at most (and never more
than ``LONGEST`` characters: a line that never ends is no claim): text before it can no longer become
part of a claim and goes out as it comes.

``feed(text)``, ``cite(citations)`` (citations where the text fed so far ends) and ``flush()`` return
steps for the encoder (messages/events.py ``MessageEncoder.steps``), in order:

    (TEXT, str)               more text for the open text block (a plain one when none is open)
    (CLAIM, citations, str)   a cited block with its text so far (whatever is open is closed first)
    (MORE, citations)         more citations for the open claim (a second mark right after the first)
    (CLOSE,)                  the claim's sentence is over
"""
from __future__ import annotations

import re

TEXT, CLAIM, MORE, CLOSE = "text", "claim", "more", "close"

# Where a sentence may start: after a full stop and the spaces behind it, a line break (and a list
# item's bullet or number) or a heading's hashes.
_STARTS = re.compile(r"[.!?。！？]\s+|\n[ \t]*(?:[-*+•][ \t]+|\d{1,3}[.)][ \t]+|#{1,6}[ \t]+)?")
_ENDS = re.compile(r"[.!?。！？]|\n")          # where an open claim's sentence ends
_STOPS = ".!?。！？"
_CLOSERS = ".,;:!?)]}。，；：！？"                # punctuation that takes no space before it
LONGEST = 2000


class Claims:
    def __init__(self):
        self._held = ""        # text since the last sentence boundary: it may still become a claim
        self._citing = False   # a claim is open: it takes text up to its sentence's end
        self._space = ""       # the space between a claim and its mark (dropped before punctuation)

    def feed(self, text: str) -> list[tuple]:
        steps: list[tuple] = []
        if self._space and text:
            text = text if text[0] in _CLOSERS else self._space + text
            self._space = ""
        if self._citing and text:
            end = _ENDS.search(text)
            if end is None:
                return [(TEXT, text)]
            cut = end.start() if end.group() == "\n" else end.end()
            if cut:
                steps.append((TEXT, text[:cut]))
            steps.append((CLOSE,))
            self._citing, text = False, text[cut:]
        held = self._held + text
        start = len(held) - len(held.lstrip())       # a claim never starts with a space
        for boundary in _STARTS.finditer(held, start):
            start = boundary.end()
        if len(held) - start > LONGEST:
            start = len(held)
        if start:
            steps.append((TEXT, held[:start]))
        self._held = held[start:]
        return steps

    def cite(self, citations: list[dict]) -> list[tuple]:
        if not citations:
            return []
        if self._citing and not self._held:
            return [(MORE, citations)]
        held, self._held = self._held, ""
        claim = held.rstrip()
        self._space = held[len(claim):]
        self._citing = not claim.endswith(tuple(_STOPS))
        return [(CLAIM, citations, claim)] + ([] if self._citing else [(CLOSE,)])

    def flush(self) -> list[tuple]:
        """The text ended (or something else follows it): what is held goes out."""
        steps: list[tuple] = [(CLOSE,)] if self._citing else []
        if self._held:
            steps.append((TEXT, self._held))
        self._held, self._citing, self._space = "", False, ""
        return steps
