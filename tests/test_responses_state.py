"""Stored responses on both store backends: save, look up, TTL, delete."""
from __future__ import annotations

import re
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
    record = other.record(response["id"])
    assert record == {"request_items": record["request_items"], "output_items": response["output"],
                      "response": response}
    # Input items are kept as sent, each with an id (given one when it came without).
    [stored] = record["request_items"]
    assert re.fullmatch(r"msg_[0-9a-f]{48}", stored.pop("id")) and stored == request_items[0]
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


def test_input_items_keep_their_ids_and_get_one_when_they_came_without(store):
    states = ResponseStore(store, ttl=60)
    response, _ = stored_response()
    sent = [{"type": "function_call_output", "call_id": "call_1", "output": "sunny"},
            {"id": "msg_mine", "type": "message", "role": "user", "content": "and tomorrow?"},
            {"role": "user", "content": "no type"}]
    states.save(response, sent)
    first = states.record(response["id"])["request_items"]
    assert [item["id"][:4] for item in first] == ["fco_", "msg_", "msg_"] and first[1]["id"] == "msg_mine"
    assert [{k: v for k, v in item.items() if k != "id"} for item in first] == \
        [{k: v for k, v in item.items() if k != "id"} for item in sent]
    assert states.record(response["id"])["request_items"] == first     # the same ids on every read
