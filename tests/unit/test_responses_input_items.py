"""One page of a stored response's input items, as OpenAI lists them."""
from __future__ import annotations

import pytest
from werkzeug.datastructures import MultiDict

from pandora_v1.errors import APIError
from pandora_v1.responses.input_items import page

ITEMS = [  # oldest first, as stored
    {"id": "msg_1", "type": "message", "role": "user", "content": "What is the weather?"},
    {"id": "fc_2", "type": "function_call", "call_id": "call_a", "name": "get_weather", "arguments": "{}",
     "status": "completed"},
    {"id": "fco_3", "type": "function_call_output", "call_id": "call_a", "output": "sunny"},
    {"id": "msg_4", "type": "message", "role": "assistant", "content": "It is sunny."},
    {"id": "msg_5", "role": "user", "content": [{"type": "input_text", "text": "And tomorrow?"}]},
]


def ids(listing: dict) -> list[str]:
    return [item["id"] for item in listing["data"]]


def test_newest_first_by_default_in_the_list_envelope():
    listing = page(ITEMS, MultiDict())
    assert ids(listing) == ["msg_5", "msg_4", "fco_3", "fc_2", "msg_1"]
    assert (listing["object"], listing["first_id"], listing["last_id"], listing["has_more"]) == \
        ("list", "msg_5", "msg_1", False)


def test_items_in_openai_shape():
    by_id = {item["id"]: item for item in page(ITEMS, MultiDict())["data"]}
    assert by_id["msg_1"] == {"id": "msg_1", "type": "message", "role": "user", "status": "completed",
                              "content": [{"type": "input_text", "text": "What is the weather?"}]}
    assert by_id["msg_4"]["content"] == [{"type": "output_text", "text": "It is sunny.", "annotations": []}]
    assert by_id["msg_5"]["type"] == "message" and by_id["msg_5"]["content"] == ITEMS[4]["content"]
    assert by_id["fco_3"]["status"] == "completed" and by_id["fco_3"]["output"] == "sunny"
    assert by_id["fc_2"] == ITEMS[1]
    assert ITEMS[0]["content"] == "What is the weather?"        # the stored items are not changed


def test_paging_with_limit_order_and_after():
    first = page(ITEMS, MultiDict({"limit": "2", "order": "asc"}))
    assert ids(first) == ["msg_1", "fc_2"] and first["has_more"] is True
    second = page(ITEMS, MultiDict({"limit": "2", "order": "asc", "after": first["last_id"]}))
    assert ids(second) == ["fco_3", "msg_4"] and second["has_more"] is True
    last = page(ITEMS, MultiDict({"limit": "2", "order": "asc", "after": second["last_id"]}))
    assert ids(last) == ["msg_5"] and last["has_more"] is False
    assert ids(page(ITEMS, MultiDict({"after": "fco_3"}))) == ["fc_2", "msg_1"]      # desc
    empty = page(ITEMS, MultiDict({"after": "msg_1"}))
    assert empty["data"] == [] and empty["first_id"] is None and empty["has_more"] is False


@pytest.mark.parametrize("args, param", [
    ({"limit": "0"}, "limit"), ({"limit": "101"}, "limit"), ({"limit": "ten"}, "limit"),
    ({"order": "newest"}, "order"), ({"after": "msg_unknown"}, "after"),
])
def test_bad_paging_is_a_400_naming_the_parameter(args, param):
    with pytest.raises(APIError) as info:
        page(ITEMS, MultiDict(args))
    assert info.value.status == 400 and info.value.param == param


def test_items_stored_without_ids_get_the_same_ids_on_every_read():
    # Responses stored by a version that gave input items no id are still listed, and paged.
    legacy = [{k: v for k, v in item.items() if k != "id"} for item in ITEMS]
    listing = page(legacy, MultiDict())
    assert [i.split("_")[0] for i in ids(listing)] == ["msg", "msg", "fco", "fc", "msg"]
    assert len(set(ids(listing))) == 5 and ids(page(legacy, MultiDict())) == ids(listing)
    after = page(legacy, MultiDict({"after": ids(listing)[1], "limit": "2"}))
    assert ids(after) == ids(listing)[2:4] and after["has_more"] is True
