"""The conversation POST on pandora_v1's own pooled sockets (upstream_conn.py), against raw
socket servers that misbehave on purpose, plain and TLS."""
from __future__ import annotations

import gzip
import os
import resource
import shutil
import socket
import ssl
import struct
import subprocess
import time

import pytest

from pandora_v1.upstream import pool as upstream_conn
from pandora_v1.upstream.body import UpstreamBody, open_body
from tests.conftest import ACCESS_TOKEN
from tests.test_upstream_body import ScriptedServer

SSE = (b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n"
       b"d\r\ndata: hello\n\n\r\n0\r\n\r\n")


class Server(ScriptedServer):
    """Each accepted connection is handed to ``handlers[i]`` (the last one repeats), over TLS with ``tls``."""

    def __init__(self, *handlers, tls: ssl.SSLContext | None = None):
        self.handlers = list(handlers)
        self.tls = tls
        self.requests: list[bytes] = []
        self._served = 0
        super().__init__()

    def _serve(self, conn):
        handler = self.handlers[min(self._served, len(self.handlers) - 1)]
        self._served += 1
        try:
            if self.tls:
                conn = self.tls.wrap_socket(conn, server_side=True)
        except (OSError, ssl.SSLError):
            conn.close()
            return
        with conn:
            handler(self, conn)

    def read_request(self, conn) -> bytes | None:
        data = b""
        while b"\r\n\r\n" not in data:
            piece = conn.recv(65536)
            if not piece:
                return None
            data += piece
        head, _, body = data.partition(b"\r\n\r\n")
        length = int(next(line.split(b":")[1] for line in head.split(b"\r\n")
                          if line.lower().startswith(b"content-length")))
        while len(body) < length:
            body += conn.recv(65536)
        self.requests.append(data)
        return data

    def close(self):
        self.listener.close()


def answers(*replies: bytes, then_close: bool = False):
    """A handler: each request on the connection gets the next reply; then it waits or closes."""
    def handler(server, conn):
        for reply in replies:
            if server.read_request(conn) is None:
                return
            conn.sendall(reply)
        if not then_close:
            server.read_request(conn)     # an idle keep-alive connection until the client goes
    return handler


def reads_then_closes(server, conn):
    server.read_request(conn)             # the request arrived, no answer: the connection ends


def pool(**kwargs) -> upstream_conn.ConnectionPool:
    return upstream_conn.ConnectionPool(size=4, connect_timeout=2.0, read_timeout=kwargs.pop("read_timeout", 5.0),
                                        **kwargs)


def whole(response) -> bytes:
    body = open_body(response, 5.0)
    assert isinstance(body, UpstreamBody)
    data = b""
    while not body.complete:
        data += body.read() or b""
    body.close()
    return data


@pytest.fixture
def servers():
    started = []
    yield lambda *handlers, **kw: started.append(Server(*handlers, **kw)) or started[-1]
    for server in started:
        server.close()


def test_one_connection_carries_answer_after_answer(servers):
    server = servers(answers(SSE, SSE, SSE))
    conversations = pool()
    for _ in range(3):
        response = conversations.post(f"http://127.0.0.1:{server.port}/backend-api/conversation", b'{"a":1}',
                                      {"Authorization": "Bearer t", "Accept": "text/event-stream"})
        assert response.status == 200 and response.headers["content-type"] == "text/event-stream"
        assert whole(response) == b"data: hello\n\n"
    assert server.connections == 1
    first = server.requests[0]
    assert first.startswith(b"POST /backend-api/conversation HTTP/1.1\r\nHost: 127.0.0.1:")
    assert b"\r\nContent-Length: 7\r\n" in first and b"\r\nAuthorization: Bearer t\r\n" in first
    assert first.endswith(b'\r\n\r\n{"a":1}')


