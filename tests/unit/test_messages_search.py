"""Web search on the Messages API, the pure parts: claims cut out of the text around citations
(messages/claims.py), the search and claim blocks and their events (messages/events.py), and what
search.py makes of the upstream's pages (platform-spec.md §6.8)."""
from __future__ import annotations

import base64

import orjson
import pytest

from pandora_v1.messages import search
from pandora_v1.messages.claims import CLAIM, CLOSE, LONGEST, MORE, TEXT, Claims
from pandora_v1.messages.events import MessageEncoder, usage
from tests.unit.test_messages_events import frames

A = {"type": "web_search_result_location", "url": "https://a.example/1", "title": "A", "cited_text": "a",
     "encrypted_index": "x"}
B = {**A, "url": "https://b.example/2", "title": "B"}


def run(*actions) -> list[tuple]:
    """Feed text (str) and citations (list) to Claims, then flush: the steps."""
    claims, steps = Claims(), []
    for action in actions:
        steps += claims.feed(action) if isinstance(action, str) else claims.cite(action)
    return steps + claims.flush()


def blocks(steps) -> list[tuple]:
    """The text blocks the steps make: (citations or None, text)."""
    out: list[list] = []
    open_ = False
    for step in steps:
        if step[0] == TEXT:
            if not open_:
                out.append([None, ""])
                open_ = True
            out[-1][1] += step[1]
        elif step[0] == CLAIM:
            out.append([list(step[1]), step[2]])
            open_ = True
        elif step[0] == MORE:
            out[-1][0] += step[1]
        else:
            open_ = False
    return [tuple(block) for block in out]


# ------------------------------------------------------------------ claims

def test_a_claim_is_the_sentence_its_mark_ends_and_keeps_its_full_stop():
    steps = run("Based on the results, here is the news.\n\n", "Lisbon opened a solar ", "library today ", [A],
                ". It runs on ", "panels.", [B], " Done.")
    assert blocks(steps) == [(None, "Based on the results, here is the news.\n\n"),
                             ([A], "Lisbon opened a solar library today."), (None, " "),
                             ([B], "It runs on panels."), (None, " Done.")]
    # Text before the last sentence boundary goes out as it comes: only a sentence is held.
    assert steps[0] == (TEXT, "Based on the results, here is the news.\n\n")


def test_plain_text_streams_up_to_its_last_sentence_boundary():
    claims = Claims()
    assert claims.feed("One. Two") == [(TEXT, "One. ")]
    assert claims.feed(" three.\nFour") == [(TEXT, "Two three.\n")]
    assert claims.flush() == [(TEXT, "Four")]


def test_a_line_that_never_ends_is_not_held_back():
    claims = Claims()
    assert claims.feed("x" * LONGEST) == [] and claims.feed("y") == [(TEXT, "x" * LONGEST + "y")]
    assert claims.flush() == []


def test_marks_after_the_full_stop_at_the_start_and_side_by_side():
    assert blocks(run("First. Second one.", [A], " Third.")) == [
        (None, "First. "), ([A], "Second one."), (None, " Third.")]
    assert blocks(run([A], "Starts cited. Then plain.")) == [([A], "Starts cited."), (None, " Then plain.")]
    assert blocks(run("Both say so", [A], [B], ".")) == [([A, B], "Both say so.")]


def test_list_items_and_headings_start_claims_after_their_markers():
    assert blocks(run("Highlights:\n- Microsoft ships", [A], ".\n## Next\nOracle too", [B])) == [
        (None, "Highlights:\n- "), ([A], "Microsoft ships."), (None, "\n## Next\n"), ([B], "Oracle too")]


def test_a_space_before_a_mark_goes_only_when_punctuation_follows():
    assert blocks(run("It floats ", [A], ", mostly.")) == [([A], "It floats, mostly.")]
    assert blocks(run("It floats ", [A], "and swims.")) == [([A], "It floats and swims.")]


# ------------------------------------------------------------------ blocks and events

