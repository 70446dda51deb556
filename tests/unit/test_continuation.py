"""A turn the stream left unfinished: resumed, or polled from the conversation document, through
the same renderer, nothing sent twice, every wait bounded. Upstream bytes come from the fake's
own rendering of its today turns."""
import time
import uuid

import pytest

from pandora_v1.errors import APIError
from pandora_v1.files.parts import ResolvedImage
from pandora_v1.translate.continuation import ContinuationSettings, document_messages
from pandora_v1.translate.render import CONTENT, Renderer
from pandora_v1.translate.stream import Translation
from tests.fake_upstream import IMAGE_POLLS, Turn, conversation_document, parse_prompt, render, sediment_file, today_turn


class Body:
    """An UpstreamBody stand-in: the bytes in two reads, then the end."""

    def __init__(self, data: bytes):
        self.reads = [data[: len(data) // 2], data[len(data) // 2:], b""]
        self.closed = False

    def read(self, wait=None):
        return self.reads.pop(0) if self.reads else b""

    def close(self, drain=None):
        self.closed = True


class Upstream:
    """The continuation calls, answered from a fake turn; counts them."""

    def __init__(self, turn, plan, resume_fails=False, document_errors=(), never_ready=False):
        self.turn, self.plan = turn, plan
        self.resume_fails, self.document_errors = resume_fails, list(document_errors)
        self.never_ready = never_ready
        self.resumes, self.documents = [], 0

    def resume(self, conversation_id, token):
        self.resumes.append((conversation_id, token))
        if self.resume_fails:
            raise APIError(502, "resume failed", upstream_status=404)
        return Body(stream_bytes(self.plan, self.turn.full))

    def document(self, conversation_id):
        if self.document_errors:
            status = self.document_errors.pop(0)
            raise APIError(429 if status == 429 else 502, "no", upstream_status=status)
        self.documents += 1
        ready = not self.never_ready and self.documents >= self.turn.ready_after
        return conversation_document(self.turn.full if ready else self.turn.stream, conversation_id)


class Media:
    def __init__(self):
        self.fetched = []

    def image(self, pointer):
        self.fetched.append(pointer)
        return ResolvedImage(f"https://img.example/{pointer.split('://')[-1]}.png")

    def sandbox_file(self, message_id, path):
        return None


def stream_bytes(plan, steps, conversation_id="conv-1"):
    return b"".join(x for x in render(plan, "B", steps, conversation_id) if isinstance(x, bytes))


def translate(prompt, **upstream_options):
    plan = parse_prompt(prompt)
    turn = today_turn(plan, Turn("conv-1", "gpt-5", {"id": str(uuid.uuid4()), "author": {"role": "user"},
                                                     "content": {"content_type": "text", "parts": [prompt]}}))
    upstream = Upstream(turn, plan, **upstream_options)
    renderer = Renderer(media=Media())
    translation = Translation(Body(stream_bytes(plan, turn.stream)), 1 << 20, renderer,
                              continuation=upstream,
                              continuation_settings=ContinuationSettings(max_wait=1.0, interval=0.02))
    return translation, upstream


def run(translation, keepalive=None):
    batches = list(translation.batches(keepalive))
    text = "".join(t for batch in batches for k, t in batch if k == CONTENT)
    return text, batches


def test_a_handed_off_turn_is_resumed_through_the_same_pipeline():
    translation, upstream = translate("!handoff\n!memory\nThe resumed answer.")
    text, _ = run(translation)
    assert text == "The resumed answer."
    assert upstream.resumes == [("conv-1", translation.ending.resume_token)] and upstream.documents == 0
    assert translation.resumed and translation.renderer.answered


def test_resume_failing_polls_the_document_until_the_answer_is_there():
    translation, upstream = translate("!handoff\nFrom the document.", resume_fails=True)
    started = time.monotonic()
    text, _ = run(translation)
    assert text == "From the document."
    assert upstream.documents == translation.polls == 2       # the fake has it on the second GET
    assert time.monotonic() - started < 1.0


def test_resume_and_document_failing_is_an_error_never_an_empty_answer():
    translation, upstream = translate("!handoff\nNever seen.", resume_fails=True, never_ready=True)
    with pytest.raises(APIError) as info:
        run(translation)
    assert info.value.status == 502 and "handed the answer off" in info.value.message
    assert 10 <= upstream.documents <= 50        # polled every 0.02 s within the 1 s bound, then gave up


def test_an_async_image_is_shown_once_finished_and_never_as_a_preview():
    translation, upstream = translate("!image_async\nHere is your otter.")
    text, batches = run(translation, keepalive=0.005)
    url = f"https://img.example/{sediment_file()}.png"
    assert text == f"![image]({url})\n\n[Download image]({url})\n\nHere is your otter."
    assert translation.renderer.media.fetched == [f"sediment://{sediment_file()}"]
    assert upstream.documents == IMAGE_POLLS and upstream.resumes == []
    assert [] in batches                      # keep-alives while waiting between polls


def test_an_image_never_finished_ends_with_a_note_within_the_bound():
    translation, upstream = translate("!image_async\nHere.", never_ready=True)
    started = time.monotonic()
    text, _ = run(translation)
    assert text == "(the image was not finished in time)\n\n"
    assert time.monotonic() - started < 1.5
    assert translation.renderer.media.fetched == []


def test_polling_backs_off_on_429_and_5xx_and_stops_on_other_errors():
    translation, upstream = translate("!image_async\nHere.", document_errors=[429, 503])
    started = time.monotonic()
    text, _ = run(translation)
    assert text.endswith("Here.") and upstream.documents == IMAGE_POLLS
    assert time.monotonic() - started >= 0.02 + 0.04 + 0.08      # 0.02, then doubled twice
    translation, upstream = translate("!image_async\nHere.", document_errors=[403])
    text, _ = run(translation)
    assert upstream.documents == 0 and text == "(the image was not finished in time)\n\n"


@pytest.mark.parametrize("prompt, words", [("!image_async\nHere.", "still being drawn"),
                                           ("!handoff\nNever seen.", "handed the answer off")])
def test_a_404_on_the_document_cannot_be_recovered_and_says_so_at_once(prompt, words):
    """A temporary chat's document is a 404: an error after what the stream gave, no more polls."""
    translation, upstream = translate(prompt, resume_fails=True, document_errors=[404])
    started, batches = time.monotonic(), []
    with pytest.raises(APIError) as info:
        for batch in translation.batches():
            batches.append(batch)
    assert info.value.status == 502 and info.value.code == "conversation_unavailable"
    assert words in info.value.message and "temporary chat" in info.value.message
    assert upstream.document_errors == [] and upstream.documents == 0       # one GET, then no more
    assert time.monotonic() - started < 0.5
    assert translation.polls == 1


def test_a_finished_2024_stream_is_not_continued():
    translation, upstream = translate("!today\nDone.")
    text, _ = run(translation)
    assert text == "Done." and upstream.resumes == [] and upstream.documents == 0


def test_document_messages_follow_the_current_branch():
    document = {"current_node": "c", "mapping": {
        "root": {"message": None, "parent": None}, "a": {"message": {"id": "a"}, "parent": "root"},
        "b": {"message": {"id": "b"}, "parent": "a"}, "x": {"message": {"id": "x"}, "parent": "a"},
        "c": {"message": {"id": "c"}, "parent": "b"}}}
    assert [m["id"] for m in document_messages(document)] == ["a", "b", "c"]
    assert document_messages({"mapping": "nope"}) == []
    # a continued conversation: the turn is what follows its parent, not the earlier turns
    assert [m["id"] for m in document_messages(document, after="a")] == ["b", "c"]
    assert document_messages(document, after="c") == []


def test_a_handoff_mid_answer_resumes_without_repeating_what_was_sent():
    from tests.fake_upstream import Event, Grow

    prompt = "!today\n!pieces 4\n!commentary\nThe answer, streamed in small pieces, once."
    plan = parse_prompt(prompt)
    turn = today_turn(plan, Turn("conv-1", "gpt-5", {"id": "u", "author": {"role": "user"},
                                                     "content": {"content_type": "text", "parts": [prompt]}}))
    grows = [i for i, step in enumerate(turn.full) if isinstance(step, Grow) and step.path.endswith("parts/0")]
    cut = grows[-3]     # well into the answer
    handed = turn.full[:cut] + [Event({"type": "stream_handoff", "conversation_id": "conv-1", "options": []})]
    upstream = Upstream(turn, plan)
    renderer = Renderer()
    translation = Translation(Body(stream_bytes(plan, handed)), 1 << 20, renderer, continuation=upstream,
                              continuation_settings=ContinuationSettings(max_wait=1.0, interval=0.02))
    batches = list(translation.batches())
    content = [t for batch in batches for k, t in batch if k == CONTENT]
    reasoning = "".join(t for batch in batches for k, t in batch if k != CONTENT)
    assert "".join(content) == "The answer, streamed in small pieces, once."
    assert reasoning == "I'll look that up on the web first."
    assert len(upstream.resumes) == 1 and translation.resumed
    # the first stream alone already gave the client part of the answer, which the replay skipped
    alone = Translation(Body(stream_bytes(plan, handed)), 1 << 20, Renderer())
    before = "".join(t for k, t in alone if k == CONTENT)
    assert len(before) > 10 and "The answer, streamed in small pieces, once.".startswith(before)
