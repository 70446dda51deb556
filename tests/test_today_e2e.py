"""Today's upstream stream (2025-2026) end to end: the openai SDK -> pandora_v1 under gunicorn ->
the fake upstream's today turns. Every response is checked whole for private-use characters
and for the account's memories."""
from __future__ import annotations

import openai
import pytest

from tests.conftest import ACCESS_TOKEN, Server, base_config
from tests.fake_upstream import (
    BIO_NOTE,
    BIO_RESULT,
    CANVAS,
    CANVAS_NAME,
    CANVAS_REPLY,
    COMMENTARY,
    DEVELOPER_TEXT,
    IMAGE_LIMIT,
    INSTRUCTIONS_TEXT,
    MEMORY_TEXT,
    SEARCH_CALL,
    VARIANT_TWO,
    answer_text,
    source_url,
)

FORMATS = ["!format A", "!format B", "!format B\n!split 5\n!crlf\n!ping"]
PRIVATE = {chr(c) for c in range(0xE200, 0xE207)}
NEVER = [MEMORY_TEXT, "Jane", INSTRUCTIONS_TEXT, DEVELOPER_TEXT, BIO_NOTE, BIO_RESULT, SEARCH_CALL,
         "search_query", CANVAS_REPLY, VARIANT_TWO, "Thought for", "turn0", "turn9", "cite"]

CITE = "\ue200cite\ue202turn0search3\ue202turn1news2\ue201"
LATER = "\ue200cite\ue202turn0search1\ue201"
ENTITY = '\ue200entity\ue202["animal","Sea otter","mammal"]\ue201'
LOST = "\ue200cite\ue202turn9search9\ue201"
IMAGE = "\ue200i\ue202turn0image1\ue201"
MARKED = f"Otters hold hands{CITE} and float{LATER}. {ENTITY} sleeps{LOST} well{IMAGE}.\nThe end."
LINKS = {1: source_url("turn0search3"), 2: source_url("turn1news2"), 3: source_url("turn0search1")}
LINKED = (f"Otters hold hands[[1]({LINKS[1]})][[2]({LINKS[2]})] and float[[3]({LINKS[3]})]. "
          "Sea otter sleeps well.\nThe end.")
UNLINKED = "Otters hold hands and float. Sea otter sleeps well.\nThe end."


@pytest.fixture(scope="module")
def bots(upstream, tmp_path_factory):
    """Bot mode without reference links, and bot mode with references and plugin output."""
    configs = {"bot": {"bot_mode": {"enabled": True}},
               "bot_refs": {"bot_mode": {"enabled": True, "enabled_bing_reference_output": True,
                                         "enabled_plugin_output": True}}}
    servers = {name: Server(tmp_path_factory.mktemp(name), base_config(upstream.url, **config))
               for name, config in configs.items()}
    for srv in servers.values():
        srv.wait_ready()
    yield {name: openai.OpenAI(base_url=srv.url + "/v1", api_key=ACCESS_TOKEN, max_retries=0, timeout=30)
           for name, srv in servers.items()}
    for srv in servers.values():
        srv.stop()


def clean_everywhere(*texts):
    """No private-use character, no marker fragment, no memory, wherever it would show."""
    for text in texts:
        assert not PRIVATE & set(text or ""), repr(text)
        for secret in NEVER:
            assert secret not in (text or ""), (secret, text)


def ask(client, prompt, stream, model="gpt-4o"):
    """(content, reasoning, annotations or None); every chunk and field is checked."""
    messages = [{"role": "user", "content": prompt}]
    if not stream:
        result = client.chat.completions.create(model=model, messages=messages)
        message = result.choices[0].message
        reasoning = (message.model_extra or {}).get("reasoning_content") or ""
        clean_everywhere(result.model_dump_json(), message.content, reasoning)
        return message.content, reasoning, message.annotations
    content, reasoning = [], []
    for chunk in client.chat.completions.create(model=model, messages=messages, stream=True):
        clean_everywhere(chunk.model_dump_json())
        if chunk.choices:
            content.append(chunk.choices[0].delta.content or "")
            reasoning.append((chunk.choices[0].delta.model_extra or {}).get("reasoning_content") or "")
    return "".join(content), "".join(reasoning), None


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("stream", [False, True])
def test_plain_answer_in_todays_frame_order(client, fake, fmt, stream):
    prompt = f"{fmt}\n!today\n!memory\n!pieces 2\nGrüße, 世界! 🎉\n1\n2\n3\n4\n5"
    content, reasoning, _ = ask(client, prompt, stream)
    assert content == "Grüße, 世界! 🎉\n1\n2\n3\n4\n5" == answer_text(prompt)
    assert reasoning == ""


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("stream", [False, True])
def test_citation_markers_become_numbered_links(client, fake, fmt, stream):
    content, _, annotations = ask(client, f"{fmt}\n!search\n!pieces 1\n{MARKED}", stream)
    assert content == LINKED
    if not stream:
        spans = [(a.url_citation.url, content[a.url_citation.start_index:a.url_citation.end_index])
                 for a in annotations]
        assert spans == [(LINKS[n], f"[[{n}]({LINKS[n]})]") for n in (1, 2, 3)]
        assert [a.type for a in annotations] == ["url_citation"] * 3
        assert annotations[0].url_citation.title == "Source 0search3"


