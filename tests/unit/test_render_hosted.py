"""The renderer's hosted rows: a request's hosted tools become typed steps, everything else stays text."""
from __future__ import annotations

import base64

import pytest

from pandora_v1.errors import APIError
from pandora_v1.files.parts import ResolvedImage
from pandora_v1.translate import hosted
from pandora_v1.translate.hosted import CODE, DELTA, DONE, IMAGE, PARTIAL, RUN, SEARCH, START
from pandora_v1.translate.render import CONTENT, Renderer, RenderOptions
from tests.fake_upstream import png_bytes

SEARCH_JSON = '{"search_query": [{"q": "otters"}, {"q": "sea otters"}], "response_length": "short"}'
GROUPS = {"search_result_groups": [
    {"type": "search_result_group", "domain": "a.example", "entries": [
        {"url": "https://a.example/1", "title": "A", "snippet": " Otters float. ", "pub_date": 1751328000.0},
        {"url": "https://a.example/1", "title": "again"}]},
    {"type": "search_result_group", "domain": "b.example", "entries": [{"url": "https://b.example/2", "title": ""}]}]}


class Media:
    def __init__(self):
        self.fetched = []

    def image(self, pointer, data=False):
        self.fetched.append((pointer, data))
        name = pointer.split("://")[-1]
        return ResolvedImage(f"http://media/{name}.png", data=png_bytes(name) if data else None)

    def sandbox_file(self, message_id, path):
        return f"http://media/files{path}"


def msg(id, role, ctype, recipient="all", status="in_progress", metadata=None, name=None, channel=None, **content):
    return {"message": {"id": id, "author": {"role": role, "name": name}, "recipient": recipient,
                        "content": {"content_type": ctype, **content}, "status": status, "channel": channel,
                        "metadata": metadata or {}}, "conversation_id": "conv"}


def done(snapshot):
    snapshot["message"]["status"] = "finished_successfully"
    return snapshot


def render(snapshots, *listed, partial_images=0, **options):
    renderer = Renderer(RenderOptions(hosted=frozenset(listed), partial_images=partial_images, **options), Media())
    pieces = [p for s in snapshots for p in renderer.feed(s)] + renderer.close()
    return renderer, pieces


def steps(pieces):
    return [(kind, value.step) for kind, value in pieces if kind not in (CONTENT, "reasoning")]


SEARCH_TURN = [
    msg("c", "assistant", "code", recipient="web.run", channel="commentary", text=SEARCH_JSON[:10]),
    done(msg("c", "assistant", "code", recipient="web.run", channel="commentary", text=SEARCH_JSON)),
    done(msg("t", "tool", "text", name="web.run", metadata=GROUPS, parts=[""])),
    done(msg("a", "assistant", "text", channel="final", parts=["Found."])),
]


def test_a_search_call_starts_then_finishes_with_its_action_and_sources():
    _, pieces = render(SEARCH_TURN, SEARCH)
    assert steps(pieces) == [(SEARCH, START), (SEARCH, DONE)]
    assert pieces[1][1].data == {"action": {"type": "search", "query": "otters", "queries": ["otters", "sea otters"]},
                                 "sources": [{"type": "url", "url": "https://a.example/1"},
                                             {"type": "url", "url": "https://b.example/2"}],
                                 # the pages with what the upstream says of them (the Messages API shows it)
                                 "results": [{"url": "https://a.example/1", "title": "A", "snippet": "Otters float.",
                                              "pub_date": 1751328000.0},
                                             {"url": "https://b.example/2", "title": None, "snippet": None,
                                              "pub_date": None}]}
    assert pieces[1][1].key == pieces[0][1].key == "c"
    assert pieces[2:] == [(CONTENT, "Found.")]


def test_without_the_tool_listed_the_same_turn_is_text_as_before():
    for listed in ((), (CODE,), (IMAGE,)):
        _, pieces = render(SEARCH_TURN, *listed)
        assert pieces == [(CONTENT, "Found.")]


def test_a_call_whose_results_never_come_is_closed_by_what_follows():
    _, pieces = render([SEARCH_TURN[1], SEARCH_TURN[3]], SEARCH)
    assert steps(pieces) == [(SEARCH, START), (SEARCH, DONE)]
    assert pieces[1][1].data["sources"] == pieces[1][1].data["results"] == []
    assert pieces[1][1].data["action"]["query"] == "otters"
    assert pieces[2] == (CONTENT, "Found.")
    _, pieces = render([SEARCH_TURN[1]], SEARCH)           # or by the turn's end
    assert steps(pieces) == [(SEARCH, START), (SEARCH, DONE)]


