"""What clients of the Responses API check in a stream, as reusable test helpers.

- ``parse_sse``: raw bytes -> [(event line, data dict)], refusing anything but
  ``event:``/``data:`` pairs and comments;
- ``assert_wire_rules``: every rule of agents-spec B.4 / B-tests 3;
- ``stream_state``: openai-python's own ``ResponseStreamState`` fed event by
  event (each event validated strictly against the SDK's models first);
- ``codex_replay``: Codex's ``process_sse`` rules (agents-spec B.5, CDX).
"""
from __future__ import annotations

import json
from typing import Any

LIFECYCLE = {"response.created", "response.in_progress", "response.completed", "response.failed",
             "response.incomplete"}
KNOWN = LIFECYCLE | {
    "response.output_item.added", "response.output_item.done",
    "response.content_part.added", "response.content_part.done",
    "response.output_text.delta", "response.output_text.done",
    "response.function_call_arguments.delta", "response.function_call_arguments.done",
    "response.reasoning_summary_part.added", "response.reasoning_summary_part.done",
    "response.reasoning_summary_text.delta", "response.reasoning_summary_text.done", "error",
    "response.output_text.annotation.added"} | {
    # hosted tools (platform-spec §1.3)
    "response.web_search_call.in_progress", "response.web_search_call.searching",
    "response.web_search_call.completed", "response.code_interpreter_call.in_progress",
    "response.code_interpreter_call_code.delta", "response.code_interpreter_call_code.done",
    "response.code_interpreter_call.interpreting", "response.code_interpreter_call.completed",
    "response.image_generation_call.in_progress", "response.image_generation_call.generating",
    "response.image_generation_call.partial_image", "response.image_generation_call.completed"}
HOSTED_ITEMS = ("web_search_call", "code_interpreter_call", "image_generation_call")
HOSTED_EVENTS = ("response.web_search_call", "response.code_interpreter_call", "response.image_generation_call")
ENDINGS = {"response.completed", "response.failed", "response.incomplete"}


def parse_sse(raw: bytes) -> list[tuple[str, dict]]:
    text = raw.decode("utf-8")
    assert "[DONE]" not in text, "a Responses stream has no [DONE]"
    events = []
    for block in text.split("\n\n"):
        if not block.strip():
            continue
        lines = block.split("\n")
        if all(line.startswith(":") for line in lines):
            continue                       # a keep-alive comment
        assert len(lines) == 2 and lines[0].startswith("event: ") and lines[1].startswith("data: "), block
        events.append((lines[0][7:], json.loads(lines[1][6:])))
    return events


def assert_wire_rules(events: list[tuple[str, dict]]) -> None:
    assert events, "no events"
    for number, (name, data) in enumerate(events):
        assert data.get("type") == name, (name, data)
        assert name in KNOWN, f"non-standard event {name}"
        assert data.get("sequence_number") == number, (number, data)
        if name in LIFECYCLE:
            assert isinstance(data["response"]["id"], str) and data["response"]["object"] == "response"
    assert events[0][0] == "response.created" and events[1][0] == "response.in_progress"
    assert events[-1][0] in ENDINGS and sum(name in ENDINGS for name, _ in events) == 1
    ids = {data["response"]["id"] for name, data in events if name in LIFECYCLE}
    assert len(ids) == 1, "every lifecycle event carries the same response id"

    added: dict[int, dict] = {}
    done: dict[int, dict] = {}
    open_index = None
    parts_open: set[int] = set()
    for name, data in events:
        if name == "response.output_item.added":
            index = data["output_index"]
            assert index == len(added), "output_index is dense and in order"
            assert open_index is None, "items never overlap"
            added[index], open_index = data["item"], index
        elif name == "response.output_item.done":
            index = data["output_index"]
            assert index == open_index
            item, first = data["item"], added[index]
            assert (item["type"], item["id"], item.get("call_id")) == \
                (first["type"], first["id"], first.get("call_id"))
            done[index], open_index = item, None
        elif name == "response.content_part.added":
            assert data["output_index"] == open_index
            parts_open.add(data["output_index"])
        elif name in ("response.output_text.delta", "response.output_text.done"):
            assert data["output_index"] == open_index and data["output_index"] in parts_open, \
                "content_part.added precedes the text"
            assert data["item_id"] == added[open_index]["id"] and data["logprobs"] == []
        elif name.startswith(("response.function_call_arguments", "response.reasoning_summary", *HOSTED_EVENTS)) \
                or name == "response.output_text.annotation.added":
            assert data["output_index"] == open_index and data["item_id"] == added[open_index]["id"], name
            if name.startswith(HOSTED_EVENTS):
                assert added[open_index]["type"] == name.split(".")[1].removesuffix("_code"), name
    assert open_index is None or events[-1][0] != "response.completed"
    assert set(added) == set(done), "every added item is done"
    final = events[-1][1]["response"]
    assert final["output"] == [done[i] for i in sorted(done)], "the final output is the done items"
    kinds = [item["type"] for item in final["output"]]
    if "message" in kinds:   # calls follow the closed message; another message only after a hosted call
        after = kinds[kinds.index("message") + 1:]
        assert all(k in ("function_call", "message", *HOSTED_ITEMS) for k in after), kinds
        assert "message" not in after or any(k in HOSTED_ITEMS for k in after[:after.index("message")]), kinds
    if "function_call" in kinds:
        assert all(k == "function_call" for k in kinds[kinds.index("function_call"):]), kinds