def test_closing_the_pool_closes_its_idle_connections(servers):
    server = servers(answers(SSE), answers(SSE))
    conversations = pool()
    whole(conversations.post(f"http://127.0.0.1:{server.port}/c", b"{}", {}))
    [[idle]] = conversations._idle.values()
    conversations.close()
    assert idle.fileno() == -1 and not conversations._idle
    whole(conversations.post(f"http://127.0.0.1:{server.port}/c", b"{}", {}))
    assert server.connections == 2           # the next answer needed a new connection


def test_a_connection_the_upstream_will_close_is_not_reused(servers):
    closing = SSE.replace(b"Transfer-Encoding", b"Connection: close\r\nTransfer-Encoding")
    server = servers(answers(closing, then_close=True))
    conversations = pool()
    for _ in range(2):
        assert whole(conversations.post(f"http://127.0.0.1:{server.port}/c", b"{}", {})) == b"data: hello\n\n"
    assert server.connections == 2


def test_an_idle_connection_the_upstream_closed_is_noticed_before_reuse(servers):
    server = servers(answers(SSE, then_close=True), answers(SSE))
    conversations = pool()
    whole(conversations.post(f"http://127.0.0.1:{server.port}/c", b"{}", {}))
    time.sleep(0.2)                        # the upstream closed it meanwhile
    assert whole(conversations.post(f"http://127.0.0.1:{server.port}/c", b"{}", {})) == b"data: hello\n\n"
    assert server.connections == 2 and len(server.requests) == 2     # sent once, on the new connection


def test_a_reused_connection_that_closes_after_the_request_is_not_sent_again(servers):
    # The close races our liveness check: the request reaches a connection that then ends unanswered.
    # The upstream may have read it (and started the answer): it is never sent a second time.
    def closes_on_second_request(server, conn):
        server.read_request(conn)
        conn.sendall(SSE)
        server.read_request(conn)

    server = servers(closes_on_second_request, answers(SSE))
    conversations = pool()
    whole(conversations.post(f"http://127.0.0.1:{server.port}/c", b"{}", {}))
    with pytest.raises(upstream_conn.Unreachable) as dropped:
        conversations.post(f"http://127.0.0.1:{server.port}/c", b"{}", {})
    assert dropped.value.why == "connection closed before an answer" and dropped.value.sent
    assert server.connections == 1 and len(server.requests) == 2


def test_a_conversation_the_upstream_may_have_read_goes_to_no_other_prefix(servers, make_app):
    """Through the client: the dropped request is the usual 502, and no mirror gets it again."""
    from pandora_v1.errors import APIError
    from pandora_v1.services import current_services

    def closes_on_second_request(server, conn):
        server.read_request(conn)
        conn.sendall(SSE)
        server.read_request(conn)

    server = servers(closes_on_second_request, answers(SSE))
    app = make_app(upstream_base_url=f"http://127.0.0.1:{server.port}", upstream_api_prefix=["a", "b"])
    upstream = current_services(app).upstream
    assert whole(upstream.start_conversation({"action": "next"}, None)) == b"data: hello\n\n"
    with pytest.raises(APIError) as failure:
        upstream.start_conversation({"action": "next"}, None)
    assert failure.value.status == 502 and failure.value.code == "upstream_unreachable"
    assert len(server.requests) == 2 and server.connections == 1


def test_a_request_whose_first_write_failed_is_sent_on_a_new_connection(servers, monkeypatch):
    """The one resend: the reused connection was reset before our write, so no byte of the request
    left (the liveness check is made to miss it, as in the race with a close)."""
    def resets_when_idle(server, conn):
        server.read_request(conn)
        conn.sendall(SSE)
        time.sleep(0.1)
        conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))   # close with RST

    server = servers(resets_when_idle, answers(SSE))
    conversations = pool()
    whole(conversations.post(f"http://127.0.0.1:{server.port}/c", b"{}", {}))
    time.sleep(0.3)
    monkeypatch.setattr(upstream_conn, "_closed_while_idle", lambda sock: False)
    assert whole(conversations.post(f"http://127.0.0.1:{server.port}/c", b"{}", {})) == b"data: hello\n\n"
    assert server.connections == 2 and len(server.requests) == 2


