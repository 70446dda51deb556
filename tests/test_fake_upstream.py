"""The fake upstream itself: its streams must follow the protocol contract,
or the end-to-end tests built on it prove nothing."""
from __future__ import annotations

import copy
import http.client
import json
import re
import socket
import subprocess
import sys
import time
from contextlib import closing
from pathlib import Path

import pytest

from tests.fake_upstream import answer_text, lorem, mint_jwt

TOKEN = mint_jwt("user-test", 3600)   # /backend-api wants a JWT, as real upstreams do
UUID = re.compile(rb"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
TEXT = "Grüße, 世界! 🎉 Ünïcödé — ok."


def conversation_body(prompt: str, v1: bool = True) -> dict:
    body = {"action": "next", "model": "gpt-4o", "parent_message_id": "p-1",
            "messages": [{"id": "u-1", "author": {"role": "user"},
                          "content": {"content_type": "text", "parts": [prompt]}, "metadata": {}}]}
    if v1:
        body["supported_encodings"] = ["v1"]
    return body


def request(fake, method, path, body=None, token=TOKEN):
    host, port = fake.url[len("http://"):].split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=5)
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    conn.request(method, path, body=None if body is None else json.dumps(body), headers=headers)
    return conn, conn.getresponse()


def converse(fake, prompt, v1=True, path="/backend-api/conversation"):
    conn, response = request(fake, "POST", path, conversation_body(prompt, v1))
    with closing(conn):
        return response.status, response, response.read()


def raw_post(fake, prompt) -> tuple[bytes, list[bytes], bool]:
    """POST over a bare socket: the head, every HTTP chunk as framed, whether the zero chunk came."""
    host, port = fake.url[len("http://"):].split(":")
    body = json.dumps(conversation_body(prompt)).encode()
    with socket.create_connection((host, int(port)), timeout=5) as sock:
        sock.sendall(b"POST /backend-api/conversation HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
                     b"Authorization: Bearer %s\r\nContent-Length: %d\r\n\r\n%s" % (TOKEN.encode(), len(body), body))
        data = b""
        try:
            while block := sock.recv(65536):
                data += block
        except ConnectionResetError:
            pass
    head, _, rest = data.partition(b"\r\n\r\n")
    chunks = []
    while rest:
        size_line, _, rest = rest.partition(b"\r\n")
        size = int(size_line, 16)
        if size == 0:
            return head, chunks, True
        chunks.append(rest[:size])
        rest = rest[size + 2:]
    return head, chunks, False


def sse_events(raw: bytes) -> list[tuple[str | None, str]]:
    """(event name, data) per SSE event, comments and blank events dropped."""
    events = []
    for block in raw.decode().replace("\r\n", "\n").split("\n\n"):
        name, data = None, []
        for line in block.split("\n"):
            if line.startswith("event: "):
                name = line[7:]
            elif line.startswith("data: "):
                data.append(line[6:])
        if data:
            events.append((name, "\n".join(data)))
    return events


def apply(root, path, op, value):
    if op == "patch":
        for inner in value:
            root = apply(root, inner["p"], inner["o"], inner["v"])
        return root
    if path == "":
        return copy.deepcopy(value)
    *parents, key = path.split("/")[1:]
    target = root
    for part in parents:
        target = target[int(part) if isinstance(target, list) else part]
    key = int(key) if isinstance(target, list) else key
    if op == "replace":
        target[key] = value
    elif isinstance(target[key], str):
        target[key] += value
    elif isinstance(target[key], list):
        target[key].append(value)
    else:
        target[key].update(value)
    return root


def snapshots(raw: bytes) -> list[dict]:
    """Message snapshots of either format, folding format B's deltas (as a client must)."""
    out, root, last = [], None, ("", "add")
    for name, data in sse_events(raw):
        if name == "ping" or data == "[DONE]":
            continue
        obj = json.loads(data)
        if name == "delta":
            last = (obj.get("p", last[0]), obj.get("o", last[1]))
            root = apply(root, *last, obj["v"])
            out.append(copy.deepcopy(root))
        elif isinstance(obj, dict) and "message" in obj and obj["message"]:
            out.append(obj)
    return out