def stream_state(events: list[tuple[str, dict]], text_format: Any = None, tools: Any = None):
    """openai-python's ``ResponseStreamState`` over the events; returns the final ParsedResponse."""
    from openai import omit
    from openai.lib.streaming.responses._responses import ResponseStreamState

    models = _event_models()
    state = ResponseStreamState(input_tools=tools if tools is not None else omit,
                                text_format=text_format if text_format is not None else omit)
    completed = None
    for _, data in events:
        # Strict: the SDK's model for this type validates every field it requires. One exception, as
        # OpenAI sends it: a web_search_call is added without its action (platform-spec §1.3), which
        # the SDK (it constructs events without validating) takes; the action is checked at done.
        item = data.get("item") or {}
        if data["type"] == "response.output_item.added" and item.get("type") == "web_search_call" \
                and "action" not in item:
            models[data["type"]].model_validate({**data, "item": {**item, "action": {"type": "search"}}})
            event = models[data["type"]].model_construct(**{**data, "item": _constructed(item)})
        else:
            event = models[data["type"]].model_validate(data)
        for out in state.handle_event(event):
            if out.type == "response.completed":
                completed = out.response
    return completed


def _constructed(item: dict):
    from openai.types.responses.response_function_web_search import ResponseFunctionWebSearch

    return ResponseFunctionWebSearch.model_construct(**item)


def _event_models() -> dict:
    import typing

    from openai.types.responses import ResponseStreamEvent

    union = typing.get_args(ResponseStreamEvent)[0]     # Annotated[Union[...], discriminator]
    return {typing.get_args(model.model_fields["type"].annotation)[0]: model
            for model in typing.get_args(union)}


def codex_replay(events: list[tuple[str, dict]]) -> dict:
    """Codex's ``process_sse``: the items it would act on, and how the stream ended.

    Raises AssertionError where Codex reports an error: a missing ``type``,
    an item that is no ``ResponseItem``, a ``response.completed`` without a
    string ``id``, or a stream that ends without ``response.completed``.
    """
    items, text, usage = [], [], None
    for _, data in events:
        kind = data.get("type")
        assert isinstance(kind, str), "Codex skips events without type"
        if kind == "response.output_item.done":
            items.append(_codex_item(data["item"]))
        elif kind == "response.output_item.added":
            _codex_item(data["item"], done=False)
        elif kind == "response.output_text.delta":
            assert isinstance(data["delta"], str)
            text.append(data["delta"])
        elif kind == "response.failed":
            error = data["response"].get("error") or {}
            raise AssertionError(f"Codex: response failed: {error.get('code')}: {error.get('message')}")
        elif kind == "response.completed":
            response = data["response"]
            assert isinstance(response.get("id"), str), "failed to parse ResponseCompleted: missing field `id`"
            if response.get("usage") is not None:
                for key in ("input_tokens", "output_tokens", "total_tokens"):
                    assert isinstance(response["usage"][key], int)
                usage = response["usage"]
            return {"id": response["id"], "items": items, "text": "".join(text), "usage": usage}
    raise AssertionError("stream closed before response.completed")


def _codex_item(item: dict, done: bool = True) -> dict:
    kind = item["type"]
    if kind == "message":
        assert item["role"] == "assistant" and isinstance(item["content"], list)
        for part in item["content"]:
            assert part["type"] == "output_text" and isinstance(part["text"], str)
    elif kind == "function_call":
        for key in ("name", "arguments", "call_id"):
            assert isinstance(item[key], str), key
    elif kind == "reasoning":
        assert isinstance(item["summary"], list)
    elif kind == "web_search_call":          # WebSearchCall{id?, status?, action?}
        assert isinstance(item.get("status", ""), str) and isinstance(item.get("action", {}), dict)
    elif kind == "image_generation_call":    # ImageGenerationCall{id?, status, revised_prompt?, result}
        assert isinstance(item["status"], str)
        assert not done or isinstance(item["result"], str), "Codex drops an image without its result"
    elif kind == "code_interpreter_call":    # not a ResponseItem Codex acts on: skipped silently
        pass
    else:
        raise AssertionError(f"not a ResponseItem: {kind}")
    return item
