"""GET /v1/responses/{id}/input_items: the items a stored response answered, as OpenAI lists them.

The list is the whole conversation the response saw (earlier responses' input and output included,
as OpenAI lists it with ``previous_response_id``), in OpenAI's list envelope with cursor paging:
``limit`` (1-100, default 20), ``order`` (``desc`` by default: newest first) and ``after`` (an item id).
Items keep the ids they were stored with (``ResponseStore.save`` gives one to every input item that
came without), so paging and a later listing agree.
"""
from __future__ import annotations

import hashlib

import orjson

from ..errors import bad_request
from .objects import new_id

_ID_PREFIX = {"message": "msg", "function_call": "fc", "function_call_output": "fco", "reasoning": "rs",
              "web_search_call": "ws", "image_generation_call": "ig", "code_interpreter_call": "ci"}
_WITH_STATUS = ("message", "function_call", "function_call_output")


def with_ids(items) -> list[dict]:
    """``items`` with an id for each that came without one (kept when stored)."""
    return [item if item.get("id") else {"id": new_id(_prefix(item.get("type", "message"))), **item}
            for item in items]


def page(items: list[dict], args) -> dict:
    """One page of ``items`` per the query ``args`` (a Flask ``request.args``), in the list envelope."""
    limit, order, after = _paging(args)
    shaped = [_resource(item, index) for index, item in enumerate(items)]
    ordered = shaped[::-1] if order == "desc" else shaped
    if after is not None:
        ids = [item["id"] for item in ordered]
        if after not in ids:
            raise bad_request(f"No input item with id '{after}' in this response.", "after")
        ordered = ordered[ids.index(after) + 1:]
    data = ordered[:limit]
    return {"object": "list", "data": data, "first_id": data[0]["id"] if data else None,
            "last_id": data[-1]["id"] if data else None, "has_more": len(ordered) > limit}


def _paging(args) -> tuple[int, str, str | None]:
    raw_limit = args.get("limit", "20")
    try:
        limit = int(raw_limit)
    except ValueError:
        limit = 0
    if not 1 <= limit <= 100:
        raise bad_request(f"Invalid 'limit': {raw_limit!r}. Expected an integer from 1 to 100.", "limit")
    order = args.get("order", "desc")
    if order not in ("asc", "desc"):
        raise bad_request(f"Invalid 'order': {order!r}. Expected 'asc' or 'desc'.", "order")
    return limit, order, args.get("after")


def _resource(item: dict, index: int) -> dict:
    """A stored input item as OpenAI returns it: a message's string content as one text part
    (``output_text`` for the assistant's), and a status."""
    kind = item.get("type", "message")
    shaped = {"id": item.get("id") or _derived_id(kind, item, index), "type": kind,
              **{k: v for k, v in item.items() if k not in ("id", "type")}}
    if kind == "message" and isinstance(item.get("content"), str):
        part = ({"type": "output_text", "text": item["content"], "annotations": []} if item.get("role") == "assistant"
                else {"type": "input_text", "text": item["content"]})
        shaped["content"] = [part]
    if kind in _WITH_STATUS:
        shaped.setdefault("status", "completed")
    return shaped


def _derived_id(kind: str, item: dict, index: int) -> str:
    """An id for an item stored without one (by a version before ids were given): the same on every
    read, so paging with ``after`` works for those responses too."""
    digest = hashlib.sha256(orjson.dumps([index, item], option=orjson.OPT_SORT_KEYS)).hexdigest()[:48]
    return f"{_prefix(kind)}_{digest}"


def _prefix(kind: str) -> str:
    return _ID_PREFIX.get(kind, "item")