def test_idle_connections_on_descriptors_past_1023_are_reused(servers):
    """select() cannot watch a descriptor >= 1024 (a few hundred open streams): the idle check must
    still tell a live connection from a closed one, not drop every one of them."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < 1200:
        if hard != resource.RLIM_INFINITY and hard < 1200:
            pytest.skip("the descriptor limit is below 1200")
        resource.setrlimit(resource.RLIMIT_NOFILE, (1200, hard))
    server = servers(answers(SSE, SSE))
    filler = [os.open(os.devnull, os.O_RDONLY) for _ in range(1030)]
    try:
        conversations = pool()
        response = conversations.post(f"http://127.0.0.1:{server.port}/c", b"{}", {})
        assert response.sock.fileno() >= 1024
        whole(response)
        assert whole(conversations.post(f"http://127.0.0.1:{server.port}/c", b"{}", {})) == b"data: hello\n\n"
        assert server.connections == 1
        conversations.close()
    finally:
        for fd in filler:
            os.close(fd)
        if soft < 1200:
            resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


@pytest.mark.parametrize("headers", [{"X-Note": "one\r\nInjected: yes"}, {"X-Note": "line\nbreak"},
                                     {"X-Note": "nul\x00"}, {"X-Bad\r\nInjected": "yes"}, {"X-Bad\x00": "v"}],
                         ids=["crlf-value", "lf-value", "nul-value", "crlf-name", "nul-name"])
def test_header_fields_with_line_breaks_or_nul_are_refused_before_sending(servers, headers):
    from pandora_v1.errors import APIError

    server = servers(answers(SSE))
    with pytest.raises(APIError) as refused:
        pool().post(f"http://127.0.0.1:{server.port}/c", b"{}", headers)
    assert refused.value.status == 502 and "Injected" not in refused.value.message
    time.sleep(0.1)
    assert server.requests == [] and server.connections == 0


def test_a_credential_with_a_nul_is_refused_on_every_path(servers, make_app):
    """requests and http.client let a NUL through: the client refuses it before any of them sends."""
    from pandora_v1.auth.credentials import Credentials
    from pandora_v1.errors import APIError
    from pandora_v1.services import current_services

    server = servers(answers(SSE))
    upstream = current_services(make_app(upstream_base_url=f"http://127.0.0.1:{server.port}")).upstream
    for call in (lambda creds: upstream.get_json("/backend-api/models", creds),
                 lambda creds: upstream.start_conversation({"action": "next"}, creds)):
        with pytest.raises(APIError) as refused:
            call(Credentials("eyJ.a\x00b.c"))
        assert refused.value.status == 502
    time.sleep(0.1)
    assert server.requests == [] and server.connections == 0


@pytest.mark.parametrize("reply", [b"HTTP/1.1 204 No Content\r\n\r\n",
                                   b"HTTP/1.1 304 Not Modified\r\nContent-Length: 5\r\n\r\n"], ids=["204", "304"])
def test_no_content_and_not_modified_have_no_body(servers, reply):
    server = servers(answers(reply, SSE))
    conversations = pool()
    response = conversations.post(f"http://127.0.0.1:{server.port}/c", b"{}", {})
    body = UpstreamBody(response, 5.0)
    assert body.complete and body.read(0) == b""      # nothing to wait for
    body.close()
    assert whole(conversations.post(f"http://127.0.0.1:{server.port}/c", b"{}", {})) == b"data: hello\n\n"
    assert server.connections == 1                     # the connection was clean for the next request


@pytest.mark.parametrize("head", [
    b"HTTP/1.1 200 OK\r\nContent-Length: 13\r\nTransfer-Encoding: chunked\r\n\r\n",
    b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 13\r\n\r\n",
    b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, gzip\r\n\r\n",
    b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n",
    b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n\r\n",
    b"HTTP/1.1 2000 OK\r\nTransfer-Encoding: chunked\r\n\r\n",
    b"HTTP/1.1 200OK\r\nTransfer-Encoding: chunked\r\n\r\n",
    b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nno colon in this line\r\n\r\n",
    b"HTTP/1.1 200 OK\r\nTransfer-Encoding : chunked\r\n\r\n",
], ids=["length-then-chunked", "chunked-then-length", "chunked-gzip", "gzip-chunked", "two-codings",
        "four-digit-status", "status-without-space", "line-without-colon", "space-before-colon"])
def test_ambiguous_framing_and_loose_heads_are_refused(servers, head):
    """A body whose end two readers would place differently is not read at all (RFC 9112 §6.1, §6.3):
    Content-Length with chunked, a transfer coding we never asked for (we send no TE, so only
    ``chunked`` may come), a status line or header line that is not HTTP's."""
    server = servers(answers(head + b"d\r\ndata: hello\n\n\r\n0\r\n\r\n"))
    with pytest.raises(upstream_conn.Unreachable) as refused:
        pool().post(f"http://127.0.0.1:{server.port}/c", b"{}", {})
    assert refused.value.sent       # a request that was answered, however badly, is not sent elsewhere


