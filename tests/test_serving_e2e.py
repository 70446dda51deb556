"""What gunicorn itself does, seen from a raw socket: protocol errors in the
OpenAI error shape and a quick stop to accepting on SIGTERM while
running streams finish."""
from __future__ import annotations

import json
import signal
import socket
import threading
import time

import pytest
import requests

from tests.conftest import ACCESS_TOKEN


def exchange(server, raw_request: bytes, timeout: float = 5.0) -> tuple[int, dict, bytes]:
    """Send bytes as they are; read until the server closes. (status, headers, body)."""
    with socket.create_connection(("127.0.0.1", server.port), timeout=timeout) as sock:
        sock.sendall(raw_request)
        data = b""
        while True:
            try:
                chunk = sock.recv(65536)
            except ConnectionResetError:
                break
            if not chunk:
                break
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return int(lines[0].split()[1]), headers, body


PROTOCOL_ERRORS = {
    "bad header line": (b"GET /v1/models HTTP/1.1\r\nHost: x\r\nthis is no header\r\n\r\n", 400),
    "two content-lengths": (b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n"
                            b"Content-Length: 3\r\n\r\n{}", 400),
    "64 KB header": (b"GET /v1/models HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 65536 + b"\r\n\r\n",
                     None),
    "bad request line": (b"GET\r\n\r\n", 400),
    "bad version": (b"GET /v1/models HTTP/9.1\r\nHost: x\r\n\r\n", 400),
}


@pytest.mark.parametrize("name", list(PROTOCOL_ERRORS))
def test_protocol_errors_are_openai_json(server, name):
    raw_request, expected_status = PROTOCOL_ERRORS[name]
    status, headers, body = exchange(server, raw_request)
    assert 400 <= status < 500 and (expected_status is None or status == expected_status)
    assert headers["content-type"].startswith("application/json"), (headers, body[:200])
    assert int(headers["content-length"]) == len(body)
    error = json.loads(body)["error"]
    assert set(error) == {"message", "type", "param", "code"}
    assert error["type"] == "invalid_request_error" and error["message"]
    assert b"<html" not in body.lower()


def test_sigterm_stops_accepting_at_once_and_running_streams_finish(make_server, fake):
    """New connections are refused within 100 ms of SIGTERM; a stream already running
    still gets its graceful_timeout to finish."""
    srv = make_server(graceful_timeout=10, keepalive_interval=1)
    started = threading.Event()
    result = {}

    def stream():
        with requests.post(srv.url + "/v1/chat/completions", stream=True, timeout=30,
                           headers={"Authorization": f"Bearer {ACCESS_TOKEN}"},
                           json={"model": "gpt-4o", "stream": True,
                                 "messages": [{"role": "user", "content": "!delay 0.2\n!pieces 4\n" + "slow " * 8}]}) as r:
            lines = []
            for line in r.iter_lines():
                started.set()
                if line:
                    lines.append(line)
            result["lines"] = lines

    thread = threading.Thread(target=stream)
    thread.start()
    assert started.wait(10)
    srv.process.send_signal(signal.SIGTERM)
    time.sleep(0.1)
    refused_at = None
    deadline = time.monotonic() + 3
    while time.monotonic() < deadline:
        try:
            status, _, _ = exchange(srv, b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n", timeout=0.5)
        except (ConnectionRefusedError, ConnectionResetError, socket.timeout):
            refused_at = True
            break
        pytest.fail(f"a new connection was served ({status}) 100 ms after SIGTERM")
    assert refused_at
    thread.join(20)
    text = "".join(json.loads(line[6:])["choices"][0]["delta"].get("content") or ""
                   for line in result["lines"] if line.startswith(b"data: {"))
    assert text == "slow " * 8 and result["lines"][-1] == b"data: [DONE]"
