"""Today's private-use citation markers (and the 2024 marks) through the renderer, cut anywhere."""
import copy

import pytest

from pandora_v1.translate.citations import Rewriter, clean
from pandora_v1.translate.render import CONTENT, Renderer, RenderOptions

CITE = "\ue200cite\ue202turn0search3\ue202turn1news2\ue201"
ENTITY = '\ue200entity\ue202["company","Motorola","phone maker"]\ue201'
LOST = "\ue200cite\ue202turn9search9\ue201"          # no content reference ever names it
IMAGE = "\ue200i\ue202turn0image1\ue201"
TEXT = f"Phones{CITE} by {ENTITY} ring{LOST}. Pic{IMAGE} end \ue203span\ue204."
EXPECTED = ("Phones[[1](https://a.example/3)][[2](https://b.example/2)] by Motorola ring. Pic end span.")
REFERENCES = [
    {"matched_text": CITE, "type": "grouped_webpages", "start_idx": 6, "end_idx": 6 + len(CITE),
     "items": [{"title": "A", "url": "https://a.example/3"}, {"title": "B", "url": "https://b.example/2"}]},
    {"matched_text": ENTITY, "type": "entity", "alt": "Motorola"},
    {"matched_text": IMAGE, "type": "image_v2", "images": []},
    {"matched_text": " ", "type": "sources_footnote", "sources": [{"url": "https://a.example/3"}]},
]
PRIVATE = {chr(c) for c in range(0xE200, 0xE207)}


def root(text, status="in_progress", references=REFERENCES, end_turn=None):
    return {"message": {"id": "a", "author": {"role": "assistant"}, "recipient": "all", "channel": "final",
                        "content": {"content_type": "text", "parts": [text]}, "status": status,
                        "end_turn": end_turn, "metadata": {"content_references": copy.deepcopy(references)}},
            "conversation_id": "c"}


def run(cuts, text=TEXT, options=None, references=REFERENCES):
    """Feed ``text`` growing to each cut, then finished; the pieces and the renderer."""
    renderer = Renderer(options)
    pieces = []
    for cut in cuts:
        pieces += renderer.feed(root(text[:cut], references=references))
    pieces += renderer.feed(root(text, "finished_successfully", references, end_turn=True))
    pieces += renderer.close()
    return pieces, renderer


def content(pieces):
    return "".join(text for kind, text in pieces if kind == CONTENT)


@pytest.mark.parametrize("cut", range(len(TEXT) + 1))
def test_a_marker_cut_at_any_position_renders_the_same(cut):
    pieces, _ = run([cut])
    assert content(pieces) == EXPECTED
    assert not PRIVATE & set("".join(text for _, text in pieces))


def test_one_character_at_a_time():
    pieces, _ = run(range(len(TEXT) + 1))
    assert content(pieces) == EXPECTED
    for _, text in pieces:      # not just the sum: no piece ever carried a private-use character
        assert not PRIVATE & set(text)
        assert "turn" not in text and "cite" not in text


def test_text_before_a_marker_is_not_held_and_a_partial_marker_is():
    renderer = Renderer()
    assert content(renderer.feed(root("Phones\ue200ci"))) == "Phones"
    assert content(renderer.feed(root("Phones" + CITE + " ok"))) == \
        "[[1](https://a.example/3)][[2](https://b.example/2)] ok"


def test_a_marker_waits_for_its_reference_then_links():
    late = [dict(REFERENCES[0], items=[])]
    renderer = Renderer()
    assert content(renderer.feed(root("Phones" + CITE + " and more", references=late))) == "Phones"
    # the items arrive by appends (here: in the end-of-message patch)
    done = renderer.feed(root("Phones" + CITE + " and more!", "finished_successfully", REFERENCES[:1], True))
    assert content(done) == "[[1](https://a.example/3)][[2](https://b.example/2)] and more!"


def test_a_marker_never_resolved_is_dropped_when_the_message_ends():
    renderer = Renderer()
    assert content(renderer.feed(root("Ring" + LOST + " on", references=[]))) == "Ring"
    assert content(renderer.feed(root("Ring" + LOST + " on.", "finished_successfully", [], True))) == " on."


