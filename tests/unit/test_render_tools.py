"""Tool turns, citation marks and sandbox links in the renderer, cut at every possible point."""
import pytest

from pandora_v1.files.parts import ResolvedImage
from pandora_v1.runtime.config import BotMode
from pandora_v1.translate.render import CONTENT, Renderer, RenderOptions


class FakeMedia:
    def __init__(self):
        self.sandbox_calls = []

    def image(self, pointer):
        return ResolvedImage(f"http://media/{pointer.split('://')[-1]}.png", "/tmp/x")

    def sandbox_file(self, message_id, path):
        self.sandbox_calls.append((message_id, path))
        return f"http://media/files{path}"


CITES = {"citations": [
    {"metadata": {"url": "https://a.example/3", "extra": {"cited_message_idx": 3}}},
    {"metadata": {"url": "https://a.example/5", "extra": {"cited_message_idx": 5}}}]}


def msg(id, role, ctype, recipient="all", status="in_progress", metadata=None, name=None, **content):
    return {"message": {"id": id, "author": {"role": role, "name": name}, "content": {"content_type": ctype, **content},
                        "recipient": recipient, "status": status, "metadata": metadata or {}},
            "conversation_id": "conv"}


def text_snapshots(text, cuts, metadata=None):
    """Snapshots of one answer growing through the given cut points, then finished."""
    points = sorted(set(cuts)) + [len(text)]
    snaps = [msg("a", "assistant", "text", parts=[text[:p]], metadata=metadata) for p in points]
    snaps.append(msg("a", "assistant", "text", parts=[text], status="finished_successfully", metadata=metadata))
    return snaps


def render(snapshots, options=None, media=None):
    renderer = Renderer(options or RenderOptions(), media or FakeMedia())
    pieces = [p for s in snapshots for p in renderer.feed(s)]
    pieces += renderer.close()
    return "".join(t for k, t in pieces if k == CONTENT), renderer


TEXT = ("Otters【3†source】 hold hands【5:0†来源】, sleep【9†source】 and "
        "share [data.csv](sandbox:/mnt/data/data.csv); [not](a link) 【 stays, [x](sandbox:/other) too.")
EXPECTED = ("Otters[[3](https://a.example/3)] hold hands[[5](https://a.example/5)], sleep and "
            "share [data.csv](http://media/files/mnt/data/data.csv); [not](a link) 【 stays, "
            "[x](sandbox:/other) too.")


def test_marks_and_links_cut_at_every_point():
    for cut in range(1, len(TEXT)):
        assert render(text_snapshots(TEXT, [cut], CITES))[0] == EXPECTED, cut


def test_marks_and_links_one_character_at_a_time():
    out, _ = render(text_snapshots(TEXT, range(1, len(TEXT)), CITES))
    assert out == EXPECTED


def test_text_that_only_looks_like_a_mark_is_released_when_it_cannot_be_one():
    renderer = Renderer(RenderOptions(), FakeMedia())
    assert renderer.feed(msg("a", "assistant", "text", parts=["a【"])) == [(CONTENT, "a")]
    assert renderer.feed(msg("a", "assistant", "text", parts=["a【x"])) == [(CONTENT, "【x")]
    assert renderer.feed(msg("a", "assistant", "text", parts=["a【x [y"])) == [(CONTENT, " ")]
    assert renderer.feed(msg("a", "assistant", "text", parts=["a【x [y] z"])) == [(CONTENT, "[y] z")]


def test_unfinished_mark_at_the_end_is_released_as_text():
    out, _ = render([msg("a", "assistant", "text", parts=["see 【3†sou"])])
    assert out == "see 【3†sou"