def normalized(obj):
    """Ids and times differ between two requests; the rest must not."""
    text = json.dumps(obj, sort_keys=True).encode()
    return json.loads(re.sub(rb'"create_time": [0-9.e+]+', b'"create_time": 0', UUID.sub(b"<id>", text)))


def final_text(snaps: list[dict]) -> str:
    return snaps[-1]["message"]["content"]["parts"][0]


def test_format_a_stream(fake):
    status, response, raw = converse(fake, f"!format A\n{TEXT}")
    assert status == 200 and response.getheader("Content-Type").startswith("text/event-stream")
    assert response.getheader("Transfer-Encoding") == "chunked"
    events = sse_events(raw)
    assert events[-1] == (None, "[DONE]") and all(name is None for name, _ in events)
    snaps = snapshots(raw)
    assert snaps[0]["message"]["author"]["role"] == "user"
    assert snaps[0]["message"]["status"] == "finished_successfully"
    texts = [s["message"]["content"]["parts"][0] for s in snaps[1:]]
    assert all(b.startswith(a) for a, b in zip(texts, texts[1:], strict=False)) and texts[-1] == TEXT == answer_text(TEXT)
    assert all(s["message"]["status"] == "in_progress" and s["message"]["end_turn"] is None for s in snaps[1:-1])
    last = snaps[-1]["message"]
    assert (last["status"], last["end_turn"], last["recipient"]) == ("finished_successfully", True, "all")
    assert last["metadata"]["is_complete"] is True and last["metadata"]["model_slug"] == "gpt-4o"
    assert last["metadata"]["finish_details"] == {"type": "stop", "stop_tokens": [200002]}
    assert "\\u" not in raw.decode()   # UTF-8, not ASCII-escaped


def test_format_b_stream(fake):
    status, _, raw = converse(fake, TEXT)
    events = sse_events(raw)
    assert events[0] == ("delta_encoding", '"v1"')
    deltas = [json.loads(data) for name, data in events if name == "delta"]
    assert deltas[0]["o"] == "add" and deltas[0]["c"] == 0 and deltas[1]["c"] == 1
    assert deltas[2] == {"p": "/message/content/parts/0", "o": "append", "v": TEXT[:3]}
    assert deltas[3] == {"v": TEXT[3:6]}
    assert [op["p"] for op in deltas[-1]["v"]] == ["/message/content/parts/0", "/message/status",
                                                  "/message/end_turn", "/message/metadata"]
    assert json.loads(events[-2][1])["type"] == "message_stream_complete"
    assert events[-1] == (None, "[DONE]")
    assert final_text(snapshots(raw)) == TEXT


@pytest.mark.parametrize("prompt", ["hi", "!reasoning\nDone.", "!tool\nThe result is 2.", "!max_tokens\n!pieces 5\nab cd",
                                    "!moderation\nSome answer here", "!tokens 45", "!noise\n!model o1\nx"])
def test_both_formats_fold_to_the_same_snapshots(fake, prompt):
    a = snapshots(converse(fake, prompt, v1=False)[2])   # the format follows supported_encodings
    b = snapshots(converse(fake, prompt, v1=True)[2])
    assert normalized(a) == normalized(b)
    assert final_text(a) == answer_text(prompt)


