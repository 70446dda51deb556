"""A client that leaves while the upstream is silent: the upstream connection is
closed and the answer cleaned up within 1 s, streamed or not, long before a keep-alive or the
read timeout would notice."""
from __future__ import annotations

import json
import socket
import time

import pytest

from tests.conftest import ACCESS_TOKEN


def send_chat(srv, prompt: str, stream: bool) -> socket.socket:
    body = json.dumps({"model": "gpt-4o", "stream": stream,
                       "messages": [{"role": "user", "content": prompt}]}).encode()
    sock = socket.create_connection(("127.0.0.1", srv.port), timeout=10)
    sock.sendall(b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                 b"Authorization: Bearer " + ACCESS_TOKEN.encode() + b"\r\n"
                 b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body)
    return sock


@pytest.mark.parametrize("stream", [True, False])
@pytest.mark.parametrize("where", ["before the first event", "mid-answer"])
def test_leaving_during_a_silent_upstream_closes_it_within_1s(make_server, fake, stream, where):
    srv = make_server(keepalive_interval=5, upstream_timeout={"read": 120},
                      need_delete_conversation_after_response=True)
    stall = "!stall_first 30" if where == "before the first event" else "!stall_mid 30"
    sock = send_chat(srv, f"{stall}\nThinking hard about this one.", stream)
    conversation = fake.wait_for(lambda r: r.path.endswith("/backend-api/conversation"))
    if stream:
        assert sock.recv(65536).startswith(b"HTTP/1.1 200")    # the stream is open
    time.sleep(0.5)                                             # the upstream is silent now
    left_at = time.monotonic()
    sock.close()
    fake.wait_for(lambda r: r is conversation and r.stream_outcome is not None, timeout=5)
    assert conversation.stream_outcome == "client_gone"
    assert conversation.ended_at - left_at < 1.0, f"noticed after {conversation.ended_at - left_at:.2f} s"
    if where == "mid-answer":   # the clean-up ran: the conversation (its id known by then) is hidden
        fake.wait_for(lambda r: r.method == "PATCH", timeout=2)
    # The worker is still well: it serves the next request.
    import requests
    assert requests.get(srv.url + "/healthz", timeout=5).ok


def test_a_client_that_only_stops_sending_still_gets_the_whole_stream(make_server, fake):
    """EOF from a client that shut down only its sending side is no departure: keep-alives
    go out (SSE comments) and the answer arrives whole."""
    srv = make_server(keepalive_interval=5)
    sock = send_chat(srv, "!stall_mid 1\none two three four", stream=True)
    sock.shutdown(socket.SHUT_WR)
    data = b""
    while chunk := sock.recv(65536):
        data += chunk
        if b"data: [DONE]" in data:
            break
    sock.close()
    assert b"data: [DONE]" in data and b'"finish_reason":"stop"' in data and b'"error"' not in data
    assert b": keep-alive" in data                          # the probes: harmless comments
    assert streamed_text(data).endswith("one two three four")   # the text past the stall too


def streamed_text(raw: bytes) -> str:
    """The content of a raw chunked SSE response, joined: the deltas may arrive in any number
    of chunks, split anywhere."""
    body, rest = b"", raw.partition(b"\r\n\r\n")[2]
    while rest:
        size, _, rest = rest.partition(b"\r\n")
        if not (n := int(size, 16)):
            break
        body, rest = body + rest[:n], rest[n + 2:]
    events = [e[6:] for e in body.split(b"\n\n") if e.startswith(b"data: {")]
    return "".join(json.loads(e)["choices"][0]["delta"].get("content") or "" for e in events)


TOOLS = [{"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object"}}}]


def send_raw(srv, path: str, body: dict) -> socket.socket:
    data = json.dumps(body).encode()
    sock = socket.create_connection(("127.0.0.1", srv.port), timeout=10)
    sock.sendall(f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n".encode()
                 + b"Authorization: Bearer " + ACCESS_TOKEN.encode() + b"\r\n"
                 + b"Content-Length: " + str(len(data)).encode() + b"\r\n\r\n" + data)
    return sock