def test_code_interpreter_turn_with_chart():
    snaps = [
        msg("a0", "assistant", "text", parts=["Let me plot."], status="finished_successfully"),
        msg("c", "assistant", "code", recipient="python", language="python", text="plt.plot(x"),
        msg("c", "assistant", "code", recipient="python", language="python", text="plt.plot(x)",
            status="finished_successfully"),
        msg("t", "tool", "execution_output", name="python", text="<<ImageDisplayed>>", status="finished_successfully",
            metadata={"aggregate_result": {"messages": [
                {"message_type": "image", "image_url": "file-service://file-c1"}]}}),
        msg("a", "assistant", "text", parts=["Done."], status="finished_successfully"),
    ]
    out, renderer = render(snaps)
    assert out == ("Let me plot.\n\n```python\nplt.plot(x)\n```\n\n"
                   "![image](http://media/file-c1.png)\n\n[Download image](http://media/file-c1.png)\n\nDone.")
    assert [i.url for i in renderer.images] == ["http://media/file-c1.png"]


def test_a_block_left_open_by_the_upstream_is_closed():
    out, _ = render([msg("c", "assistant", "code", recipient="python", language="python", text="while True:")])
    assert out == "```python\nwhile True:\n```\n\n"
    out, _ = render([msg("c", "assistant", "code", recipient="python", language="python", text="x = 1"),
                     msg("t", "tool", "execution_output", name="python", text="partial\n")])
    assert out.count("```") == 4 and out.endswith("```\n\n")


def test_dalle_prompt_is_hidden_and_images_shown():
    pointer = {"content_type": "image_asset_pointer", "asset_pointer": "file-service://file-d1",
               "metadata": {"dalle": {"prompt": "an otter, watercolor"}}}
    snaps = [msg("c", "assistant", "code", recipient="dalle.text2im", text='{"prompt": "otter"}',
                 status="finished_successfully"),
             msg("t", "tool", "multimodal_text", name="dalle.text2im", parts=[pointer], status="in_progress"),
             msg("t", "tool", "multimodal_text", name="dalle.text2im", parts=[pointer],
                 status="finished_successfully"),
             msg("n", "tool", "text", name="dalle.text2im", parts=["DALL·E displayed 1 images."],
                 status="finished_successfully"),
             msg("a", "assistant", "text", parts=["Here it is."], status="finished_successfully")]
    out, renderer = render(snaps)
    assert out == ("![image](http://media/file-d1.png)\n\n[Download image](http://media/file-d1.png)\n\n"
                   "Here it is.")
    assert renderer.images[0].revised_prompt == "an otter, watercolor"


@pytest.mark.parametrize("bot, expected", [
    (BotMode(enabled=True), "Hi  there."),
    (BotMode(enabled=True, plain_image_url_output=True, markdown_image_output=True),
     "http://media/file-d1.png\n\nHi  there."),
    (BotMode(enabled=True, markdown_image_output=True), "![image](http://media/file-d1.png)\n\n"
     "[Download image](http://media/file-d1.png)\n\nHi  there."),
    (BotMode(enabled=True, bing_reference_output=True, plugin_output=True),
     '```python\n1+1\n```\n\n```\n2\n```\n\n```\nsearch("x")\n```\n\nHi [[3](https://a.example/3)] there.'),
])
def test_bot_mode_switches(bot, expected):
    pointer = {"content_type": "image_asset_pointer", "asset_pointer": "file-service://file-d1"}
    snaps = [msg("c", "assistant", "code", recipient="python", language="python", text="1+1",
                 status="finished_successfully"),
             msg("o", "tool", "execution_output", name="python", text="2", status="finished_successfully"),
             msg("b", "assistant", "code", recipient="browser", language="unknown", text='search("x")',
                 status="finished_successfully"),
             msg("t", "tool", "multimodal_text", name="dalle.text2im", parts=[pointer],
                 status="finished_successfully"),
             msg("a", "assistant", "text", parts=["Hi 【3†source】 there."], metadata=CITES,
                 status="finished_successfully")]
    out, _ = render(snaps, RenderOptions.from_bot_mode(bot))
    assert out == expected


def test_default_mode_hides_browsing_chatter():
    snaps = [msg("b", "assistant", "code", recipient="browser", text='search("x")', status="finished_successfully"),
             msg("q", "tool", "tether_quote", name="browser", url="https://x", title="X", text="...",
                 status="finished_successfully"),
             msg("a", "assistant", "text", parts=["Answer."], status="finished_successfully")]
    assert render(snaps)[0] == "Answer."