def test_a_search_and_a_claim_as_anthropic_streams_them():
    encoder = MessageEncoder("claude-opus-5-5", stream=True, thinking="off")
    results = search.results([{"url": "https://a.example/1", "title": "A", "snippet": "Otters float.",
                               "pub_date": 1751328000}])
    data = encoder.start(10) + encoder.search("otters", results) + encoder.text("Yes: ") \
        + encoder.steps([(CLAIM, [A], "they float"), (TEXT, "."), (MORE, [B]), (CLOSE,), (TEXT, " Done.")]) \
        + encoder.finish("end_turn", None, usage(10, 5))
    events = frames(data)
    assert [(name, body.get("index"), (body.get("delta") or body.get("content_block") or {}).get("type"))
            for name, body in events[1:-2]] == [
        ("content_block_start", 0, "server_tool_use"), ("content_block_delta", 0, "input_json_delta"),
        ("content_block_delta", 0, "input_json_delta"), ("content_block_stop", 0, None),
        ("content_block_start", 1, "web_search_tool_result"), ("content_block_stop", 1, None),
        ("content_block_start", 2, "text"), ("content_block_delta", 2, "text_delta"), ("content_block_stop", 2, None),
        ("content_block_start", 3, "text"), ("content_block_delta", 3, "citations_delta"),
        ("content_block_delta", 3, "text_delta"), ("content_block_delta", 3, "text_delta"),
        ("content_block_delta", 3, "citations_delta"), ("content_block_stop", 3, None),
        ("content_block_start", 4, "text"), ("content_block_delta", 4, "text_delta"), ("content_block_stop", 4, None)]
    call = events[1][1]["content_block"]
    assert call == {"type": "server_tool_use", "id": call["id"], "name": "web_search", "input": {}}
    assert call["id"].startswith("srvtoolu_") and len(call["id"]) == len("srvtoolu_") + 24
    assert [events[i][1]["delta"]["partial_json"] for i in (2, 3)] == ["", '{"query":"otters"}']
    assert events[5][1]["content_block"] == {"type": "web_search_tool_result", "tool_use_id": call["id"],
                                             "content": results}
    assert events[10][1]["content_block"] == {"citations": [], "type": "text", "text": ""}
    assert events[11][1]["delta"] == {"type": "citations_delta", "citation": A}
    assert encoder.blocks[2:] == [{"type": "text", "text": "Yes: "},
                                  {"citations": [A, B], "type": "text", "text": "they float."},
                                  {"type": "text", "text": " Done."}]
    assert encoder.searches == 1


def test_the_message_holds_the_same_blocks_without_events():
    encoder = MessageEncoder("claude-opus-5-5", stream=False)
    assert encoder.search("otters", []) + encoder.claim([A], "Cited.") == b""
    message = encoder.message("end_turn", None, usage(1, 1))
    assert [block["type"] for block in message["content"]] == ["server_tool_use", "web_search_tool_result", "text"]
    assert message["content"][1]["content"] == [] and message["content"][2]["citations"] == [A]


# ------------------------------------------------------------------ what search.py makes of the pages

def test_pages_become_web_search_results():
    [page] = search.results([{"url": "https://a.example/1", "title": None, "snippet": "Otters float.",
                              "pub_date": 1751328000.0}])
    assert page == {"type": "web_search_result", "url": "https://a.example/1", "title": "https://a.example/1",
                    "encrypted_content": page["encrypted_content"], "page_age": "July 1, 2025"}
    assert base64.b64decode(page["encrypted_content"]) == b"pandora_v1:Otters float."
    assert search.opened(page["encrypted_content"]) == "Otters float."
    assert search.opened("EqgfCioIARgBIiQ3YTAw") is None and search.opened("not base64!") is None


@pytest.mark.parametrize("published, age", [
    ("3 hours ago", "3 hours ago"), (1751328000, "July 1, 2025"), (None, None), (True, None), (-5, None),
    (1e20, None), ("  ", None)])
def test_page_age_reads_both_shapes_of_the_upstreams_date(published, age):
    assert search.page_age(published) == age


def test_a_citation_says_what_the_page_says_within_150_characters():
    pages = {"https://a.example/1": {"url": "https://a.example/1", "title": "Page A", "snippet": "x" * 200}}
    cited = search.citation({"url": "https://a.example/1", "title": "", "start_index": 3, "end_index": 3}, pages)
    assert cited["type"] == "web_search_result_location" and cited["title"] == "Page A"
    assert cited["cited_text"] == "x" * 150 + "..." and cited["url"] == "https://a.example/1"
    assert search.opened(cited["encrypted_index"]) == "https://a.example/1"
    own = search.citation({"url": "https://b.example", "title": "B", "snippet": "Said so."}, pages)
    assert (own["title"], own["cited_text"]) == ("B", "Said so.")
    assert orjson.loads(orjson.dumps(own)) == own
