"""Anthropic's ``web_search`` server tool on the upstream's own search (platform-spec.md §1.6, §2.4, §6.8).

Asked     a ``web_search_20250305`` tool (or any later ``web_search_*``) asks for the upstream's search
          hints; a ``tool_choice`` naming it (or ``any`` with no custom tool beside it) forces a search;
          ``user_location`` is a prompt line; ``max_uses``, the domain lists and the rest are accepted (the
          upstream has no switch for them); ``tool_choice`` ``none`` uses no tool at all
Answered  each search the upstream ran (a ``web.run`` call, translate/hosted.py's steps) is a
          ``server_tool_use`` block with its query and a ``web_search_tool_result`` block with the pages it
          found; the answer's citations are ``web_search_result_location`` entries of its text blocks
          (claims.py cuts the text around them)
Sent back the ``server_tool_use`` and ``web_search_tool_result`` blocks of an earlier turn are text for
          the upstream (``replayed``): what was searched and what was found, never searched again

``encrypted_content`` and ``encrypted_index`` are opaque to clients; ours are the page's snippet and URL in
base64 (``sealed``), so a result sent back still says what the page said.
"""
from __future__ import annotations

import base64
import binascii
import re
import time

from ..answer.request import NO_HOSTED, Hosted, location_note
from ..chat.params import LOCATION_FIELDS
from .errors import invalid

WEB_SEARCH_TOOL = re.compile(r"web_search_\d+")
NAME = "web_search"
SEARCH_BLOCKS = ("server_tool_use", "web_search_tool_result")
SEALED = b"pandora_v1:"
CITED_CHARS = 150           # Anthropic's cited_text: up to 150 characters of the page, then "..."
MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
          "November", "December")


# ------------------------------------------------------------------ asked

def search_tool(tool: dict, path: str) -> dict:
    """A ``web_search_*`` tool checked as Anthropic checks it (``path``: ``tools.<i>``); the tool."""
    where = f"{path}.{tool['type']}"
    if tool.get("name") != NAME:
        raise invalid(f"{where}.name", "Field required" if tool.get("name") is None else "Input should be 'web_search'")
    uses = tool.get("max_uses")
    if uses is not None and (not isinstance(uses, int) or isinstance(uses, bool)):
        raise invalid(f"{where}.max_uses", "Input should be a valid integer")
    if uses is not None and uses < 1:
        raise invalid(f"{where}.max_uses", "Input should be greater than 0")
    for key in ("allowed_domains", "blocked_domains"):
        domains = tool.get(key)
        if domains is not None and (not isinstance(domains, list) or not all(isinstance(d, str) for d in domains)):
            raise invalid(f"{where}.{key}", "Input should be a valid list of strings")
    location = tool.get("user_location")
    if location is not None:
        if not isinstance(location, dict):
            raise invalid(f"{where}.user_location", "Input should be a valid dictionary")
        if location.get("type") != "approximate":
            raise invalid(f"{where}.user_location.type", "Input should be 'approximate'")
        for key in LOCATION_FIELDS:
            if location.get(key) is not None and not isinstance(location[key], str):
                raise invalid(f"{where}.user_location.{key}", "Input should be a valid string")
    return tool


def names_search(choice) -> bool:
    """Whether a ``tool_choice`` names the web search tool."""
    return isinstance(choice, dict) and choice.get("type") == "tool" and choice.get("name") == NAME


def asks(tool: dict | None, choice, custom_tools: bool) -> Hosted:
    """What a listed web search tool asks of the upstream under ``tool_choice``."""
    kind = choice.get("type") if isinstance(choice, dict) else None
    if tool is None or kind == "none":
        return NO_HOSTED
    forced = names_search(choice) or (kind == "any" and not custom_tools)
    return Hosted(search=True, force_search=forced, notes=location_note(tool.get("user_location")))


# ------------------------------------------------------------------ sent back

def replayed(block: dict, where: str) -> str:
    """A ``server_tool_use`` or ``web_search_tool_result`` block of an earlier turn, as text."""
    if block["type"] == "server_tool_use":
        _string(block, "id", where)
        name = _string(block, "name", where)
        arguments = block.get("input")
        if not isinstance(arguments, dict):
            raise invalid(f"{where}.input", "Input should be a valid dictionary")
        query = arguments.get("query")
        return f"[searched: {query}]" if isinstance(query, str) and query.strip() else f"[used the {name} tool]"
    _string(block, "tool_use_id", where)
    content = block.get("content")
    if isinstance(content, dict):          # {"type": "web_search_tool_result_error", "error_code": ...}
        return f"[the search failed: {content.get('error_code') or 'unavailable'}]"
    if not isinstance(content, list):
        raise invalid(f"{where}.content", "Input should be a valid list or a web_search_tool_result_error")
    lines = []
    for number, result in enumerate(content):
        inner = f"{where}.content.{number}"
        if not isinstance(result, dict) or result.get("type") != "web_search_result":
            raise invalid(f"{inner}.type", "Input should be 'web_search_result'")
        url, title = _string(result, "url", inner), _string(result, "title", inner)
        snippet = opened(result.get("encrypted_content"))
        lines.append(f"- {title} ({url})" + (f": {snippet}" if snippet else ""))
    return "[search results]\n" + "\n".join(lines) if lines else "[the search found nothing]"


def _string(block: dict, key: str, where: str) -> str:
    value = block.get(key)
    if not isinstance(value, str):
        raise invalid(f"{where}.{key}", "Field required" if value is None else "Input should be a valid string")
    return value


# ------------------------------------------------------------------ answered

def query_of(action: dict) -> str | None:
    """The query of a search step's action (None: the call only opened or read a page)."""
    if action.get("type") != "search":
        return None
    return action.get("query") or ""


def results(pages: list[dict]) -> list[dict]:
    """A search's pages (translate/hosted.py ``search_results``) as ``web_search_result`` entries."""
    return [{"type": "web_search_result", "url": page["url"], "title": page.get("title") or page["url"],
             "encrypted_content": sealed(page.get("snippet") or ""), "page_age": page_age(page.get("pub_date"))}
            for page in pages]


def citation(found: dict, pages: dict[str, dict]) -> dict:
    """A silent citation (translate/citations.py: url, title, snippet) as ``web_search_result_location``;
    ``pages`` are the pages the searches found, by URL (what they say fills what the citation lacks)."""
    url = found["url"]
    page = pages.get(url) or {}
    title = found.get("title") or page.get("title") or url
    text = found.get("snippet") or page.get("snippet") or title
    if len(text) > CITED_CHARS:
        text = text[:CITED_CHARS].rstrip() + "..."
    return {"type": "web_search_result_location", "cited_text": text, "url": url, "title": title,
            "encrypted_index": sealed(url)}


def page_age(published) -> str | None:
    """A page's date as Anthropic words ``page_age`` ("April 30, 2025"): the upstream's ``pub_date`` is
    seconds since the epoch, or already text."""
    if isinstance(published, str):
        return published.strip() or None
    if isinstance(published, (int, float)) and not isinstance(published, bool) and published > 0:
        try:
            day = time.gmtime(published)
        except (OverflowError, OSError, ValueError):
            return None
        return f"{MONTHS[day.tm_mon - 1]} {day.tm_mday}, {day.tm_year}"
    return None


def sealed(text: str) -> str:
    return base64.b64encode(SEALED + text.encode()).decode()


def opened(value) -> str | None:
    """What ``sealed`` put in (None: not ours)."""
    if not isinstance(value, str):
        return None
    try:
        data = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        return None
    if not data.startswith(SEALED):
        return None
    return data[len(SEALED):].decode("utf-8", "replace").strip() or None
