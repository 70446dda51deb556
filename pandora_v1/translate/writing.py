"""Inline writing blocks in answer text -> the markdown of their current content.

Today's answers carry editable documents in the text itself (upstream-protocol.md, "Inline canvas
blocks"): ``:::writing{variant="document" id="…" title="…"}`` … ``:::``, with the current text in
``metadata.writing_blocks[id].content``. The client gets what a canvas document gets (render.py):
its title as a heading, then the text; never the fence syntax. The citation rewriter
(citations.py) finds the blocks as they stream, holding a block back until it is closed.
"""
from __future__ import annotations

import re

_ATTRS = r"(?P<attrs>[^}\n]{0,500})"
_BODY = r"(?:\n(?P<body>[\s\S]*?))?"
# A block closed by ":::" on a line of its own; at the end of a message also one never closed.
FENCE = rf"(?P<writing>:::writing\{{{_ATTRS}\}}[^\S\n]*{_BODY}\n:::(?!:))"
FENCE_AT_END = rf"(?P<writing>:::writing\{{{_ATTRS}\}}[^\S\n]*{_BODY}(?:\n:::(?!:)|\Z))"
_ATTRIBUTE = re.compile(r'(\w+)\s*=\s*"([^"]*)"')


def block_text(attrs: str, inline: str, message: dict, final: bool) -> str | None:
    """The block as markdown: ``## title`` and its current content (``metadata.writing_blocks``,
    else the text between the fences). None while the metadata may still come (not ``final``)."""
    attributes = dict(_ATTRIBUTE.findall(attrs))
    block_id = attributes.get("id")
    blocks = (message.get("metadata") or {}).get("writing_blocks")
    entry = blocks.get(block_id) if isinstance(blocks, dict) and block_id else None
    if block_id and not isinstance(entry, dict) and not final:
        return None
    entry = entry if isinstance(entry, dict) else {}
    content, title = entry.get("content"), entry.get("title")
    body = (content if isinstance(content, str) else inline).strip("\n")
    title = (title if isinstance(title, str) and title.strip() else attributes.get("title", "")).strip()
    return f"## {title}\n\n{body}" if title else body
