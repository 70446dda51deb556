"""Long sessions end to end (answer/continuity.py, issue 22): a history that extends one pandora_v1
answered goes on in that upstream conversation (only the new messages, the stored parent), whatever API
and client asked; anything else starts a fresh conversation with the whole history, invisibly; big inputs
go up as big-paste attachments; usage counts the whole history; with hiding on, a session's conversation
is hidden when the session ends. Real servers, the real SDKs, and the fake upstream that keeps
conversations (tests/fake_sessions.py)."""
from __future__ import annotations

import json
import re
import time

import anthropic
import openai
import pytest

from tests.conftest import ACCESS_TOKEN, make_jwt
from tests.fake_sessions import model_texts
from tests.test_messages_clients_e2e import claude, claude_bin  # noqa: F401 (fixtures: Claude Code, offline)

WEATHER = {"type": "function", "function": {
    "name": "get_weather", "description": "Current weather in a city",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}}
TIME = {"type": "function", "function": {"name": "get_time", "description": "The time in a city",
                                         "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}}}
NONCE = re.compile(r"⟦call ([A-Z2-7]{8})⟧")
RESULT = re.compile(r'⟦result ([A-Z2-7]{8}) name="get_weather" id="[^"]+"⟧')


def conversations(fake):
    return [r for r in fake.requests if r.method == "POST" and r.path.endswith("/backend-api/conversation")]


def texts(record) -> list[tuple[str, str]]:
    return [(m["author"]["role"], "\n".join(m["content"]["parts"])) for m in record.json["messages"]]


def openai_client(srv, key: str = ACCESS_TOKEN) -> openai.OpenAI:
    return openai.OpenAI(base_url=srv.url + "/v1", api_key=key, max_retries=0, timeout=60)


def ask(client, messages, stream=False, **kwargs):
    """(content, usage) of one chat completion."""
    if not stream:
        result = client.chat.completions.create(model="gpt-4o", messages=messages, **kwargs)
        return result.choices[0].message.content, result.usage
    content, usage = [], None
    for chunk in client.chat.completions.create(model="gpt-4o", messages=messages, stream=True,
                                                stream_options={"include_usage": True}, **kwargs):
        if chunk.choices:
            content.append(chunk.choices[0].delta.content or "")
        usage = chunk.usage or usage
    return "".join(content), usage


def current_node(fake, conversation_id):
    return fake.conversations[conversation_id].final["current_node"]


def hides(fake, conversation_id=None):
    return [r for r in fake.requests if r.method == "PATCH"
            and (conversation_id is None or r.path.endswith(f"/conversation/{conversation_id}"))]


# ------------------------------------------------------------------ chat completions, the openai SDK

def test_a_ten_turn_chat_is_one_upstream_conversation(make_server, fake):
    srv = make_server()
    client = openai_client(srv)
    messages = [{"role": "system", "content": "Answer briefly."}]
    for turn in range(10):
        messages.append({"role": "user", "content": f"turn {turn}"})
        content, usage = ask(client, messages, stream=turn % 2 == 1)       # streamed and not, alike
        assert content == f"turn {turn}"
        messages.append({"role": "assistant", "content": content})
    posts = conversations(fake)
    assert len(posts) == 10
    first = posts[0].json
    assert "conversation_id" not in first and texts(posts[0]) == [("system", "Answer briefly."), ("user", "turn 0")]
    conversation_id = posts[1].json["conversation_id"]
    document = fake.conversations[conversation_id].final
    for turn, post in enumerate(posts[1:], start=1):
        # each later POST carries only its turn, after the answer before it
        assert post.json["conversation_id"] == conversation_id
        assert texts(post) == [("user", f"turn {turn}")]
        parent = document["mapping"][post.json["parent_message_id"]]["message"]
        assert parent["author"]["role"] == "assistant" and parent["content"]["parts"] == [f"turn {turn - 1}"]
    # the model was given the whole chat
    assert model_texts(fake, posts[-1]) == [("system", "Answer briefly.")] + [
        (role, f"turn {n}") for n in range(10) for role in ("user", "assistant")][:-1]
    # Usage is what the client sent, as a fresh request counts it (a server without continuity agrees).
    off = make_server(continuity={"enabled": False})
    _, fresh = ask(openai_client(off), messages[:-1])
    assert usage.prompt_tokens == fresh.prompt_tokens > 60
    assert len(texts(conversations(fake)[-1])) == 20          # that one went up whole


def test_edits_keys_and_system_prompts_decide_what_goes_on(make_server, fake):
    srv = make_server()
    client = openai_client(srv)
    history = [{"role": "user", "content": "one"}]
    history.append({"role": "assistant", "content": ask(client, history)[0]})
    history.append({"role": "user", "content": "two"})
    history.append({"role": "assistant", "content": ask(client, history)[0]})
    first, second = conversations(fake)
    conversation_id = second.json["conversation_id"]
    # An edited earlier turn: a fresh conversation with the whole history.
    edited = [{"role": "user", "content": "ONE"}, *history[1:], {"role": "user", "content": "three"}]
    assert ask(client, edited)[0] == "three"
    post = conversations(fake)[-1]
    assert "conversation_id" not in post.json and [t for _, t in texts(post)] == ["ONE", "one", "two", "two", "three"]
    # Another system prompt: fresh too.
    assert ask(client, [{"role": "system", "content": "New rules."}, *history, {"role": "user", "content": "x"}])[0]
    assert "conversation_id" not in conversations(fake)[-1].json
    # Another key (another account): its own conversation, never this one.
    other = openai_client(srv, make_jwt(sub="user-other"))
    assert ask(other, [*history, {"role": "user", "content": "three"}])[0] == "three"
    post = conversations(fake)[-1]
    assert "conversation_id" not in post.json and post.headers["authorization"] != f"Bearer {ACCESS_TOKEN}"
    # The same history on the first key goes on in its conversation; a different last message is a sibling
    # branch from the same parent (the doc's edit of the latest turn).
    ask(client, [*history, {"role": "user", "content": "three"}])
    ask(client, [*history, {"role": "user", "content": "three, edited"}])
    branch, sibling = conversations(fake)[-2:]
    assert branch.json["conversation_id"] == sibling.json["conversation_id"] == conversation_id
    assert branch.json["parent_message_id"] == sibling.json["parent_message_id"]
    assert texts(sibling) == [("user", "three, edited")]


def test_two_keys_are_two_conversations(make_server, fake):
    srv = make_server()
    keys = [ACCESS_TOKEN, make_jwt(sub="user-b")]
    histories = {key: [{"role": "user", "content": "hello"}] for key in keys}
    for turn in range(3):
        for key in keys:
            history = histories[key]
            history.append({"role": "assistant", "content": ask(openai_client(srv, key), history)[0]})
            history.append({"role": "user", "content": f"next {turn}"})
    by_key: dict[str, set] = {}
    for post in conversations(fake):
        by_key.setdefault(post.headers["authorization"], set()).add(post.json.get("conversation_id"))
    assert len(by_key) == 2
    ids = [ids - {None} for ids in by_key.values()]
    assert all(len(i) == 1 for i in ids) and ids[0] != ids[1]      # one conversation per key, continued


@pytest.mark.parametrize("lost", ["deleted", "unknown parent", "parent 400", "parent 422"])
def test_a_conversation_the_upstream_cannot_continue_is_asked_again_whole(make_server, fake, lost):
    srv = make_server()
    client = openai_client(srv)
    history = [{"role": "user", "content": "one"}]
    history.append({"role": "assistant", "content": ask(client, history)[0]})
    history.append({"role": "user", "content": "two"})
    (first,) = conversations(fake)
    conversation_id = next(iter(fake.conversations))
    if lost == "deleted":
        del fake.conversations[conversation_id]
    else:
        node = current_node(fake, conversation_id)            # the answer our session points at goes
        del fake.conversations[conversation_id].final["mapping"][node]
        fake.parent_error = {"unknown parent": fake.parent_error, "parent 400": (400, {"detail": "Bad parent"}),
                             "parent 422": (422, {"detail": "Invalid conversation body"})}[lost]
    assert ask(client, history)[0] == "two"                   # the client sees no error
    continued, fresh = conversations(fake)[1:]
    assert continued.json["conversation_id"] == conversation_id and texts(continued) == [("user", "two")]
    assert "conversation_id" not in fresh.json and [t for _, t in texts(fresh)] == ["one", "one", "two"]
    # The next turn goes on in the new conversation.
    history += [{"role": "assistant", "content": "two"}, {"role": "user", "content": "three"}]
    assert ask(client, history, stream=True)[0] == "three"
    new_id = conversations(fake)[-1].json["conversation_id"]
    assert new_id != conversation_id and texts(conversations(fake)[-1]) == [("user", "three")]


@pytest.mark.parametrize("ending", ["!max_tokens", "!moderation", "!error_midstream"])
def test_a_cut_blocked_or_failed_answer_is_not_kept(make_server, fake, ending):
    srv = make_server()
    client = openai_client(srv)
    history = [{"role": "user", "content": f"{ending}\nSome words of an answer that ends badly."}]
    content = []
    try:
        for chunk in client.chat.completions.create(model="gpt-4o", messages=history, stream=True):
            content.append(chunk.choices[0].delta.content or "" if chunk.choices else "")
    except openai.APIError:
        assert ending == "!error_midstream"
    history += [{"role": "assistant", "content": "".join(content)}, {"role": "user", "content": "and then?"}]
    assert ask(client, history)[0] == "and then?"
    assert "conversation_id" not in conversations(fake)[-1].json and len(texts(conversations(fake)[-1])) == 3
    # a whole answer on the same server is kept (the contrast)
    good = [{"role": "user", "content": "Some words of an answer that ends well."}]
    good += [{"role": "assistant", "content": ask(client, good)[0]}, {"role": "user", "content": "and then?"}]
    ask(client, good)
    assert conversations(fake)[-1].json.get("conversation_id")


def test_a_changed_tool_catalog_starts_afresh_and_continuity_off_sends_everything(make_server, fake):
    srv = make_server()
    client = openai_client(srv)
    history = [{"role": "user", "content": "hi"}]
    history += [{"role": "assistant", "content": ask(client, history, tools=[WEATHER])[0]},
                {"role": "user", "content": "and?"}]
    ask(client, history, tools=[WEATHER, TIME])
    assert "conversation_id" not in conversations(fake)[-1].json
    ask(client, history, tools=[WEATHER])          # the catalog of the first turn: that conversation goes on
    assert conversations(fake)[-1].json.get("conversation_id")
    off = make_server(continuity={"enabled": False})
    history = [{"role": "user", "content": "hi"}]
    history += [{"role": "assistant", "content": ask(openai_client(off), history)[0]}, {"role": "user", "content": "x"}]
    ask(openai_client(off), history)
    assert "conversation_id" not in conversations(fake)[-1].json and len(texts(conversations(fake)[-1])) == 3


# ------------------------------------------------------------------ agent loops

def tool_loop_posts(fake, count):
    posts = conversations(fake)
    assert len(posts) == count, [texts(p) for p in posts]
    nonce = next(found.group(1) for role, text in texts(posts[0]) if role == "system" and (found := NONCE.search(text)))
    conversation_id = posts[1].json["conversation_id"]
    for post in posts[1:]:
        # only the new turn (the results, rendered with the nonce the conversation was taught)
        assert post.json["conversation_id"] == conversation_id and [r for r, _ in texts(post)] == ["user"]
        assert not any(r == "system" for r, _ in texts(post))
    return posts, nonce


def test_langchain_tool_loop_is_one_conversation(make_server, fake):
    langchain_openai = pytest.importorskip("langchain_openai")
    from langchain_core.messages import HumanMessage, ToolMessage

    srv = make_server()
    model = langchain_openai.ChatOpenAI(model="gpt-4o", base_url=srv.url + "/v1", api_key=ACCESS_TOKEN,
                                        max_retries=0, timeout=30)

    def get_weather(city: str) -> str:
        """Current weather in a city."""
        return f"sunny in {city}"

    bound = model.bind_tools([get_weather])
    messages = [HumanMessage('Let me see.\n!call get_weather {"city": "Paris"}')]
    for _ in range(3):
        reply = bound.invoke(messages)
        messages.append(reply)
        if not reply.tool_calls:
            break
        for call in reply.tool_calls:
            messages.append(ToolMessage(get_weather(**call["args"]), tool_call_id=call["id"]))
    assert messages[-1].content == "Result: sunny in Paris"
    messages.append(HumanMessage("Thanks!"))
    assert bound.invoke(messages).content == "Thanks!"
    posts, nonce = tool_loop_posts(fake, 3)
    assert RESULT.search(texts(posts[1])[0][1]).group(1) == nonce and "sunny in Paris" in texts(posts[1])[0][1]
    assert texts(posts[2]) == [("user", "Thanks!")]


def test_agents_sdk_run_is_one_conversation(make_server, fake):
    from agents import Agent, Runner, function_tool, set_default_openai_client, set_tracing_disabled
    from openai import AsyncOpenAI

    set_tracing_disabled(True)
    srv = make_server()

    @function_tool
    def get_weather(city: str) -> str:
        """Current weather in a city."""
        return f"sunny in {city}"

    set_default_openai_client(AsyncOpenAI(base_url=srv.url + "/v1", api_key=ACCESS_TOKEN, max_retries=0))
    agent = Agent(name="weather", instructions="Answer weather questions.", tools=[get_weather], model="gpt-4o")
    result = Runner.run_sync(agent, 'Let me check.\n!call get_weather {"city": "Paris"}')
    assert result.final_output == "Result: sunny in Paris"
    posts, nonce = tool_loop_posts(fake, 2)
    assert RESULT.search(texts(posts[1])[0][1]).group(1) == nonce
    assert model_texts(fake, posts[1])[0] == ("system", "Answer weather questions.")


def test_responses_replays_and_previous_response_ids_continue_alike(make_server, fake):
    """Codex replays its whole input with store false; others chain by previous_response_id."""
    srv = make_server()
    client = openai_client(srv)
    first = client.responses.create(model="gpt-4o", instructions="Be brief.", input="one", store=False)
    client.responses.create(model="gpt-4o", instructions="Be brief.", store=False, input=[
        {"role": "user", "content": "one"}, *[i.model_dump(exclude_none=True) for i in first.output],
        {"role": "user", "content": "two"}])
    kept = client.responses.create(model="gpt-4o", input="uno")
    client.responses.create(model="gpt-4o", input="dos", previous_response_id=kept.id)
    one, two, uno, dos = conversations(fake)
    assert texts(two) == [("user", "two")] and two.json["conversation_id"]
    assert two.json["history_and_training_disabled"] is False     # gpt-4o may draw: kept, hidden later
    assert texts(dos) == [("user", "dos")] and dos.json["conversation_id"] != two.json["conversation_id"]


def test_anthropic_sdk_tool_loop_is_one_conversation(make_server, fake):
    srv = make_server()
    sdk = anthropic.Anthropic(base_url=srv.url, api_key=ACCESS_TOKEN, max_retries=0, timeout=30)
    tools = [{"name": "get_weather", "description": "Weather in a city", "input_schema": {
        "type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}]
    messages = [{"role": "user", "content": 'Let me check.\n!call get_weather {"city": "Paris"}'}]
    first = sdk.messages.create(model="claude-sonnet-4-6", max_tokens=1024, tools=tools, messages=messages,
                                   system="You help with weather.")
    call = next(b for b in first.content if b.type == "tool_use")
    messages += [{"role": "assistant", "content": [b.model_dump(exclude_none=True) for b in first.content]},
                 {"role": "user", "content": [{"type": "tool_result", "tool_use_id": call.id, "content": "sunny"}]}]
    with sdk.messages.stream(model="claude-sonnet-4-6", max_tokens=1024, tools=tools, messages=messages,
                                system="You help with weather.") as stream:
        final = stream.get_final_message()
    assert final.content[0].text == "Result: sunny" and final.usage.input_tokens > first.usage.input_tokens
    posts, nonce = tool_loop_posts(fake, 2)
    assert RESULT.search(texts(posts[1])[0][1]).group(1) == nonce


def test_claude_code_tool_loop_is_one_conversation(claude, fake):  # noqa: F811 (the fixture imported above)
    """Claude Code itself (headless, offline; tests/test_messages_clients_e2e.py): its Read loop goes on in
    the conversation of its first turn."""
    secret = claude.work / "notes.txt"
    secret.write_text("continuity-4242\n")
    result = claude("!call Read " + json.dumps({"file_path": str(secret)}))
    assert (result["subtype"], result["num_turns"]) == ("success", 2) and "continuity-4242" in result["result"]
    posts, nonce = tool_loop_posts(fake, 2)
    assert "continuity-4242" in texts(posts[1])[0][1] and "continuity-4242" not in json.dumps(posts[0].json)
    assert re.search(rf'⟦result {nonce} name="Read" id="toolu_', texts(posts[1])[0][1])


# ------------------------------------------------------------------ big inputs

def test_a_300_kb_tool_output_goes_up_as_an_attachment(make_server, fake):
    srv = make_server()
    client = openai_client(srv)
    messages = [{"role": "user", "content": '!call get_weather {"city": "Paris"}'}]
    first = client.chat.completions.create(model="gpt-4o", messages=messages, tools=[WEATHER]).choices[0].message
    [call] = first.tool_calls
    output = "forecast\n!pieces 100000\n" + "\n".join(f"line {n}: sunny, 21°C, light wind" for n in range(10_000))
    assert len(output.encode()) > 300_000
    messages += [first.model_dump(exclude_none=True), {"role": "tool", "tool_call_id": call.id, "content": output}]
    result = client.chat.completions.create(model="gpt-4o", messages=messages, tools=[WEATHER])
    # the model read the attachment as the message: the fake answers the result block's content
    assert result.choices[0].message.content == "Result: forecast\n" + output.split("\n", 2)[2]
    assert result.usage.prompt_tokens > 60_000                   # the whole output counts, as sent by the client
    post = conversations(fake)[-1]
    [pasted] = post.json["messages"]
    assert pasted["content"]["parts"] == [""] and post.json["conversation_id"]
    [attachment] = pasted["metadata"]["attachments"]
    assert attachment["is_big_paste"] is True and attachment["name"] == "Pasted text.txt"
    assert attachment["source"] == "local" and attachment["non_library_my_files_injest_upload"] is True
    upload = fake.uploads[attachment["id"]]
    assert upload["use_case"] == "my_files" and upload["selection_method"] == "generated_big_paste"
    assert upload["file_size"] == attachment["size"] == len(upload["bytes"]) and upload["mime_type"] == "text/plain"
    text = upload["bytes"].decode()
    assert RESULT.search(text) and output in text                # the rendered result message, whole
    assert len(post.body) < 5_000                                # what went up: the turn, without the output


def test_a_long_message_sent_whole_again_reuses_its_upload(make_server, fake):
    srv = make_server(continuity={"enabled": False})
    client = openai_client(srv)
    long = [{"role": "user", "content": "!pieces 100000\n" + "pasted words " * 4000}]

    def creates():
        return [r for r in fake.requests if r.method == "POST" and r.path == "/backend-api/files"]

    assert ask(client, long)[0] == ask(client, long)[0] == "pasted words " * 4000
    assert len(creates()) == 1 and creates()[0].json["file_name"] == "Pasted text.txt"
    first, second = conversations(fake)
    assert first.json["messages"][0]["metadata"]["attachments"] == second.json["messages"][0]["metadata"]["attachments"]


def test_a_message_still_too_long_is_context_length_exceeded(make_server, fake):
    srv = make_server(continuity={"big_paste_bytes": 0})         # no big pastes: the upstream's limit applies
    client = openai_client(srv)
    history = [{"role": "user", "content": "hi"}]
    history += [{"role": "assistant", "content": ask(client, history)[0]},
                {"role": "user", "content": "x" * 2000}]
    fake.message_limit = 1000
    with pytest.raises(openai.BadRequestError) as info:
        ask(client, history)
    assert info.value.body["code"] == "context_length_exceeded"
    assert len(conversations(fake)) == 2            # the continued turn's 413 is not asked again whole
    sdk = anthropic.Anthropic(base_url=srv.url, api_key=ACCESS_TOKEN, max_retries=0, timeout=30)
    turn = [{"role": "user", "content": "hey"}]
    turn += [{"role": "assistant", "content": sdk.messages.create(model="claude-sonnet-4-6", max_tokens=100,
                                                                      messages=turn).content[0].text},
             {"role": "user", "content": "y" * 2000}]
    with pytest.raises(anthropic.BadRequestError) as info:
        sdk.messages.create(model="claude-sonnet-4-6", max_tokens=100, messages=turn)
    assert "prompt is too long" in str(info.value)
    assert conversations(fake)[-1].json["conversation_id"]


# ------------------------------------------------------------------ hiding, temporary chats, polling

def test_with_hiding_a_session_is_hidden_when_it_ends(make_server, fake):
    srv = make_server(need_delete_conversation_after_response=True, continuity={"ttl": 1})
    client = openai_client(srv)
    history = [{"role": "user", "content": "one"}]
    for turn in ("two", "three"):
        history += [{"role": "assistant", "content": ask(client, history)[0]}, {"role": "user", "content": turn}]
    ask(client, history, stream=True)
    conversation_id = conversations(fake)[-1].json["conversation_id"]
    assert {p.json.get("conversation_id") for p in conversations(fake)[1:]} == {conversation_id}
    assert not hides(fake)                                      # not after each turn
    patch = fake.wait_for(lambda r: r.method == "PATCH", timeout=6)
    assert patch.path.endswith(conversation_id) and patch.json == {"is_visible": False}
    assert patch.headers["authorization"] == f"Bearer {ACCESS_TOKEN}"
    time.sleep(1.5)
    assert len(hides(fake)) == 1                                # once
    # The session is over: the same history starts afresh.
    history += [{"role": "assistant", "content": "three"}, {"role": "user", "content": "four"}]
    ask(client, history)
    assert "conversation_id" not in conversations(fake)[-1].json
    # An answer the client left early is no session: hidden at once.
    stream = client.chat.completions.create(model="gpt-4o", stream=True, messages=[
        {"role": "user", "content": "!delay 0.05\n!pieces 1\n" + "z" * 200}])
    next(iter(stream))
    stream.close()
    fake.wait_for(lambda r: r.method == "PATCH" and r.json == {"is_visible": False} and r is not patch
                  and r.path.endswith(list(fake.conversations)[-1]), timeout=0.9)
    assert ACCESS_TOKEN not in srv.log()                       # kept for the PATCH, never logged


def test_a_temporary_turn_is_neither_continued_nor_kept(make_server, fake):
    srv = make_server()
    client = openai_client(srv)
    first = client.responses.create(model="text-only", input="one", store=False)     # a temporary chat
    client.responses.create(model="text-only", store=False, input=[
        {"role": "user", "content": "one"}, *[i.model_dump(exclude_none=True) for i in first.output],
        {"role": "user", "content": "two"}])
    one, two = conversations(fake)
    assert one.json["history_and_training_disabled"] is True and two.json["history_and_training_disabled"] is True
    assert "conversation_id" not in two.json and len(texts(two)) == 3
    from pandora_v1.runtime.store import SQLiteStore

    store = SQLiteStore(srv.directory / "data" / "store.sqlite3")
    assert store.keys("session") == []                          # nothing kept for them
    client.responses.create(model="text-only", input="kept", store=True)
    assert len(store.keys("session:")) == 1                     # (the same model with history on is)
    store.close()


def test_a_continued_turn_polls_only_its_own_messages(make_server, fake):
    srv = make_server(async_poll_seconds=0.2, async_wait_seconds=3)
    client = openai_client(srv)
    history = [{"role": "user", "content": "An earlier answer."}]
    history += [{"role": "assistant", "content": ask(client, history)[0]},
                {"role": "user", "content": "!handoff\nFrom the document."}]
    fake.resume_status = 404                # the document it is: the whole conversation, earlier turns too
    content, _ = ask(client, history)
    assert content == "From the document." and conversations(fake)[-1].json["conversation_id"]
    document = fake.conversations[conversations(fake)[-1].json["conversation_id"]].final
    assert any(m and m["message"] and m["message"]["content"].get("parts") == ["An earlier answer."]
               for m in document["mapping"].values())


@pytest.mark.parametrize("mode", ["prefix", "messages"])
def test_earlier_turns_echoed_into_a_continued_turn_are_not_its_answer(make_server, fake, mode):
    srv = make_server()
    client = openai_client(srv)
    history = [{"role": "user", "content": "!today\nAn earlier answer."}]
    history += [{"role": "assistant", "content": ask(client, history)[0]},
                {"role": "user", "content": f"!echo_history {mode}\nThe new answer."}]
    assert ask(client, history, stream=mode == "prefix")[0] == "The new answer."
    assert conversations(fake)[-1].json["conversation_id"]


# ------------------------------------------------------------------ two instances

def test_two_instances_on_one_redis_continue_each_others_conversations(make_server, fake, redis_db):
    servers = [make_server(env={"REDIS_URL": redis_db.url}) for _ in range(2)]
    history = [{"role": "user", "content": "turn 0"}]
    for turn in range(1, 5):
        content, _ = ask(openai_client(servers[turn % 2]), history)
        history += [{"role": "assistant", "content": content}, {"role": "user", "content": f"turn {turn}"}]
    posts = conversations(fake)
    assert [texts(p) for p in posts[1:]] == [[("user", f"turn {n}")] for n in (1, 2, 3)]
    assert len({p.json["conversation_id"] for p in posts[1:]}) == 1
    keys = redis_db.client().keys("pandora_v1:session:*")
    assert len(keys) == 4 and all(re.fullmatch(r"pandora_v1:session:[0-9a-f]{64}", k) for k in keys)
    values = json.dumps([redis_db.client().get(k) for k in keys])
    assert "turn" not in values                                 # ids and the nonce, no message text