def test_framing_on_our_own_connections(servers):
    """Chunk extensions and trailers, Content-Length, a body until close and gzip, read off our own
    sockets (tests/test_upstream_body.py reads the same through urllib3's)."""
    packed = gzip.compress(b"data: zipped\n\n")
    chunked = (b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n"
               b"7;ext=\"x\"\r\ndata: 1\r\n2\r\n\n\n\r\n0\r\nX-Trailer: t\r\nX-Other: o\r\n\r\n")
    counted = b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nContent-Length: 9\r\n\r\ndata: 2\n\n"
    zipped = (b"HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: %d\r\n\r\n" % len(packed)) + packed
    until_close = b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n\r\ndata: 3\n\n"
    server = servers(answers(chunked, counted, zipped, until_close, then_close=True))
    conversations = pool()
    url = f"http://127.0.0.1:{server.port}/c"
    first = conversations.post(url, b"{}", {})
    assert whole(first) == b"data: 1\n\n" and "x-trailer" not in first.headers
    assert whole(conversations.post(url, b"{}", {})) == b"data: 2\n\n"
    assert whole(conversations.post(url, b"{}", {})) == b"data: zipped\n\n"
    assert whole(conversations.post(url, b"{}", {})) == b"data: 3\n\n"
    assert server.connections == 1
def test_a_new_connection_closed_unanswered_is_unreachable_not_retried(servers):
    server = servers(reads_then_closes)
    with pytest.raises(upstream_conn.Unreachable):
        pool().post(f"http://127.0.0.1:{server.port}/c", b"{}", {})
    assert server.connections == 1


def test_no_head_within_the_read_timeout_is_timed_out(servers):
    def silent(server, conn):
        server.read_request(conn)
        time.sleep(2)

    server = servers(silent)
    started = time.monotonic()
    with pytest.raises(upstream_conn.TimedOut):
        pool(read_timeout=0.3).post(f"http://127.0.0.1:{server.port}/c", b"{}", {})
    assert time.monotonic() - started < 1.5


def test_refused_and_not_http_are_unreachable(servers):
    closed = socket.create_server(("127.0.0.1", 0))
    port = closed.getsockname()[1]
    closed.close()
    with pytest.raises(upstream_conn.Unreachable) as refused:
        pool().post(f"http://127.0.0.1:{port}/c", b"{}", {})
    assert refused.value.why == "ConnectionRefusedError"
    server = servers(answers(b"SSH-2.0-OpenSSH_9.6\r\n\r\n"))
    with pytest.raises(upstream_conn.Unreachable) as not_http:
        pool().post(f"http://127.0.0.1:{server.port}/c", b"{}", {})
    assert not_http.value.why == "not an HTTP response"