def test_reasoning_and_tool_turns(fake):
    snaps = snapshots(converse(fake, "!reasoning\n!tool\nDone.")[2])
    kinds = []
    for snap in snaps:
        message = snap["message"]
        if not kinds or kinds[-1][0] != message["id"]:
            kinds.append((message["id"], message["author"]["role"], message["content"]["content_type"],
                          message["recipient"]))
    assert [k[1:] for k in kinds] == [("user", "text", "all"), ("assistant", "thoughts", "all"),
                                     ("assistant", "reasoning_recap", "all"), ("assistant", "code", "python"),
                                     ("tool", "execution_output", "all"), ("assistant", "text", "all")]
    by_id = {s["message"]["id"]: s["message"] for s in snaps}
    thoughts, recap, code, tool = (by_id[k[0]] for k in kinds[1:5])
    assert thoughts["content"]["thoughts"] == [{"summary": "Planning", "content": "I should greet the user."},
                                               {"summary": "Checking", "content": "Keep it short."}]
    assert thoughts["metadata"]["finished_text"] == "Thought for 3 seconds"
    assert recap["content"]["content"] == "Thought for 3 seconds"
    assert code["content"]["text"] == "print(1+1)" and code["status"] == "finished_successfully"
    assert tool["author"]["name"] == "python" and tool["content"]["text"] == "2"


def test_split_1_reassembles_to_the_same_bytes(fake):
    prompt = f"!crlf\n!ping\n!noise\n!pieces 2\n{TEXT}"
    _, whole, ended = raw_post(fake, prompt)
    head, pieces, split_ended = raw_post(fake, "!split 1\n" + prompt)
    assert ended and split_ended and b"Transfer-Encoding: chunked" in head
    assert {len(p) for p in pieces} == {1}
    strip = lambda raw: UUID.sub(b"<id>", re.sub(rb'"create_time":[0-9.e+]+', b"", raw)).replace(b"!split 1\\n", b"")
    assert strip(b"".join(pieces)) == strip(b"".join(whole))
    assert b"\r\n\r\n" in b"".join(pieces) and b"event: ping\r\ndata: 2024-01-01 12:00:00.123456" in b"".join(pieces)
    assert final_text(snapshots(b"".join(pieces))) == TEXT


def test_nodone_and_error_midstream(fake):
    events = sse_events(converse(fake, "!nodone\nabc")[2])
    assert "[DONE]" not in [d for _, d in events] and "message_stream_complete" not in str(events)
    prompt = "!error_midstream\n!format A\n" + "word " * 10
    raw = converse(fake, prompt)[2]
    errors = [json.loads(d) for _, d in sse_events(raw) if '"error":"Something' in d]
    assert errors == [{"message": None, "conversation_id": errors[0]["conversation_id"],
                       "error": "Something went wrong while generating the response."}]
    assert sse_events(raw)[-1][1] == "[DONE]"
    assert final_text(snapshots(raw)) == answer_text(prompt) == ("word " * 10)[:24]


def test_status_429_has_retry_after(fake):
    status, response, raw = converse(fake, "!status 429")
    assert status == 429 and response.getheader("Retry-After") == "42"
    assert json.loads(raw)["detail"]["code"] == "rate_limit_exceeded"


@pytest.mark.parametrize("code", [502, 503, 504])
def test_gateway_errors_are_proxy_html(fake, code):
    status, response, raw = converse(fake, f"!status {code}")
    assert status == code and response.getheader("Content-Type") == "text/html"
    assert f"<h1>{code} ".encode() in raw and b"nginx" in raw


def test_prefixes_are_recorded_and_prefix_status_answers(fake):
    fake.prefix_status["down"] = 503
    assert converse(fake, "hi", path="/down/backend-api/conversation")[0] == 503
    assert converse(fake, "hi", path="/up/backend-api/conversation")[0] == 200
    conn, response = request(fake, "GET", "/a/b/backend-api/models?x=1")
    with closing(conn):
        assert response.status == 200 and json.loads(response.read())["models"][0]["slug"] == "gpt-4o"
    assert [(r.prefix, r.path, r.query) for r in fake.requests] == [
        ("down", "/down/backend-api/conversation", {}), ("up", "/up/backend-api/conversation", {}),
        ("a/b", "/a/b/backend-api/models", {"x": "1"})]
    assert fake.requests[1].json["messages"][0]["content"]["parts"] == ["hi"]
    assert fake.requests[1].headers["authorization"] == f"Bearer {TOKEN}"


