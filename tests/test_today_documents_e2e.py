"""Today's document answers end to end with the openai SDK: file citations (filecite markers resolved
through content_references of type file) in every mode, inline writing blocks as markdown, and a
resent history that the upstream echoes back before the real answer."""
from __future__ import annotations

import base64

import openai
import pytest

from tests.conftest import ACCESS_TOKEN, Server, base_config
from tests.fake_documents import FILE_QUOTE

PRIVATE = {chr(c) for c in range(0xE200, 0xE207)}
FILECITE = "\ue200filecite\ue202turn1file0\ue202L17-L19\ue201"
WHOLE = "\ue200filecite\ue202turn2file1\ue201"
LOST = "\ue200filecite\ue202turn9file0\ue201"
CITED = f"Revenue grew 5%{FILECITE}, costs fell{WHOLE} and rent rose{LOST}."
RESOLVED = "Revenue grew 5% (report.pdf, lines 17\u201319), costs fell (notes.txt) and rent rose."
BLOCK = ':::writing{variant="document" id="w1" title="Letter"}\nDear team,\n\nthanks: all of you.\n:::'
NEVER = ["filecite", "turn1file0", "turn2", "turn9", ":::", "writing{", FILE_QUOTE, "myfiles_browser", "queries"]


@pytest.fixture(scope="module")
def bot(upstream, tmp_path_factory):
    srv = Server(tmp_path_factory.mktemp("bot"), base_config(upstream.url, bot_mode={"enabled": True})).wait_ready()
    yield openai.OpenAI(base_url=srv.url + "/v1", api_key=ACCESS_TOKEN, max_retries=0, timeout=30)
    srv.stop()


def clean(*texts):
    for text in texts:
        assert not PRIVATE & set(text or ""), repr(text)
        for fragment in NEVER:
            assert fragment not in (text or ""), (fragment, text)


def ask(client, messages, stream):
    if isinstance(messages, str):
        messages = [{"role": "user", "content": messages}]
    if not stream:
        result = client.chat.completions.create(model="gpt-4o", messages=messages)
        clean(result.model_dump_json())
        return result.choices[0].message.content
    out = []
    for chunk in client.chat.completions.create(model="gpt-4o", messages=messages, stream=True):
        clean(chunk.model_dump_json())
        out += [chunk.choices[0].delta.content or ""] if chunk.choices else []
    return "".join(out)


def with_document(prompt):
    pdf = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"
    return [{"role": "user", "content": [
        {"type": "text", "text": prompt},
        {"type": "file", "file": {"file_data": base64.b64encode(pdf).decode(), "filename": "report.pdf"}}]}]


@pytest.mark.parametrize("stream", [False, True])
@pytest.mark.parametrize("fmt", ["!format A", "!format B\n!split 7"])
def test_file_citations_become_readable_references(client, fake, fmt, stream):
    assert ask(client, with_document(f"{fmt}\n!files\n!pieces 2\n{CITED}"), stream) == RESOLVED


@pytest.mark.parametrize("stream", [False, True])
def test_file_citations_in_bot_mode(bot, fake, stream):
    assert ask(bot, f"!files\n!pieces 5\n{CITED}", stream) == RESOLVED


@pytest.mark.parametrize("stream", [False, True])
def test_file_citations_in_responses(client, fake, stream):
    prompt = f"!files\n!pieces 3\n{CITED}"
    if stream:
        with client.responses.stream(model="gpt-4o", input=prompt) as events:
            text = events.get_final_response().output_text
    else:
        text = client.responses.create(model="gpt-4o", input=prompt).output_text
    assert text == RESOLVED


@pytest.mark.parametrize("stream", [False, True])
@pytest.mark.parametrize("pieces", [1, 4, 50])
def test_a_writing_block_is_its_title_and_text(client, fake, pieces, stream):
    out = ask(client, f"!today\n!pieces {pieces}\nHere is the draft:\n\n{BLOCK}\n\nShall I send it?", stream)
    assert out == "Here is the draft:\n\n## Letter\n\nDear team,\n\nthanks: all of you.\n\nShall I send it?"


HISTORY = [{"role": "system", "content": "Be brief."},
           {"role": "user", "content": "What floats?"},
           {"role": "assistant", "content": "Otters float."}]


@pytest.mark.parametrize("stream", [False, True])
@pytest.mark.parametrize("mode", ["messages", "prefix"])
def test_a_replayed_history_is_not_the_answer(client, fake, mode, stream):
    messages = HISTORY + [{"role": "user", "content": f"!echo_history {mode}\n!pieces 3\nThey hold paws."}]
    assert ask(client, messages, stream) == "They hold paws."
