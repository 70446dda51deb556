"""Citation marks in answer text -> links, for both generations of the upstream.

2024: ``【3†source】`` marks resolved through ``metadata.citations`` (and
``[name](sandbox:/mnt/data/x)`` links to files the code wrote).
Today: private-use markers ``U+E200 kind U+E202 arg … U+E201`` resolved through
``metadata.content_references`` (see "Citations" in upstream-protocol.md).

Rendering: a source becomes ``[[n](url)]`` (2024: n is the mark's number;
today: sources are numbered in the order the answer first cites them), or,
``inline`` (a client that asked for search gets OpenAI's style), the
reference's ``alt`` (``([Site](url))``) or ``([domain](url))`` per source, or,
``silent`` (the Messages API: citations are fields of its text blocks), nothing,
the annotation an empty span where the mark stood, with the source's snippet; an
entity its name, a file citation (``filecite``, resolved through a ``type:
"file"`` reference) a readable ``(report.pdf, lines 17–19)`` in every mode,
anything else nothing. Each link written is recorded as an annotation (chat's
nested shape: ``{"type": T, T: {start_index, end_index, …}}``): ``url_citation``
for sources, and with ``files`` a ``container_file_citation`` for each file the
code wrote. No character U+E200–U+E206 ever leaves this module: stray ones are
dropped, and an unclosed marker with them.

Text is rewritten as it streams. What might still become a mark is held back:
a mark cut across deltas until it closes, and a complete marker whose
reference has not arrived yet until it has or the message ends (``final``).
Plain text is handed through after one character-class scan.
"""
from __future__ import annotations

import re
import secrets
import urllib.parse
from typing import Callable

import orjson
import regex

from . import writing

OPEN, CLOSE, SEP = "\ue200", "\ue201", "\ue202"

# Anything that may need rewriting: a 2024 mark, a markdown link, a private-use character, a
# writing block's fence (``::``, or a ``:`` that may start one in the next delta).
# The quick checks use the stdlib engine: for a one-class scan it costs a tenth of ``regex``'s call.
_SPECIAL = re.compile(r"[【\[\ue200-\ue206]|::|:\Z").search
special = _SPECIAL     # the renderer's quick check before any rewriting
_PRIVATE = re.compile(r"[\ue200-\ue206]").search
# A marker is closed by U+E201; a second U+E200 first means the earlier one was never closed.
_MARKER = r"(?P<marker>\ue200[^\ue200\ue201]*\ue201)"
# Bounded lengths for the 2024 shapes, so text that merely starts like one is held back only briefly.
_LEGACY = (r"(?P<cite>【(?P<n>\d{1,4})(?::\d{1,4})?†[^】\n]{0,40}】)"
           r"|(?P<link>\[(?P<label>[^\]\n]{1,200})\]\((?P<path>sandbox:/mnt/data/[^)\s]{1,300})\))")
_MARKS = regex.compile("|".join((_LEGACY, _MARKER, writing.FENCE)))
_MARKS_AT_END = regex.compile("|".join((_LEGACY, _MARKER, writing.FENCE_AT_END)))   # the message ended
_MARKERS_ONLY = regex.compile(_MARKER)
# Left over after the marks: an opener never closed (with what it held), or a stray delimiter.
_LEFTOVER = re.compile(r"\ue200[^\ue200\ue201]*\ue201?|[\ue201-\ue206]")

# Marker kinds that point at sources; the others (i, video, products, forecast, …) render as nothing.
_LINK_KINDS = frozenset({"cite", "url", "navlist"})
_FILE_REF = re.compile(r"turn(\d+)file(\d+)")
_LINES = re.compile(r"L(\d+)(?:-L?(\d+))?")
# The link in a reference's ready markdown (its alt): ([Site](url)).
_ALT_LINK = re.compile(r"^\(\[[^\]\n]+\]\((https?://[^)\s]+)\)\)$")


def span(annotation: dict) -> dict:
    """The fields of an annotation in chat's nested shape (start_index, end_index, …)."""
    return annotation[annotation["type"]]


def _domain(url: str) -> str:
    host = urllib.parse.urlsplit(url).hostname or url
    return host[4:] if host.startswith("www.") else host


def clean(text: str) -> str:
    """``text`` without private-use characters or unclosed markers (no marks are resolved)."""
    return _LEFTOVER.sub("", text) if _PRIVATE(text) else text