def test_patch_is_recorded_and_wait_for_finds_it(fake):
    conn, response = request(fake, "PATCH", "/backend-api/conversation/c-1", {"is_visible": False})
    with closing(conn):
        assert response.status == 200 and json.loads(response.read()) == {"success": True}
    record = fake.wait_for(lambda r: r.method == "PATCH", timeout=1)
    assert record.json == {"is_visible": False} and record.path == "/backend-api/conversation/c-1"
    with pytest.raises(AssertionError):
        fake.wait_for(lambda r: r.method == "DELETE", timeout=0.05)


@pytest.mark.parametrize("token, path, status, detail", [
    (None, "/backend-api/models", 401, "Unauthorized"),
    ("expired-token", "/backend-api/models", 401, "Your authentication token has expired."),
    (TOKEN, "/backend-api/nothing", 404, "Not Found"),
    (TOKEN, "/elsewhere", 404, "Not Found"),
])
def test_auth_and_unknown_routes(fake, token, path, status, detail):
    conn, response = request(fake, "GET", path, token=token)
    with closing(conn):
        assert (response.status, json.loads(response.read())) == (status, {"detail": detail})


def test_reset_drops_the_connection_mid_stream(fake):
    prompt = "!reset\n" + "word " * 10
    _, chunks, ended = raw_post(fake, prompt)
    assert not ended
    assert final_text(snapshots(b"".join(chunks))) == answer_text(prompt) == ("word " * 10)[:24]
    assert fake.wait_for(lambda r: r.stream_outcome).stream_outcome == "reset"


def test_client_gone_is_recorded(fake):
    conn, response = request(fake, "POST", "/backend-api/conversation",
                             conversation_body("!delay 0.01\n!pieces 1\n" + "x" * 300))
    response.read1(100)
    conn.close()
    record = fake.wait_for(lambda r: r.stream_outcome is not None, timeout=3)
    assert record.stream_outcome == "client_gone"


def test_stall_first_sends_headers_first(fake):
    conn, response = request(fake, "POST", "/backend-api/conversation", conversation_body("!stall_first 0.3"))
    started = time.monotonic()
    with closing(conn):
        assert response.status == 200
        response.read()
    assert time.monotonic() - started >= 0.25


def test_answer_text():
    assert answer_text("hi") == answer_text("!format A") == "Hello! How can I help you today?"
    assert answer_text("!pieces 2\n\n  line one\nline two\n\n") == "  line one\nline two"
    text = answer_text("!tokens 45")
    assert text == lorem(45) and len(text.split()) == 45 and text.count("\n") == 2
    assert answer_text("!moderation\nabcdefghi") == "abc"
    with pytest.raises(ValueError):
        answer_text("!nonsense")


def test_runs_as_a_process():
    process = subprocess.Popen([sys.executable, str(Path(__file__).with_name("fake_upstream.py")), "--port", "0"],
                               stdout=subprocess.PIPE, text=True)
    try:
        line = process.stdout.readline()
        assert line.startswith("ready http://127.0.0.1:")
        host, port = line.split()[1][len("http://"):].split(":")
        conn = http.client.HTTPConnection(host, int(port), timeout=5)
        conn.request("GET", "/backend-api/models", headers={"Authorization": f"Bearer {TOKEN}"})
        assert conn.getresponse().status == 200
        conn.close()
    finally:
        process.terminate()
        process.wait(timeout=5)


def form_post(fake, path, body: bytes, content_type="application/x-www-form-urlencoded"):
    host, port = fake.url[len("http://"):].split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=5)
    conn.request("POST", path, body=body, headers={"Content-Type": content_type})
    response = conn.getresponse()
    with closing(conn):
        return response.status, json.loads(response.read())


def claims(token: str) -> dict:
    import base64

    payload = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