def test_held_marker_is_resolved_when_another_message_starts():
    renderer = Renderer()
    first = content(renderer.feed(root("See" + CITE[:-1])))
    other = {"message": {"id": "b", "author": {"role": "assistant"}, "recipient": "all",
                         "content": {"content_type": "text", "parts": ["Next"]}, "status": "in_progress",
                         "metadata": {}}}
    rest = content(renderer.feed(other))
    assert first == "See" and rest == "\n\nNext"      # the unclosed marker went, with its words


def test_links_off_drops_sources_but_keeps_entity_names():
    pieces, _ = run([len(TEXT) // 2], options=RenderOptions(citation_links=False))
    assert content(pieces) == "Phones by Motorola ring. Pic end span."


def test_sources_are_numbered_in_order_of_first_citation():
    again = "\ue200cite\ue202turn1news2\ue201"
    refs = REFERENCES + [{"matched_text": again, "type": "grouped_webpages",
                          "items": [{"url": "https://b.example/2"}, {"url": "https://c.example/"}]}]
    pieces, _ = run([], text=f"A{CITE} B{again}", references=refs)
    assert content(pieces) == ("A[[1](https://a.example/3)][[2](https://b.example/2)] "
                               "B[[2](https://b.example/2)][[3](https://c.example/)]")


def test_annotations_point_exactly_at_the_links():
    renderer = Renderer()
    pieces = renderer.feed({"message": {"id": "t", "author": {"role": "assistant"}, "recipient": "python",
                                        "content": {"content_type": "code", "text": "x=1"},
                                        "status": "finished_successfully", "metadata": {}}})
    for cut in (3, 9, 40):
        pieces += renderer.feed(root(TEXT[:cut]))
    pieces += renderer.feed(root(TEXT, "finished_successfully", end_turn=True)) + renderer.close()
    text = content(pieces)
    assert text == "```\nx=1\n```\n\n" + EXPECTED
    spans = [(a["url_citation"]["url"], text[a["url_citation"]["start_index"]:a["url_citation"]["end_index"]])
             for a in renderer.annotations]
    assert spans == [("https://a.example/3", "[[1](https://a.example/3)]"),
                     ("https://b.example/2", "[[2](https://b.example/2)]")]
    assert [a["url_citation"]["title"] for a in renderer.annotations] == ["A", "B"]


def test_2024_marks_still_link_and_annotate():
    message = {"id": "o", "author": {"role": "assistant"}, "recipient": "all", "status": "finished_successfully",
               "content": {"content_type": "text", "parts": ["Otters【3†source】 float【9†source】."]},
               "metadata": {"citations": [{"metadata": {"url": "https://x.example", "title": "X",
                                                        "extra": {"cited_message_idx": 3}}}]}}
    renderer = Renderer()
    assert content(renderer.feed({"message": message})) == "Otters[[3](https://x.example)] float."
    assert renderer.annotations[0]["url_citation"] == {"url": "https://x.example", "title": "X",
                                                       "start_index": 6, "end_index": 30}


def test_plain_text_is_handed_through_untouched():
    text = "plain words, no marks at all " * 10
    assert Rewriter().rewrite(text, {}, False, 0) == (text, "")


@pytest.mark.parametrize("raw, cleaned", [
    ("a\ue203b\ue204c\ue205\ue206", "abc"),
    ("a\ue200cite\ue202turn0search1", "a"),          # never closed
    ("a\ue201b\ue202c", "abc"),
    ("no marks", "no marks"),
])
def test_clean(raw, cleaned):
    assert clean(raw) == cleaned


# ------------------------------------------------------------------ file citations (filecite)

FILE = "\ue200filecite\ue202turn1file0\ue202L17-L19\ue201"
ONE_LINE = "\ue200filecite\ue202turn1file2\ue202L4\ue201"        # the lines only in the marker
WHOLE = "\ue200filecite\ue202turn2file1\ue201"
BY_REFS = "\ue200filecite\ue202turn3file0\ue201"                  # its matched_text written otherwise
LOST_FILE = "\ue200filecite\ue202turn9file9\ue201"
FILE_TEXT = f"Revenue grew 5%{FILE}. Costs{ONE_LINE} fell {WHOLE}and rent{BY_REFS}; tax{LOST_FILE}. End"
FILE_EXPECTED = ("Revenue grew 5% (report.pdf, lines 17\u201319). Costs (notes.txt, line 4) fell (budget.csv)and "
                 "rent (q3.xlsx); tax. End")


def file_ref(marker, name, turn, index, lines=None, **extra):
    ref = {"matched_text": marker, "type": "file", "name": name, "id": f"file-{turn}{index}", "source": "my_files",
           "refs": [{"turn_index": turn, "ref_type": "file", "ref_index": index}], **extra}
    if lines:
        ref["input_pointer"] = {"line_range_start": lines[0], "line_range_end": lines[1]}
    return ref


FILE_REFERENCES = [file_ref(FILE, "report.pdf", 1, 0, (17, 19)), file_ref(ONE_LINE, "notes.txt", 1, 2),
                   file_ref(WHOLE, "budget.csv", 2, 1), file_ref("filecite turn3file0", "q3.xlsx", 3, 0)]


def no_fragment(pieces):
    for _, text in pieces:
        assert not PRIVATE & set(text), repr(text)
        assert "filecite" not in text and "turn" not in text and "file0" not in text, repr(text)


@pytest.mark.parametrize("cut", range(len(FILE_TEXT) + 1))
def test_a_file_citation_cut_at_any_position_renders_the_same(cut):
    pieces, _ = run([cut], text=FILE_TEXT, references=FILE_REFERENCES)
    assert content(pieces) == FILE_EXPECTED
    no_fragment(pieces)


def test_file_citations_one_character_at_a_time():
    pieces, _ = run(range(len(FILE_TEXT) + 1), text=FILE_TEXT, references=FILE_REFERENCES)
    assert content(pieces) == FILE_EXPECTED
    no_fragment(pieces)


@pytest.mark.parametrize("cut", range(0, len(FILE_TEXT) + 1, 7))
def test_a_file_reference_that_comes_only_with_the_end_of_the_message(cut):
    """Held until the end-of-message patch brings the references (never longer), then resolved."""
    renderer = Renderer()
    early = content(renderer.feed(root(FILE_TEXT[:cut], references=[])))
    assert FILE_EXPECTED.startswith(early)
    pieces = renderer.feed(root(FILE_TEXT, "finished_successfully", FILE_REFERENCES, True)) + renderer.close()
    assert early + content(pieces) == FILE_EXPECTED
    no_fragment(pieces)


def test_file_citations_in_bot_mode_and_in_reasoning():
    pieces, _ = run([9, 40], text=FILE_TEXT, references=FILE_REFERENCES,
                    options=RenderOptions(citation_links=False))
    assert content(pieces) == FILE_EXPECTED
    renderer = Renderer()
    aside = root(f"Reading the report{FILE} now.", "finished_successfully", FILE_REFERENCES)
    aside["message"]["channel"] = "commentary"
    pieces = renderer.feed(aside) + renderer.close()
    assert "".join(t for k, t in pieces if k != CONTENT) == "Reading the report (report.pdf, lines 17\u201319) now."
    no_fragment(pieces)


def test_a_file_citation_after_a_space_or_held_across_reads_gets_one_space():
    renderer = Renderer()
    first = content(renderer.feed(root("Grew " + FILE[:5], references=FILE_REFERENCES)))
    rest = content(renderer.feed(root("Grew " + FILE + ".", "finished_successfully", FILE_REFERENCES, True)))
    assert first + rest == "Grew (report.pdf, lines 17\u201319)."
    renderer = Renderer()
    first = content(renderer.feed(root("Grew" + FILE[:5], references=FILE_REFERENCES)))
    rest = content(renderer.feed(root("Grew" + FILE + ".", "finished_successfully", FILE_REFERENCES, True)))
    assert (first, first + rest) == ("Grew", "Grew (report.pdf, lines 17\u201319).")