class Rewriter:
    """Rewrites one answer's text; keeps the numbering of today's sources and, with
    ``annotate``, the links written (OpenAI ``url_citation`` annotations)."""

    def __init__(self, links: bool = True, sandbox: Callable[[str, str], str | None] | None = None,
                 inline: bool = False, files: bool = False, silent: bool = False):
        self.links = links                  # False (bot mode without references): marks vanish
        self.sandbox = sandbox              # (message id, /mnt/data path) -> URL
        self.inline = inline                # OpenAI's ([site](url)) instead of [[n](url)]
        self.silent = silent                # no link written: only the annotation says where and what
        self.files = files                  # record container_file_citation for sandbox links
        self.annotations: list[dict] = []
        self._numbers: dict[str, int] = {}  # source URL -> its number in this answer
        self._file_ids: dict[str, str] = {}  # sandbox path -> its cfile_ id in this answer

    def rewrite(self, buffer: str, message: dict, final: bool, base: int | None = None,
                markers_only: bool = False, before: str = "") -> tuple[str, str]:
        """(text to send now, text held back). ``base``: where the text will start in
        the answer's content, to record annotations (None: don't, e.g. reasoning);
        ``before``: the character sent just before it (a file citation gets a space after a word)."""
        if not (_PRIVATE if markers_only else _SPECIAL)(buffer):
            return buffer, ""                   # the hot path: plain text
        marks = _MARKERS_ONLY if markers_only else _MARKS_AT_END if final else _MARKS
        out, pos, size = [], 0, base or 0
        while True:
            match = marks.search(buffer, pos, partial=not final)
            if match is None:
                out.append(clean(buffer[pos:]))
                return "".join(out), ""
            plain = clean(buffer[pos:match.start()])
            out.append(plain)
            size += len(plain)
            if match.partial:
                return "".join(out), buffer[match.start():]
            before = plain[-1:] or before
            text = self._replacement(match, message, final, size if base is not None else None,
                                     self.links and not markers_only, before)
            if text is None:                    # its reference has not arrived yet
                return "".join(out), buffer[match.start():]
            out.append(text)
            size += len(text)
            before = text[-1:] or before
            pos = match.end()

    # -- one mark -----------------------------------------------------------

    def _replacement(self, match, message: dict, final: bool, at: int | None,
                     links: bool, before: str = "") -> str | None:
        if match.group("marker"):
            return self._marker(match.group("marker"), message, final, at, links, before)
        if match.group("writing"):
            block = writing.block_text(match.group("attrs"), match.group("body") or "", message, final)
            return None if block is None else clean(block)
        if match.group("cite"):
            if not links:
                return ""
            n = match.group("n")
            source = _legacy_source(message, int(n))
            if source and self.silent:
                return self._place({}, [source], at)
            if source and self.inline:
                return self._inline({}, [source], at)
            return self._link(n, *source, at) if source else ""
        path = match.group("path")[len("sandbox:"):]
        url = self.sandbox(str(message.get("id")), path) if self.sandbox else None
        if not url:
            return match.group(0)
        link = f"[{match.group('label')}]({url})"
        if self.files and at is not None:
            file_id = self._file_ids.setdefault(path, "cfile_" + secrets.token_hex(12))
            self.annotations.append({"type": "container_file_citation", "container_file_citation": {
                "file_id": file_id, "filename": path.rsplit("/", 1)[-1], "start_index": at,
                "end_index": at + len(link)}})
        return link

    def _marker(self, marker: str, message: dict, final: bool, at: int | None,
                links: bool, before: str = "") -> str | None:
        kind, _, rest = marker[1:-1].partition(SEP)
        kind = kind.strip()
        reference = _reference(message, marker)
        if kind == "filecite":
            cited = _file_citation(reference or _file_reference(message, rest), rest)
            if cited is None:
                return "" if final else None    # hold it until its reference comes, or the end
            return cited if not before or before.isspace() else " " + cited
        if kind == "entity":
            alt = reference.get("alt") if reference else None
            return clean(alt) if isinstance(alt, str) and alt.strip() else _entity_name(rest)
        if kind not in _LINK_KINDS or not links:
            return ""
        sources = _sources(reference) if reference else []
        if not sources:
            return "" if final else None        # hold it until its reference comes, or the end
        if self.silent:
            return self._place(reference or {}, sources, at)
        if self.inline:
            return self._inline(reference or {}, sources, at)
        out = []
        for url, title in sources:
            number = self._numbers.setdefault(url, len(self._numbers) + 1)
            link = self._link(str(number), url, title, at)
            if at is not None:
                at += len(link)
            out.append(link)
        return "".join(out)

    def _inline(self, reference: dict, sources: list[tuple[str, str | None]], at: int | None) -> str:
        """OpenAI's search style: the reference's ready ``alt``, else ``([domain](url))`` per source."""
        alt = clean(reference["alt"]) if isinstance(reference.get("alt"), str) else None
        found = _ALT_LINK.match(alt) if alt else None
        if found and isinstance(alt, str):
            url = found.group(1)
            title = next((t for u, t in sources if u == url), sources[0][1])
            self._annotate(url, title, at, len(alt))
            return alt
        out = []
        for url, title in sources:
            link = f"([{_domain(url)}]({url}))"
            self._annotate(url, title, at, len(link))
            if at is not None:
                at += len(link) + 1
            out.append(link)
        return " ".join(out)

    def _place(self, reference: dict, sources: list[tuple[str, str | None]], at: int | None) -> str:
        """``silent``: an empty span per source where the mark stood, with what the source says."""
        if at is not None:
            for url, title in sources:
                found = {"url": url, "title": title or "", "start_index": at, "end_index": at}
                snippet = _snippet(reference, url)
                if snippet:
                    found["snippet"] = snippet
                self.annotations.append({"type": "url_citation", "url_citation": found})
        return ""

    def _annotate(self, url: str, title: str | None, at: int | None, length: int) -> None:
        if at is not None:
            self.annotations.append({"type": "url_citation", "url_citation": {
                "url": url, "title": title or "", "start_index": at, "end_index": at + length}})

    def _link(self, label: str, url: str, title: str | None, at: int | None) -> str:
        link = f"[[{label}]({url})]"
        self._annotate(url, title, at, len(link))
        return link


