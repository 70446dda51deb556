"""The fake upstream's documents, written from upstream-protocol.md ("Documents (PDF, docx, csv, …)"
and "Inline canvas blocks"). Pure functions: fake_upstream.py calls them while it builds a turn.

- A ``filecite`` marker (``\\ue200filecite\\ue202turn1file0\\ue202L17-L19\\ue201``) in an answer gets a
  ``content_references`` entry of ``type: "file"``: the marker as ``matched_text``, ``refs`` with
  ``ref_type: "file"``, the file's ``id``, ``name`` and ``source``, and an ``input_pointer`` with
  the line range when one was cited. Files of turn 9 are never found (no entry).
- A writing block ``:::writing{variant="document" id="…" title="…"}`` … ``:::`` in an answer gets
  ``metadata.writing_blocks[id]`` with its ``content`` once the block is closed.
- ``!files``: the model reads the attachment through ``myfiles_browser`` first (never shown).
"""
from __future__ import annotations

import re

FILE_NAMES = ["report.pdf", "notes.txt", "budget.csv"]      # turn N file M -> FILE_NAMES[M % 3]
FILE_QUOTE = "Quarterly revenue grew 5% (page 3 of the report, which the model read)."
FILE_CALL = '{"queries": ["revenue growth"], "source_filter": ["files_uploaded_in_conversation"]}'
LINES = re.compile(r"L(\d+)(?:-L(\d+))?$")
WRITING = re.compile(r':::writing\{([^}\n]*)\}\n(.*?)\n:::(?=\n|$)', re.S)
ATTRIBUTE = re.compile(r'(\w+)="([^"]*)"')


def file_id(turn: int, index: int) -> str:
    return f"file-{turn:02d}{index:02d}fakedocument"


def file_reference(marker: str, start: int, end: int, args: list[str]) -> dict | None:
    """The content reference of a filecite marker; None for files the upstream never resolves."""
    found = re.fullmatch(r"turn(\d+)file(\d+)", args[0]) if args else None
    if found is None or found.group(1) == "9":
        return None
    turn, index = int(found.group(1)), int(found.group(2))
    reference = {"matched_text": marker, "start_idx": start, "end_idx": end, "type": "file",
                 "refs": [{"turn_index": turn, "ref_type": "file", "ref_index": index}],
                 "id": file_id(turn, index), "name": FILE_NAMES[index % len(FILE_NAMES)],
                 "source": "my_files", "alt": None, "safe_urls": []}
    lines = LINES.match(args[1]) if len(args) > 1 else None
    if lines:
        first = int(lines.group(1))
        reference["input_pointer"] = {"line_range_start": first,
                                      "line_range_end": int(lines.group(2) or first)}
    return reference


def writing_blocks(text: str) -> list[tuple[int, str, dict]]:
    """Each closed writing block of ``text``: (where its closing fence ends, its id, its metadata entry)."""
    blocks = []
    for match in WRITING.finditer(text):
        attributes = dict(ATTRIBUTE.findall(match.group(1)))
        block_id = attributes.get("id", "")
        blocks.append((match.end(), block_id, {"id": block_id, "variant": attributes.get("variant", "document"),
                                               "title": attributes.get("title", ""), "content": match.group(2)}))
    return blocks