@pytest.mark.parametrize("stream", [False, True])
def test_bot_mode_links_only_with_reference_output(bots, fake, stream):
    prompt = f"!search\n!memory\n!pieces 3\n{MARKED}"
    assert ask(bots["bot"], prompt, stream)[0] == UNLINKED
    assert ask(bots["bot_refs"], prompt, stream)[0] == LINKED


@pytest.mark.parametrize("fmt", FORMATS[:2])
@pytest.mark.parametrize("stream", [False, True])
def test_reasoning_and_preamble_are_reasoning_content(client, fake, fmt, stream):
    prompt = f"{fmt}\n!thinking\n!commentary\n!search\n!memory\nOtters do{CITE}."
    content, reasoning, _ = ask(client, prompt, stream, model="reasoner")
    assert content == f"Otters do[[1]({LINKS[1]})][[2]({LINKS[2]})]."
    assert reasoning == f"Considering the question\n\nChecking sources\n\nTwo sources agree.\n\n{COMMENTARY}"


@pytest.mark.parametrize("stream", [False, True])
def test_nothing_of_the_tool_calls_or_memories_in_bot_plugin_output(bots, fake, stream):
    content, reasoning, _ = ask(bots["bot_refs"], "!memory\n!search\n!commentary\nJust this.", stream)
    assert content == "Just this."
    assert reasoning == COMMENTARY


@pytest.mark.parametrize("kind", ["document", "code/python"])
@pytest.mark.parametrize("stream", [False, True])
def test_canvas_document_reaches_the_client(client, fake, kind, stream):
    content, _, _ = ask(client, f"!canvas {kind}\n!canvas_update\nI drafted the notes.", stream)
    text, pattern, replacement = CANVAS[kind]
    body = text.rstrip("\n")
    shown = [body, body.replace(pattern, replacement)]
    if kind.startswith("code/"):
        shown = [f"```python\n{b}\n```" for b in shown]
    assert content == "".join(f"## {CANVAS_NAME}\n\n{b}\n\n" for b in shown) + "I drafted the notes."


@pytest.mark.parametrize("fmt", FORMATS[:2])
@pytest.mark.parametrize("stream", [False, True])
def test_two_variants_give_exactly_one_answer(client, fake, fmt, stream):
    content, _, _ = ask(client, f"{fmt}\n!variants\nThe first variant.", stream)
    assert content == "The first variant."


@pytest.mark.parametrize("stream", [False, True])
def test_image_limit_system_error_is_readable_text(client, fake, stream):
    content, _, _ = ask(client, "!image_limit\nI couldn't draw it this time.", stream)
    assert content == f"{IMAGE_LIMIT}\n\nI couldn't draw it this time."


