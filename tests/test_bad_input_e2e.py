"""Hostile or broken requests are refused cleanly: OpenAI-shaped JSON, a fitting status, no 500."""
from __future__ import annotations

import http.client
import json

import pytest
import requests

from tests.conftest import ACCESS_TOKEN

AUTH = {"Authorization": f"Bearer {ACCESS_TOKEN}", "Content-Type": "application/json"}


def raw(server, method: str, path: str, body: bytes = b"", headers: dict | None = None):
    """Send exactly these bytes (no client-side normalisation of the path)."""
    host, port = server.url.split("//")[1].split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=30)
    try:
        conn.putrequest(method, path, skip_accept_encoding=True)
        for name, value in {"Content-Length": str(len(body)), **(headers or {})}.items():
            conn.putheader(name, value)
        conn.endheaders(body)
        response = conn.getresponse()
        return response.status, dict(response.getheaders()), response.read()
    finally:
        conn.close()


def assert_openai_error(status, body: bytes, expected: int | tuple):
    assert status in (expected if isinstance(expected, tuple) else (expected,)), (status, body[:300])
    error = json.loads(body)["error"]
    assert set(error) == {"message", "type", "param", "code"}


@pytest.mark.parametrize("path", [
    "/images/../config.json", "/images/..%2Fconfig.json", "/images/%2e%2e/%2e%2e/etc/passwd",
    "/files/../../etc/passwd", "/files/..%5C..%5Cconfig.json", "/images//etc/passwd",
    "/images/%00.png", "/files/.%2e/config.json",
])
def test_path_traversal_is_404(server, path):
    status, headers, body = raw(server, "GET", path)
    assert status in (400, 404), (path, status)
    assert b"upstream_base_url" not in body and b"root:" not in body
    assert_openai_error(status, body, (400, 404))


def test_oversized_headers_are_refused(server):
    status, _, _ = raw(server, "GET", "/v1/models", headers={"X-Big": "a" * 20_000})
    assert status in (400, 431)   # gunicorn refuses before the app: never a 5xx


def test_oversized_body_is_413(make_server, fake):
    srv = make_server(max_request_bytes=10_000)
    body = json.dumps({"model": "gpt-4o", "messages": [{"role": "user", "content": "x" * 50_000}]}).encode()
    status, _, answer = raw(srv, "POST", "/v1/chat/completions", body, AUTH)
    assert_openai_error(status, answer, 413)
    status, _, answer = raw(srv, "POST", "/v1/chat/completions", body,
                            {**AUTH, "Content-Length": "10001"})  # claims little, sends a lot: still refused
    assert status in (400, 413)
    assert fake.requests == []


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data",
                                          "application/xml", ""])
def test_wrong_content_types(server, fake, content_type):
    form = b"model=gpt-4o&messages=hi"
    status, _, body = raw(server, "POST", "/v1/chat/completions", form,
                          {"Authorization": f"Bearer {ACCESS_TOKEN}", "Content-Type": content_type})
    assert_openai_error(status, body, 400)
    # A JSON body under a wrong type is still read as JSON (curl's default form type, clients that forget).
    good = json.dumps({"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}]}).encode()
    status, _, body = raw(server, "POST", "/v1/chat/completions", good,
                          {"Authorization": f"Bearer {ACCESS_TOKEN}", "Content-Type": content_type})
    assert status == 200 and json.loads(body)["choices"][0]["message"]["content"]


@pytest.mark.parametrize("body", [
    b'{"model": "gpt-4o", "messages": [{"role": "user", "content": "\xff\xfe"}]}',
    b'\xef\xbb\xbf\xff',
    b'{"model": "\xc3\x28", "messages": []}',
    b'{"model": "gpt-4o", "messages": [{"role": "user", "content": "\\ud800"}]}',
])
def test_invalid_utf8_and_lone_surrogates(server, fake, body):
    status, _, answer = raw(server, "POST", "/v1/chat/completions", body, AUTH)
    assert status in (200, 400), answer[:200]
    if status == 400:
        assert_openai_error(status, answer, 400)


@pytest.mark.parametrize("depth", [100, 1_000, 100_000])
def test_deeply_nested_json(server, fake, depth):
    nested = b'{"model": "gpt-4o", "messages": ' + b"[" * depth + b"]" * depth + b"}"
    status, _, answer = raw(server, "POST", "/v1/chat/completions", nested, AUTH)
    assert_openai_error(status, answer, 400)
    nested_content = json.dumps({"model": "gpt-4o", "messages": [{"role": "user", "content": "x"}]}).encode()
    nested_content = nested_content[:-1] + b', "metadata": ' + b'{"a":' * depth + b"1" + b"}" * depth + b"}"
    status, _, answer = raw(server, "POST", "/v1/chat/completions", nested_content, AUTH)
    assert status in (200, 400)


def test_methods_and_garbage_headers(server):
    for method in ("PUT", "DELETE", "PATCH"):
        status, _, body = raw(server, method, "/v1/chat/completions")
        assert_openai_error(status, body, 405)
    response = requests.post(server.url + "/v1/chat/completions", data=b"{}",
                             headers={"Authorization": "Bearer " + "é" * 10})
    assert response.status_code in (400, 401)


def test_a_base_url_with_a_trailing_slash_still_works(server, fake):
    status, _, body = raw(server, "POST", "//v1/chat/completions",
                          json.dumps({"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}]}).encode(), AUTH)
    assert status == 200 and json.loads(body)["object"] == "chat.completion"