@pytest.mark.parametrize("code, action", [
    ('{"open": [{"ref_id": "https://x.example/p"}]}', {"type": "open_page", "url": "https://x.example/p"}),
    ('{"open": [{"ref_id": "turn0search3"}]}', {"type": "open_page"}),
    ('{"find": [{"ref_id": "https://x.example/p", "pattern": "otter"}]}',
     {"type": "find_in_page", "url": "https://x.example/p", "pattern": "otter"}),
    ('{"find": [{"ref_id": "turn0", "pattern": "otter"}]}', {"type": "search", "query": ""}),
    ("not json", {"type": "search", "query": ""}),
])
def test_search_actions_always_have_the_fields_clients_need(code, action):
    assert hosted.search_action(code) == action


def test_search_results_and_code_logs_read_the_upstreams_shapes():
    assert hosted.search_results({"search_result_groups": [{"entries": [{"url": "ftp://x"}, "bad"]}, "bad"]}) == []
    logs = {"metadata": {"aggregate_result": {"messages": [{"message_type": "stream", "text": "a\n"},
                                                           {"message_type": "image", "image_url": "x"},
                                                           {"message_type": "stream", "text": "b\n"}]}}}
    assert hosted.code_logs(logs) == "a\nb\n"
    assert hosted.code_logs({"content": {"text": "2<<ImageDisplayed>>"}}) == "2"


CODE_TURN = [
    msg("p", "assistant", "code", recipient="python", text="print("),
    msg("p", "assistant", "code", recipient="python", text="print(1+1)"),
    done(msg("p", "assistant", "code", recipient="python", text="print(1+1)\n")),
    done(msg("o", "tool", "execution_output", name="python", text="2\n", metadata={"aggregate_result": {
        "messages": [{"message_type": "stream", "text": "2\n"},
                     {"message_type": "image", "image_url": "file-service://file-chart"}]}})),
    done(msg("a", "assistant", "text", parts=["Saved [out.csv](sandbox:/mnt/data/out.csv)."])),
]


def test_a_python_call_streams_its_code_runs_and_gives_logs_and_charts():
    renderer, pieces = render(CODE_TURN, CODE)
    assert steps(pieces) == [(CODE, START), (CODE, DELTA), (CODE, DELTA), (CODE, DELTA), (CODE, RUN), (CODE, DONE)]
    deltas = "".join(v.text for k, v in pieces if k == CODE and v.step == DELTA)
    assert deltas == "print(1+1)\n" and pieces[4][1].data == {"code": "print(1+1)\n"}
    assert pieces[5][1].data == {"code": "print(1+1)\n", "logs": "2\n", "images": ["http://media/file-chart.png"],
                                 "failed": False}
    text = "Saved [out.csv](http://media/files/mnt/data/out.csv)."
    assert pieces[6:] == [(CONTENT, text)]
    [cited] = renderer.annotations
    assert cited["type"] == "container_file_citation"
    fields = cited["container_file_citation"]
    assert text[fields["start_index"]:fields["end_index"]] == "[out.csv](http://media/files/mnt/data/out.csv)"
    assert fields["filename"] == "out.csv" and fields["file_id"].startswith("cfile_")


def test_python_text_mode_is_unchanged_and_code_interpreter_is_python_too():
    _, pieces = render(CODE_TURN)
    text = "".join(t for _, t in pieces)
    assert text.startswith("```\nprint(1+1)\n```\n\n```\n2\n```\n\n![image](http://media/file-chart.png)")
    renamed = [msg("p", "assistant", "code", recipient="code_interpreter", status="finished_successfully",
                   text="x = 1\n")]
    assert steps(render(renamed, CODE)[1]) == [(CODE, START), (CODE, DELTA), (CODE, RUN), (CODE, DONE)]


def test_a_failed_python_tool_ends_its_call_as_failed():
    turn = CODE_TURN[:3] + [done(msg("e", "tool", "system_error", name="python", text="Sandbox gone"))]
    _, pieces = render(turn, CODE)
    assert pieces[-1][1].data == {"code": "print(1+1)\n", "logs": "Sandbox gone", "images": [], "failed": True}


def pointer(name, partial, gen="gen-1"):
    return {"content_type": "image_asset_pointer", "asset_pointer": f"sediment://{name}", "width": 1024,
            "height": 1536, "metadata": {"generation": {"gen_id": gen, "height": 300 if partial else 1536,
                                                        "transparent_background": False}}}


