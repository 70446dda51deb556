"""Inline writing blocks (:::writing{…} … :::) through the renderer: the block's current content as
markdown, never the fence, however the text is cut."""
import copy

import pytest

from pandora_v1.translate.render import CONTENT, Renderer, RenderOptions

BLOCK = ':::writing{variant="document" id="w1" title="Letter to the team"}\nDear team,\n\nthanks: all.\n:::'
TEXT = f"Here is a draft:\n\n{BLOCK}\n\nShall I change it? Ratio 3:1 ok."
CURRENT = "Dear team,\n\nthank you all."        # edited since: metadata holds the current content
METADATA = {"writing_blocks": {"w1": {"id": "w1", "variant": "document", "title": "Letter to the team",
                                      "content": CURRENT}}}
EXPECTED = f"Here is a draft:\n\n## Letter to the team\n\n{CURRENT}\n\nShall I change it? Ratio 3:1 ok."


def root(text, status="in_progress", metadata=None, end_turn=None):
    return {"message": {"id": "a", "author": {"role": "assistant"}, "recipient": "all", "channel": "final",
                        "content": {"content_type": "text", "parts": [text]}, "status": status,
                        "end_turn": end_turn, "metadata": copy.deepcopy(metadata or {})}}


def run(cuts, text=TEXT, metadata=METADATA, options=None):
    renderer = Renderer(options)
    pieces = []
    for cut in cuts:
        pieces += renderer.feed(root(text[:cut], metadata=metadata))
    pieces += renderer.feed(root(text, "finished_successfully", metadata, True)) + renderer.close()
    return pieces


def content(pieces):
    return "".join(t for k, t in pieces if k == CONTENT)


def no_fence(pieces):
    for _, text in pieces:
        assert ":::" not in text and "writing{" not in text and 'id="w1"' not in text, repr(text)


@pytest.mark.parametrize("cut", range(len(TEXT) + 1))
def test_a_block_cut_at_any_position_renders_the_same(cut):
    pieces = run([cut])
    assert content(pieces) == EXPECTED
    no_fence(pieces)


def test_one_character_at_a_time():
    pieces = run(range(len(TEXT) + 1))
    assert content(pieces) == EXPECTED
    no_fence(pieces)


def test_text_before_the_block_is_not_held_and_the_block_is_held_until_closed():
    renderer = Renderer()
    assert content(renderer.feed(root(TEXT[:30], metadata=METADATA))) == "Here is a draft:\n\n"
    closed = TEXT.index(":::\n\nShall") + 3
    assert content(renderer.feed(root(TEXT[:closed + 2], metadata=METADATA))) == \
        f"## Letter to the team\n\n{CURRENT}\n\n"


def test_the_text_between_the_fences_when_the_metadata_never_comes():
    pieces = run([len(TEXT) // 2, len(TEXT) - 3], metadata={})
    assert content(pieces) == EXPECTED.replace(CURRENT, "Dear team,\n\nthanks: all.")
    no_fence(pieces)


def test_held_until_its_metadata_arrives():
    renderer = Renderer()
    assert content(renderer.feed(root(TEXT, metadata={}))) == "Here is a draft:\n\n"
    assert content(renderer.feed(root(TEXT + " ", metadata=METADATA))) == EXPECTED[len("Here is a draft:\n\n"):] + " "


def test_a_block_never_closed_is_shown_when_the_message_ends():
    text = "Draft:\n\n" + BLOCK[:-4]
    pieces = run([10, 50], text=text, metadata={})
    assert content(pieces) == "Draft:\n\n## Letter to the team\n\nDear team,\n\nthanks: all."
    no_fence(pieces)


def test_without_a_title_or_id_only_the_text():
    text = "A:\n:::writing{variant=\"email\"}\nHi Bob.\n:::\nB"
    assert content(run([7, 20], text=text, metadata={})) == "A:\nHi Bob.\nB"


def test_markers_inside_a_block_never_leak():
    text = ':::writing{id="w2" title="T"}\nOtters\ue200cite\ue202turn0search1\ue201 float.\n:::'
    pieces = run([12, 40], text=text, metadata={"writing_blocks": {"w2": {"title": "T", "content": text[29:-4]}}})
    assert content(pieces) == "## T\n\nOtters float."


def test_colons_that_are_no_fence_pass_through():
    pieces = run([5, 6, 7], text="Note: a::b and c:::d :", metadata={})
    assert content(pieces) == "Note: a::b and c:::d :"
    assert content(run([], text="plain", options=RenderOptions(citation_links=False))) == "plain"