def _legacy_source(message: dict, index: int) -> tuple[str, str | None] | None:
    for citation in (message.get("metadata") or {}).get("citations") or ():
        meta = citation.get("metadata") if isinstance(citation, dict) else None
        if isinstance(meta, dict) and (meta.get("extra") or {}).get("cited_message_idx") == index:
            url = meta.get("url")
            return (url, meta.get("title")) if isinstance(url, str) and url else None
    return None


def _reference(message: dict, marker: str) -> dict | None:
    for reference in (message.get("metadata") or {}).get("content_references") or ():
        if isinstance(reference, dict) and reference.get("matched_text") == marker:
            return reference
    return None


def _file_reference(message: dict, rest: str) -> dict | None:
    """The ``type: "file"`` reference whose refs name the marker's ``turn<N>file<M>`` (its
    ``matched_text`` may be written with other separators)."""
    found = _FILE_REF.search(rest)
    if found is None:
        return None
    wanted = (int(found.group(1)), int(found.group(2)))
    for reference in (message.get("metadata") or {}).get("content_references") or ():
        if isinstance(reference, dict) and reference.get("type") == "file":
            for ref in reference.get("refs") or ():
                if isinstance(ref, dict) and (ref.get("turn_index"), ref.get("ref_index")) == wanted:
                    return reference
    return None


def _file_citation(reference: dict | None, rest: str) -> str | None:
    """``(report.pdf, lines 17–19)``: the file's name, with the lines when known; None: no name yet."""
    name = reference.get("name") or reference.get("title") if reference else None
    if not isinstance(name, str) or not clean(name).strip():
        return None
    pointer = reference.get("input_pointer") if reference else None
    first = last = None
    if isinstance(pointer, dict) and isinstance(pointer.get("line_range_start"), int):
        first = pointer["line_range_start"]
        last = pointer.get("line_range_end") if isinstance(pointer.get("line_range_end"), int) else first
    else:
        lines = _LINES.search(rest.split(SEP, 1)[1]) if SEP in rest else None
        if lines:
            first, last = int(lines.group(1)), int(lines.group(2) or lines.group(1))
    where = "" if first is None else f", line {first}" if last == first else f", lines {first}\u2013{last}"
    return f"({clean(name).strip()}{where})"


def _sources(reference: dict) -> list[tuple[str, str | None]]:
    """The (url, title) pairs a content reference points at, without repeats."""
    found: list[tuple[str, str | None]] = []
    candidates = [reference, *(i for i in reference.get("items") or () if isinstance(i, dict))]
    for item in candidates:
        url = item.get("url")
        if isinstance(url, str) and url.startswith(("http://", "https://")) \
                and all(url != seen for seen, _ in found):
            found.append((url, item.get("title") if isinstance(item.get("title"), str) else None))
    return found


def _snippet(reference: dict, url: str) -> str | None:
    """What the reference quotes of the page at ``url`` (a ``grouped_webpages`` item's snippet)."""
    for item in reference.get("items") or ():
        if isinstance(item, dict) and item.get("url") == url and isinstance(item.get("snippet"), str):
            return clean(item["snippet"]).strip() or None
    return None


def _entity_name(rest: str) -> str:
    """``["company","Motorola","…"]`` -> ``Motorola``; anything else -> nothing."""
    try:
        value = orjson.loads(rest.split(SEP)[0])
    except orjson.JSONDecodeError:
        return ""
    if isinstance(value, list) and len(value) > 1 and isinstance(value[1], str):
        return clean(value[1])
    return ""