IMAGE_TURN = [
    done(msg("c", "assistant", "code", recipient="t2uay3k.sj1i4kz",
             text='{"prompt": "A fox in snow", "size": "1024x1536", "n": 1}')),
    msg("t", "tool", "multimodal_text", name="t2uay3k.sj1i4kz", parts=[pointer("preview1", True)]),
    msg("t", "tool", "multimodal_text", name="t2uay3k.sj1i4kz", parts=[pointer("preview2", True)]),
    done(msg("t", "tool", "multimodal_text", name="t2uay3k.sj1i4kz", parts=[pointer("final", False)])),
    done(msg("a", "assistant", "text", parts=["Here it is."])),
]


def test_an_image_call_with_previews_then_the_picture():
    renderer, pieces = render(IMAGE_TURN, IMAGE, partial_images=1)
    assert steps(pieces) == [(IMAGE, START), (IMAGE, PARTIAL), (IMAGE, DONE)]
    assert pieces[1][1].data["b64"] == base64.b64encode(png_bytes("preview1")).decode()
    assert pieces[1][1].data["index"] == 0
    picture = pieces[2][1].data
    assert picture == {"b64": base64.b64encode(png_bytes("final")).decode(), "output_format": "png",
                       "background": "opaque", "size": "1024x1536", "revised_prompt": "A fox in snow"}
    assert pieces[3:] == [(CONTENT, "Here it is.")]
    assert ("sediment://preview2", True) not in renderer.media.fetched     # one preview was asked for


def test_without_previews_nothing_starts_before_the_picture_is_there():
    renderer, pieces = render(IMAGE_TURN, IMAGE)
    assert steps(pieces) == [(IMAGE, START), (IMAGE, DONE)]
    assert [p for p, _ in renderer.media.fetched] == ["sediment://final"]


def test_a_refusal_leaves_no_image_call_and_an_unfinished_one_fails():
    refusal = [IMAGE_TURN[0], done(msg("a", "assistant", "text", parts=["I can't draw that."]))]
    assert render(refusal, IMAGE)[1] == [(CONTENT, "I can't draw that.")]
    renderer = Renderer(RenderOptions(hosted=frozenset({IMAGE})), Media())
    renderer.feed(IMAGE_TURN[1])
    with pytest.raises(APIError) as caught:
        renderer.unfinished_images()
    assert caught.value.status == 504


@pytest.mark.parametrize("name, text, status", [
    ("ChatGPTAgentToolRateLimitException", "You've hit the Free plan limit for image generation.", 429),
    ("ToolError", "The tool crashed.", 502)])
def test_an_image_tool_error_is_the_requests_failure(name, text, status):
    failed = done(msg("e", "tool", "system_error", name="t2uay3k.sj1i4kz", text=text))
    failed["message"]["content"]["name"] = name
    renderer = Renderer(RenderOptions(hosted=frozenset({IMAGE})), Media())
    with pytest.raises(APIError) as caught:
        renderer.feed(failed)
    assert caught.value.status == status and text in caught.value.message
    assert "".join(t for _, t in Renderer(RenderOptions(), Media()).feed(failed)) == text + "\n\n"


def test_search_turns_cite_in_openais_inline_style():
    marker = "\ue200cite\ue202turn0search0\ue201"
    refs = [{"matched_text": marker, "type": "grouped_webpages", "alt": "([Site](https://a.example/1))",
             "items": [{"url": "https://a.example/1", "title": "A page"}]}]
    answer = done(msg("a", "assistant", "text", parts=[f"Otters float {marker}."],
                      metadata={"content_references": refs}))
    renderer, pieces = render([answer], inline_citations=True)
    text = "".join(t for _, t in pieces)
    assert text == "Otters float ([Site](https://a.example/1))."
    [cited] = renderer.annotations
    fields = cited["url_citation"]
    assert text[fields["start_index"]:fields["end_index"]] == "([Site](https://a.example/1))"
    assert (fields["url"], fields["title"]) == ("https://a.example/1", "A page")
    refs[0]["alt"] = None                                   # no ready alt: ([domain](url)) per source
    refs[0]["items"].append({"url": "https://www.b.example/2", "title": "B"})
    renderer, pieces = render([answer], inline_citations=True)
    text = "".join(t for _, t in pieces)
    assert text == "Otters float ([a.example](https://a.example/1)) ([b.example](https://www.b.example/2))."
    assert [text[a["url_citation"]["start_index"]:a["url_citation"]["end_index"]] for a in renderer.annotations] \
        == ["([a.example](https://a.example/1))", "([b.example](https://www.b.example/2))"]