def test_proxy_style_refresh_issues_a_jwt_the_api_accepts(fake):
    fake.require_issued = True
    fake.token_lifetime = 120
    status, answer = form_post(fake, "/some/prefix/api/auth/refresh", b"refresh_token=rt-abc")
    assert status == 200 and answer["expires_in"] == 120
    token = answer["access_token"]
    assert abs(claims(token)["exp"] - (time.time() + 120)) < 3
    assert [(e.style, e.refresh_token, e.status) for e in fake.exchanges] == [("proxy", "rt-abc", 200)]
    assert request(fake, "GET", "/backend-api/models", token=token)[1].status == 200
    # require_issued: a JWT the fake did not hand out is refused, like a non-JWT always is.
    for other in (TOKEN, "rt-abc"):
        conn, response = request(fake, "GET", "/backend-api/models", token=other)
        with closing(conn):
            assert response.status == 401


def test_oauth_style_refresh_checks_the_grant_and_rotates(fake):
    fake.rotate = True
    grant = {"grant_type": "refresh_token", "client_id": "fake-client-id", "refresh_token": "rt-1"}
    status, answer = form_post(fake, "/oauth/token", json.dumps(grant).encode(), "application/json")
    assert status == 200 and answer["refresh_token"].startswith("rt-rotated-")
    # The spent token is refused now, the rotated one works.
    assert form_post(fake, "/oauth/token", json.dumps(grant).encode(), "application/json")[0] == 400
    grant["refresh_token"] = answer["refresh_token"]
    assert form_post(fake, "/oauth/token", json.dumps(grant).encode(), "application/json")[0] == 200
    wrong_client = {**grant, "client_id": "other"}
    status, answer = form_post(fake, "/oauth/token", json.dumps(wrong_client).encode(), "application/json")
    assert (status, answer["error"]) == (400, "invalid_grant")
    assert [e.status for e in fake.exchanges] == [200, 400, 200, 400]


def test_token_endpoint_failure_and_delay_are_steerable(fake):
    fake.refresh_status = 401
    assert form_post(fake, "/api/auth/refresh", b"refresh_token=rt")[0] == 401
    fake.refresh_status, fake.refresh_delay = None, 0.2
    fake.revoked.add("rt-dead")
    assert form_post(fake, "/api/auth/refresh", b"refresh_token=rt-dead")[0] == 401
    started = time.monotonic()
    assert form_post(fake, "/api/auth/refresh", b"refresh_token=rt")[0] == 200
    assert time.monotonic() - started >= 0.2
    assert len(fake.good_exchanges()) == 1 and len(fake.issued) == 1


def test_gizmos_and_accounts(fake):
    fake.missing_gizmos.add("g-gone")
    fake.gizmo_names["g-abc"] = "Classic"
    conn, response = request(fake, "GET", "/backend-api/gizmos/g-abc")
    with closing(conn):
        body = json.loads(response.read())
    assert response.status == 200 and body["gizmo"]["id"] == "g-abc"
    assert body["gizmo"]["display"]["name"] == "Classic"
    for missing in ("g-gone", "not-a-gizmo"):
        conn, response = request(fake, "GET", f"/backend-api/gizmos/{missing}")
        with closing(conn):
            assert response.status == 404
    conn, response = request(fake, "GET", "/backend-api/accounts/check/v4-2023-04-27")
    with closing(conn):
        accounts = json.loads(response.read())["accounts"]
    plans = {k: v["account"]["plan_type"] for k, v in accounts.items() if k != "default"}
    assert sorted(plans.values()) == ["plus", "team"]


# ------------------------------------------------------------- function calling

def _payload(*messages):
    return {"messages": [{"author": {"role": role}, "content": {"content_type": "text", "parts": [text]}}
                         for role, text in messages]}