def test_gpt5_slug_through_the_models_map_and_the_web_apps_path(make_server, fake):
    srv = make_server(models={"gpt-5": "gpt-5", "thinker": "gpt-5-thinking"},
                      conversation_path="/backend-api/f/conversation")
    client = openai.OpenAI(base_url=srv.url + "/v1", api_key=ACCESS_TOKEN, max_retries=0)
    result = client.chat.completions.create(model="thinker", messages=[{"role": "user", "content": "!today\nhi"}])
    assert result.choices[0].message.content == "Hello! How can I help you today?"
    assert result.model == "thinker"
    # o200k_base: the 9-token greeting, 8 prompt tokens for "!today\nhi"... counted like gpt-4o
    gpt4o = openai.OpenAI(base_url=srv.url + "/v1", api_key=ACCESS_TOKEN, max_retries=0).chat.completions.create(
        model="gpt-4o", messages=[{"role": "user", "content": "!today\nhi"}])
    assert (result.usage.prompt_tokens, result.usage.completion_tokens) == \
        (gpt4o.usage.prompt_tokens, gpt4o.usage.completion_tokens) == (gpt4o.usage.prompt_tokens, 9)
    posts = [r for r in fake.requests if r.method == "POST" and "conversation" in r.path]
    assert [r.path for r in posts] == ["/backend-api/f/conversation"] * 2
    assert posts[0].json["model"] == "gpt-5-thinking"
    assert posts[0].json["paragen_cot_summary_display_override"] == "allow"
    assert "system_hints" not in posts[0].json


def test_bad_conversation_path_is_a_config_error():
    from pandora_v1.runtime.config import ConfigError, parse

    with pytest.raises(ConfigError) as info:
        parse({"conversation_path": "/v1/other"})
    assert "conversation_path" in str(info.value)
    assert parse({"conversation_path": "backend-api/f/conversation/"}).conversation_path == \
        "/backend-api/f/conversation"
    assert parse({}).conversation_path == "/backend-api/conversation"


# ------------------------------------------------------------------ uploads

def test_uploads_against_todays_file_endpoints(client, fake):
    """mime_type sent; /uploaded without download_url is fine; documents are processed."""
    import base64

    pdf = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"
    fake.uploaded_minimal = fake.process_uploads = True
    parts = [{"type": "text", "text": "!today\nRead it."},
             {"type": "file", "file": {"file_data": base64.b64encode(pdf).decode(), "filename": "a.pdf"}}]
    result = client.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": parts}])
    assert result.choices[0].message.content == "Read it."
    create = [r for r in fake.requests if r.method == "POST" and r.path == "/backend-api/files"][0].json
    assert create["mime_type"] == "application/pdf" and create["use_case"] == "my_files"
    (upload,) = fake.uploads.values()
    assert upload["processed"]["index_for_retrieval"] is True and upload["processed"]["use_case"] == "my_files"


def test_uploads_where_processing_does_not_exist(client, fake):
    import base64

    fake.uploaded_minimal = True          # and process_upload_stream answers 404
    parts = [{"type": "text", "text": "!today\nStill fine."},
             {"type": "file", "file": {"file_data": base64.b64encode(b"plain notes\n" * 9).decode(),
                                       "filename": "n.txt"}}]
    result = client.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": parts}])
    assert result.choices[0].message.content == "Still fine."
    assert [r.path for r in fake.requests if r.path.endswith("process_upload_stream")] == \
        ["/backend-api/files/process_upload_stream"]
    message = [r for r in fake.requests if r.path.endswith("/conversation")][-1].json["messages"][-1]
    assert message["metadata"]["attachments"][0]["id"] in fake.uploads


TOOLS = [{"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object"}}}]


def test_links_keep_their_annotations_when_tools_are_offered_but_unused(client, fake):
    reply = client.chat.completions.create(model="gpt-4o", tools=TOOLS,
                                           messages=[{"role": "user", "content": f"!search\n!pieces 1\n{MARKED}"}])
    message = reply.choices[0].message
    assert message.content == LINKED and reply.choices[0].finish_reason == "stop"
    spans = [(a.url_citation.url, message.content[a.url_citation.start_index:a.url_citation.end_index])
             for a in message.annotations]
    assert spans == [(LINKS[n], f"[[{n}]({LINKS[n]})]") for n in (1, 2, 3)]


@pytest.mark.parametrize("stream", [False, True])
def test_responses_carry_the_links_as_url_citation_annotations(client, fake, stream):
    prompt = f"!search\n!pieces 1\n{MARKED}"
    if stream:
        with client.responses.stream(model="gpt-4o", input=prompt) as events:
            for _ in events:
                pass
            response = events.get_final_response()
    else:
        response = client.responses.create(model="gpt-4o", input=prompt)
    part = response.output[-1].content[0]
    assert part.text == LINKED
    assert [(a.type, a.url, part.text[a.start_index:a.end_index]) for a in part.annotations] == [
        ("url_citation", LINKS[n], f"[[{n}]({LINKS[n]})]") for n in (1, 2, 3)]
    assert part.annotations[0].title == "Source 0search3"