@pytest.mark.parametrize("stream", [True, False])
@pytest.mark.parametrize("route", ["chat with tools", "responses"])
def test_the_tools_engine_and_responses_notice_a_departed_client_too(make_server, fake, stream, route):
    srv = make_server(keepalive_interval=5, upstream_timeout={"read": 120})
    prompt = "!stall_first 30\nThinking hard about this one."
    if route == "responses":
        sock = send_raw(srv, "/v1/responses", {"model": "gpt-4o", "stream": stream, "input": prompt})
    else:
        sock = send_raw(srv, "/v1/chat/completions", {"model": "gpt-4o", "stream": stream, "tools": TOOLS,
                                                      "messages": [{"role": "user", "content": prompt}]})
    conversation = fake.wait_for(lambda r: r.path.endswith("/backend-api/conversation"))
    time.sleep(0.5)
    left_at = time.monotonic()
    sock.close()
    fake.wait_for(lambda r: r is conversation and r.stream_outcome is not None, timeout=5)
    assert conversation.stream_outcome == "client_gone"
    assert conversation.ended_at - left_at < 1.0, f"noticed after {conversation.ended_at - left_at:.2f} s"


@pytest.mark.parametrize("stream", [True, False])
def test_a_handed_off_answer_keeps_watching_the_client_on_its_resume_stream(make_server, fake, stream):
    srv = make_server(keepalive_interval=5, upstream_timeout={"read": 120})
    sock = send_chat(srv, "!handoff\n!stall_mid 30\nA long answer after a hand-off.", stream)
    resume = fake.wait_for(lambda r: r.path.endswith("/backend-api/f/conversation/resume"), timeout=10)
    time.sleep(0.5)                                             # the resume stream is silent now
    left_at = time.monotonic()
    sock.close()
    fake.wait_for(lambda r: r is resume and r.stream_outcome is not None, timeout=5)
    assert resume.stream_outcome == "client_gone"
    assert resume.ended_at - left_at < 1.0, f"noticed after {resume.ended_at - left_at:.2f} s"


def test_a_client_leaving_while_an_image_is_polled_stops_the_polling(make_server, fake):
    srv = make_server(keepalive_interval=5, async_wait_seconds=60, async_poll_seconds=0.3)
    sock = send_chat(srv, "!image_async\n!polls 1000\nDraw a lighthouse.", stream=False)
    fake.wait_for(lambda r: r.method == "GET" and "/backend-api/conversation/" in r.path, timeout=10)
    sock.close()
    time.sleep(1.5)
    polls = len([r for r in fake.requests if r.method == "GET" and "/backend-api/conversation/" in r.path])
    time.sleep(1.5)
    later = len([r for r in fake.requests if r.method == "GET" and "/backend-api/conversation/" in r.path])
    assert later == polls, f"still polling after the client left ({polls} -> {later})"


@pytest.mark.parametrize("stream", [True, False])
def test_a_client_leaving_the_images_api_ends_every_turn(make_server, fake, stream):
    """n = 2: two upstream turns, each watching the client; both end when it leaves."""
    srv = make_server(keepalive_interval=5, upstream_timeout={"read": 120})
    sock = send_raw(srv, "/v1/images/generations", {"model": "gpt-image-1", "n": 2, "stream": stream,
                                                    "prompt": "!picture\n!stall_first 30\nA slow lighthouse"})
    fake.wait_for(lambda r: len([c for c in fake.requests if c.path.endswith("/backend-api/conversation")]) == 2)
    turns = [r for r in fake.requests if r.path.endswith("/backend-api/conversation")]
    time.sleep(0.5)
    sock.close()
    for turn in turns:
        fake.wait_for(lambda r, turn=turn: r is turn and r.stream_outcome is not None, timeout=10)
        assert turn.stream_outcome == "client_gone"
    import requests
    assert requests.get(srv.url + "/healthz", timeout=5).ok
    assert "Traceback" not in srv.log()