def test_agent_prompt_reads_the_nonce_and_expands_blocks():
    from tests.fake_upstream import agent_prompt

    system = ("system", "To call a function, write exactly this and nothing after it:\n⟦call ABCD2345⟧\n...")
    prompt = agent_prompt(_payload(system, ("user", "Checking.\n!pieces 1\n!call f {\"a\": 1}\n!then-text")))
    assert prompt == ('Checking.\n!pieces 1\n⟦call ABCD2345⟧\n{"name": "f", "arguments": {"a": 1}}\n'
                      '⟦/call ABCD2345⟧\nIt is 30°C and sunny in Paris (a made-up result).')
    assert agent_prompt(_payload(("user", "!call f {}"))) == \
        '⟦call XXXXXXXX⟧\n{"name": "f", "arguments": {}}\n⟦/call XXXXXXXX⟧'
    assert agent_prompt(_payload(("user", "!ascii\n!call-bad f {}"))) == \
        '[[call XXXXXXXX]]\n{name: "f", arguments: {}}\n[[/call XXXXXXXX]]'


def test_agent_prompt_answers_results_and_retries():
    from tests.fake_upstream import agent_prompt

    results = ('⟦result N name="f" id="call_1"⟧\n21C\n⟦/result N⟧\n⟦result N name="g" id="call_2"⟧\nnoon\n'
               '⟦/result N⟧\nUse these results to continue; call more functions or answer the user.')
    assert agent_prompt(_payload(("user", "x"), ("user", results))) == "Result: 21C | noon"
    first = ("user", "!call-bad f {}\n!on-retry\n!call f {}")
    assert agent_prompt(_payload(first)).startswith("⟦call XXXXXXXX⟧\n{name:")
    retry = _payload(first, ("assistant", "…"), ("user", "Your function call was invalid: x. Reply again"))
    assert agent_prompt(retry) == '⟦call XXXXXXXX⟧\n{"name": "f", "arguments": {}}\n⟦/call XXXXXXXX⟧'


# ------------------------------------------------------------ today's turns

def data_lines(body: bytes) -> list:
    """Each event's JSON (or the raw data), in order."""
    out = []
    for line in body.split(b"\n"):
        if line.startswith(b"data: "):
            data = line[len(b"data: "):]
            out.append(json.loads(data) if data not in (b"[DONE]",) else "[DONE]")
    return out


def test_today_frame_order_follows_the_capture(fake):
    status, _, body = converse(fake, "!today\n!pieces 2\n1\n2\n3\n4\n5\n")
    events = data_lines(body)
    assert status == 200 and events[0] == "v1"
    assert events[1]["type"] == "resume_conversation_token" and events[1]["token"].startswith("eyJ")
    assert events[2]["p"] == "" and events[2]["o"] == "add" and \
        events[2]["v"]["message"]["metadata"]["is_visually_hidden_from_conversation"] is True
    assert set(events[3]) == {"v", "c"} and events[3]["v"]["message"]["author"]["role"] == "user"   # p/o inherited
    assert set(events[4]) == {"c"}                                                             # a counter only
    kinds = [e.get("type") for e in events if isinstance(e, dict)]
    assert kinds.index("input_message") < kinds.index("message_marker")
    answer = next(i for i, e in enumerate(events) if isinstance(e, dict) and
                  ((e.get("v") or {}).get("message") or {}).get("channel") == "final")
    assert events[answer + 1]["marker"] == "final_channel_token"
    bare_patch = [e for e in events if isinstance(e, dict) and set(e) == {"v"} and isinstance(e["v"], list)]
    # a bare patch list whose last op appends text, then bare text that continues it
    assert bare_patch[0]["v"][-1] == {"p": "/message/content/parts/0", "o": "append", "v": "3\n"}
    assert events[events.index(bare_patch[0]) + 1] == {"v": "4\n"}
    assert kinds[-2:] == ["server_ste_metadata", "message_stream_complete"] and events[-1] == "[DONE]"
    assert "title_generation" in kinds and "last_token" in [e.get("marker") for e in events if isinstance(e, dict)]