def test_interim_answers_are_skipped_and_bytes_past_the_head_are_the_body(servers):
    server = servers(answers(b"HTTP/1.1 103 Early Hints\r\nLink: </x>\r\n\r\n" + SSE))
    response = pool().post(f"http://127.0.0.1:{server.port}/c", b"{}", {})
    assert response.status == 200 and "link" not in response.headers
    assert response.buffered.startswith(b"d\r\ndata: hello")    # came with the head
    assert whole(response) == b"data: hello\n\n"


def test_an_error_answer_is_read_for_its_message(servers, make_app):
    error = b'{"detail": "Too many requests in 1 hour."}'
    server = servers(answers(b"HTTP/1.1 429 Too Many Requests\r\nContent-Type: application/json\r\n"
                             b"Retry-After: 30\r\nTransfer-Encoding: chunked\r\n\r\n"
                             + f"{len(error):x}\r\n".encode() + error + b"\r\n0\r\n\r\n"))
    from pandora_v1.errors import APIError
    from pandora_v1.services import current_services

    app = make_app(upstream_base_url=f"http://127.0.0.1:{server.port}")
    upstream = current_services(app).upstream
    with pytest.raises(APIError) as failure:
        upstream.start_conversation({"action": "next"}, None)
    assert failure.value.status == 429 and failure.value.headers == {"Retry-After": "30"}
    assert "Too many requests in 1 hour." in failure.value.message


@pytest.fixture(scope="module")
def certificate(tmp_path_factory):
    if not shutil.which("openssl"):
        pytest.skip("openssl is needed to make a test certificate")
    folder = tmp_path_factory.mktemp("tls")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                    "-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost",
                    "-keyout", str(folder / "key.pem"), "-out", str(folder / "cert.pem")],
                   check=True, capture_output=True)
    return folder / "cert.pem", folder / "key.pem"


def test_tls_upstreams_are_verified_and_reused(servers, certificate):
    cert, key = certificate
    server_side = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_side.load_cert_chain(cert, key)
    server = servers(answers(SSE, SSE), tls=server_side)
    trusting = ssl.create_default_context(cafile=str(cert))
    conversations = pool(tls=trusting)
    for _ in range(2):
        assert whole(conversations.post(f"https://localhost:{server.port}/c", b"{}", {})) == b"data: hello\n\n"
    assert server.connections == 1
    # The default context (certifi's CAs) refuses the self-signed certificate: no answer, no request.
    from pandora_v1.upstream.client import _tls_context

    with pytest.raises(upstream_conn.Unreachable) as refused:
        pool(tls=_tls_context()).post(f"https://localhost:{server.port}/c", b"{}", {})
    assert "SSL" in refused.value.why


def test_with_a_proxy_configured_the_conversation_goes_through_it(servers, make_app):
    """A proxy in the way keeps the POST on urllib3's ProxyManager: the absolute URL goes to the proxy,
    which answers here itself (a forward proxy would pass it on)."""
    event = (b'data: {"message": {"id": "m1", "author": {"role": "assistant"}, "content": {"content_type": '
             b'"text", "parts": ["via the proxy"]}, "status": "finished_successfully", "end_turn": true, '
             b'"metadata": {}}, "conversation_id": "c1", "error": null}\n\ndata: [DONE]\n\n')
    answer = (b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
              + f"Content-Length: {len(event)}\r\n\r\n".encode() + event)
    ok = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}"

    def forward_proxy(server, conn):
        while (request := server.read_request(conn)) is not None:
            conn.sendall(answer if request.startswith(b"POST") and b"/conversation HTTP" in request else ok)

    proxy = servers(forward_proxy)
    app = make_app(upstream_base_url="http://upstream.invalid:8080", proxy=f"http://127.0.0.1:{proxy.port}")
    reply = app.test_client().post("/v1/chat/completions", headers={"Authorization": "Bearer " + ACCESS_TOKEN},
                                   json={"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}]})
    assert reply.status_code == 200, reply.get_json()
    assert reply.get_json()["choices"][0]["message"]["content"] == "via the proxy"
    assert proxy.requests[0].startswith(b"POST http://upstream.invalid:8080/backend-api/conversation HTTP/1.1")
