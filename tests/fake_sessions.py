"""The fake upstream's conversations as the upstream keeps them, written from upstream-protocol.md
("Continuation, branching and long inputs", "Temporary chat", "Errors"). Pure functions: fake_upstream.py
calls them from its conversation route and keeps the documents (``FakeUpstream.conversations``).

- A conversation is its messages by id with their parent links and a current node: the document that
  ``GET /backend-api/conversation/{id}`` answers (``mapping``, ``current_node``). A new one (no
  ``conversation_id``) holds the posted messages, oldest first, from ``client-created-root``, then the turn's
  own messages; the current node is the last of them.
- **Continue**: ``conversation_id`` + ``parent_message_id`` (an assistant message of it) + only the new
  messages. The model answers the branch from the root to that parent, then the new messages; they and the
  turn's messages hang under the parent (another continuation of an older parent is a sibling branch), and
  the current node moves to the end of the turn.
- An unknown conversation is a 404 ``{"detail": "Conversation not found"}`` (also a temporary one, which is
  never kept). The doc names no error for a parent the conversation does not have: the fake answers it as a
  conversation that cannot be continued (the same 404), and ``FakeUpstream.parent_error`` picks another
  status and body for a test.
- **Big paste**: a message whose ``metadata.attachments`` holds one with ``is_big_paste: true`` is read as
  that uploaded file's text ("the model treats it as the message content"); its own parts are empty.
"""
from __future__ import annotations

import copy
import uuid

ROOT = "client-created-root"
NOT_FOUND = {"detail": "Conversation not found"}
PARENT_ERROR = (404, NOT_FOUND)


def continued(payload: dict) -> bool:
    return bool(payload.get("conversation_id"))


def refusal(payload: dict, document: dict | None, parent_error: tuple[int, dict]) -> tuple[int, dict] | None:
    """Why a continuation cannot go on: (status, body), or None. ``document``: the conversation named."""
    if not continued(payload):
        return None
    if document is None:
        return 404, NOT_FOUND
    if payload.get("parent_message_id") not in document["mapping"]:
        return parent_error
    return None


def branch(document: dict, node_id: str) -> list[dict]:
    """The messages from the root to ``node_id``, oldest first."""
    mapping, found, seen = document["mapping"], [], set()
    while node_id in mapping and node_id not in seen:
        seen.add(node_id)
        node = mapping[node_id]
        if node.get("message") is not None:
            found.append(node["message"])
        node_id = node.get("parent")
    return found[::-1]


def read_big_paste(message: dict, uploads: dict[str, dict]) -> dict:
    """``message`` as the model reads it: a big paste's text in place of its empty parts."""
    pastes = [a for a in (message.get("metadata") or {}).get("attachments") or ()
              if isinstance(a, dict) and a.get("is_big_paste")]
    if not pastes:
        return message
    texts = [uploads[a["id"]]["bytes"].decode("utf-8", "replace") for a in pastes
             if a.get("id") in uploads and "bytes" in uploads[a["id"]]]
    content = message.get("content") or {}
    parts = [p for p in content.get("parts") or () if not isinstance(p, str) or p]
    return {**message, "content": {**content, "parts": parts + texts}}


def seen(payload: dict, document: dict | None, uploads: dict[str, dict]) -> list[dict]:
    """The messages the model answers: a continued conversation's branch up to the parent, then the posted
    messages; big pastes read."""
    posted = [m for m in payload.get("messages") or () if isinstance(m, dict)]
    history = []
    if continued(payload) and document is not None and payload.get("parent_message_id") in document["mapping"]:
        history = branch(document, payload["parent_message_id"])
    return [read_big_paste(m, uploads) for m in history + posted]


def _turn_nodes(turn: dict) -> list[dict]:
    """The turn document's nodes in order (it is one chain from the root)."""
    mapping, nodes, node_id = turn["mapping"], [], ROOT
    while mapping.get(node_id, {}).get("children"):
        node_id = mapping[node_id]["children"][0]
        nodes.append(mapping[node_id])
    return nodes


def graft(base: dict | None, payload: dict, turn: dict) -> dict:
    """The conversation's document after a turn: ``base`` (None: a new conversation) with, under the
    parent (the root for a new one), the posted messages the turn does not echo itself, then the turn's
    messages (``turn``: the document of the turn alone)."""
    # the earlier nodes as they were (their messages never change again), each with its own children
    mapping = {node_id: {**node, "children": list(node["children"])} for node_id, node in base["mapping"].items()} \
        if base is not None else {ROOT: {"id": ROOT, "message": None, "parent": None, "children": []}}
    at = payload["parent_message_id"] if base is not None else ROOT
    nodes = _turn_nodes(turn)
    echoed = {node["id"] for node in nodes}

    def add(node_id: str, message: dict | None) -> None:
        nonlocal at
        mapping[node_id] = {"id": node_id, "message": message, "parent": at, "children": []}
        mapping[at]["children"].append(node_id)
        at = node_id

    for message in payload.get("messages") or ():
        node_id = str(message.get("id") or uuid.uuid4())
        if node_id not in echoed and node_id not in mapping:
            add(node_id, copy.deepcopy(message))
    for node in nodes:
        add(node["id"], copy.deepcopy(node["message"]))
    return {**turn, "mapping": mapping, "current_node": at}


def model_texts(fake, record) -> list[tuple[str, str]]:
    """(role, text) of what the model answered a conversation POST from, as a client wrote it: the branch
    a continued POST goes on from (its system, user and answer messages; not the turn's hidden system
    messages, developer messages, tool calls or thoughts), then the posted messages. ``fake``: the
    FakeUpstream, ``record``: its recorded POST."""
    payload = record.json
    kept = fake.conversations.get(str(payload.get("conversation_id") or ""))
    out = []
    for message in seen(payload, kept.final if kept is not None else None, fake.uploads):
        role, content = (message.get("author") or {}).get("role"), message.get("content") or {}
        if role not in ("system", "user", "assistant") or content.get("content_type") not in ("text", "multimodal_text") \
                or (message.get("metadata") or {}).get("is_visually_hidden_from_conversation") \
                or message.get("channel") not in (None, "final") or (message.get("recipient") or "all") != "all":
            continue
        out.append((role, "\n".join(p for p in content.get("parts") or () if isinstance(p, str))))
    return out