def test_today_conversation_document(fake):
    cite = "\ue200cite\ue202turn0search3\ue201"
    _, _, body = converse(fake, f"!search\nOtters{cite}.")
    conversation_id = next(e["conversation_id"] for e in data_lines(body)
                           if isinstance(e, dict) and e.get("type") == "resume_conversation_token")
    conn, response = request(fake, "GET", f"/backend-api/conversation/{conversation_id}")
    with closing(conn):
        document = json.loads(response.read())
    final = document["mapping"][document["current_node"]]["message"]
    assert final["content"]["parts"] == [f"Otters{cite}."] and final["end_turn"] is True
    assert final["channel"] == "final" and final["status"] == "finished_successfully"
    reference = final["metadata"]["content_references"][0]
    assert reference["matched_text"] == cite and reference["items"][0]["url"] == "https://example.com/s/0search3"
    # every node's parent lists it as a child, from the root down
    for node_id, node in document["mapping"].items():
        if node["parent"]:
            assert node_id in document["mapping"][node["parent"]]["children"]
    conn, response = request(fake, "GET", "/backend-api/conversation/nope")
    with closing(conn):
        assert response.status == 404


# ------------------------------------------------------------- capabilities on request

def post_body(fake, body):
    conn, response = request(fake, "POST", "/backend-api/conversation", body)
    with closing(conn):
        return response.status, response.read()


@pytest.mark.parametrize("model, effort, status", [
    ("gpt-5-6-thinking", "max", 200), ("gpt-5-5-thinking", "extended", 200),
    ("gpt-5-5-thinking", "high", 422),          # OpenAI's word, not the upstream's
    ("gpt-5-5-thinking", "max", 422),           # not one this slug takes
    ("gpt-4o", "standard", 422),                # no reasoning mode: the whole body is refused
    ("o1", "standard", 422)])
def test_thinking_effort_is_checked_as_the_upstream_does(fake, model, effort, status):
    body = {**conversation_body("hi"), "model": model, "thinking_effort": effort}
    got, raw = post_body(fake, body)
    assert got == status
    if status == 422:
        assert json.loads(raw) == {"detail": "Invalid conversation body"}


def test_the_model_list_is_the_2026_shape(fake):
    conn, response = request(fake, "GET", "/backend-api/models?history_and_training_disabled=false")
    with closing(conn):
        listing = json.loads(response.read())
    assert listing["default_model_slug"] and listing["model_picker_version"] == 2
    by_slug = {m["slug"]: m for m in listing["models"]}
    assert [e["thinking_effort"] for e in by_slug["gpt-5-6-thinking"]["thinking_efforts"]] == \
        ["standard", "extended", "max"]
    assert by_slug["gpt-5-3-instant"]["reasoning_type"] == "none"
    assert listing["versions"][0]["intelligence_presets"][1]["thinking_effort"] == "standard"
    fake.models_status = 503
    assert request(fake, "GET", "/backend-api/models")[1].status == 503


@pytest.mark.parametrize("hints", [{"system_hints": ["search"]}, {"force_use_search": True},
                                   {"message": {"system_hints": ["search"]}}])
def test_a_search_hinted_turn_searches(fake, hints):
    body = conversation_body("Otters.")
    body["messages"][0]["metadata"].update(hints.pop("message", {}))
    status, raw = post_body(fake, {**body, **hints})
    assert status == 200 and b'"web.run"' in raw and b"search_result_groups" in raw
    assert b'"tool_invoked":true' in raw.replace(b" ", b"")
    plain = post_body(fake, conversation_body("!today\nOtters."))[1]
    assert b'"web.run"' not in plain


def test_todays_python_turn_prints_draws_and_stops_with_200012(fake):
    status, raw = post_body(fake, conversation_body("!python code_interpreter\nDone."))
    text = raw.decode()
    assert status == 200 and '"recipient":"code_interpreter"' in text
    assert "200012" in text and "execution_output" in text and "aggregate_result" in text
    assert "file-service://file-chart0002" in text and "PythonCaasCotTool" in text
    assert answer_text("!python\nDone.") == "Done."
