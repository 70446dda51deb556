"""Stored responses on both store backends: save, look up, TTL, delete."""
from __future__ import annotations

import time

from pandora_v1.responses import objects
from pandora_v1.responses.state import ResponseStore


def stored_response() -> tuple[dict, list]:
    output = [objects.reasoning_item(objects.new_id("rs"), "thought", "completed"),
              objects.message_item(objects.new_id("msg"), "Hello", "completed"),
              objects.function_call_item(objects.new_id("fc"), "call_1", "f", "{}", "completed")]
    response = {"id": objects.new_id("resp"), "object": "response", "status": "completed", "output": output}
    return response, [{"type": "message", "role": "user", "content": "hi"}]


def test_save_lookup_and_delete(store):
    states = ResponseStore(store, ttl=60)
    response, request_items = stored_response()
    states.save(response, request_items)
    # A second store on the same backend (another worker) sees it.
    other = ResponseStore(store, ttl=60)
    assert other.response(response["id"]) == response
    assert other.record(response["id"]) == {"request_items": request_items,
                                            "output_items": response["output"], "response": response}
    for item in response["output"]:
        assert other.item(item["id"]) == item
    assert other.delete(response["id"]) is True
    assert other.response(response["id"]) is None
    assert all(other.item(item["id"]) is None for item in response["output"])
    assert other.delete(response["id"]) is False


def test_entries_expire_with_the_ttl(store):
    states = ResponseStore(store, ttl=0.3)
    response, request_items = stored_response()
    states.save(response, request_items)
    assert states.response(response["id"]) is not None
    time.sleep(0.5)
    assert states.response(response["id"]) is None
    assert states.item(response["output"][1]["id"]) is None


def test_unknown_ids(store):
    states = ResponseStore(store, ttl=60)
    assert states.record("resp_unknown") is None and states.item("msg_unknown") is None
