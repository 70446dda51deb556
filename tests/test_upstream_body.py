"""UpstreamBody against a raw socket server that writes exactly the bytes a test scripts."""
import gzip
import re
import socket
import threading
import time

import pytest
import requests

from pandora_v1.errors import APIError
from pandora_v1.upstream import body as upstream_body
from pandora_v1.upstream.body import PlainBody, UpstreamBody, open_body

HEAD = b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
CHUNKED = HEAD + b"Transfer-Encoding: chunked\r\n\r\n"
COMPLETE_CHUNKED = re.compile(rb"chunked\r\n.*\r\n0\r\n(?:[^\r\n]+\r\n)*\r\n\Z", re.S)   # last chunk + trailers


class ScriptedServer:
    """Answers each connection's requests with the next script: a list of bytes or float pauses."""

    def __init__(self):
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.scripts: list[list] = []
        self.connections = 0
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            self.connections += 1
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn):
        """Each request gets the next script (a test scripts it before sending). The connection
        stays open for the next request after a complete chunked body or a counted one;
        otherwise the server closes it when the script is done (a cut or close-delimited body)."""
        with conn:
            while True:
                request = b""
                while b"\r\n\r\n" not in request:
                    data = conn.recv(65536)
                    if not data:
                        return
                    request += data
                if not self.scripts:
                    return
                script = self.scripts.pop(0)
                for step in script:
                    if isinstance(step, float):
                        time.sleep(step)
                    else:
                        conn.sendall(step)
                        time.sleep(0.002)   # separate TCP segments, as a real stream has
                sent = b"".join(step for step in script if isinstance(step, bytes))
                if not (COMPLETE_CHUNKED.search(sent) or b"Content-Length:" in sent):
                    return

    def get(self, session, *script, read_timeout=5.0):
        self.scripts.append(list(script))
        response = session.get(f"http://127.0.0.1:{self.port}/", stream=True, timeout=(2, read_timeout))
        return UpstreamBody(response.raw, read_timeout)


@pytest.fixture
def server():
    srv = ScriptedServer()
    yield srv
    srv.listener.close()


@pytest.fixture
def session():
    with requests.Session() as s:
        yield s


def read_all(body, wait=None):
    out = []
    while (data := body.read(wait)) != b"":
        if data is not None:
            out.append(data)
    return b"".join(out)


def chunk(data: bytes, ext: bytes = b"") -> bytes:
    return b"%x%s\r\n%s\r\n" % (len(data), ext, data)


def test_chunk_framing_comes_off_however_it_is_cut(server, session):
    events = b"".join(b"data: {\"n\": %d}\n\n" % i for i in range(12))
    framed = b"".join(chunk(events[i:i + 37]) for i in range(0, len(events), 37)) + b"0\r\n\r\n"
    for size in (1, 2, 5, 64, len(framed)):
        pieces = [framed[i:i + size] for i in range(0, len(framed), size)]
        body = server.get(session, CHUNKED + pieces[0], *pieces[1:])
        assert read_all(body) == events, size
        assert body.complete


def test_extensions_trailers_and_a_complete_body_reuse_the_connection(server, session):
    framed = CHUNKED + chunk(b"data: 1\n\n", b";name=value") + b"0\r\nX-Trailer: yes\r\n\r\n"
    first = server.get(session, framed)
    assert read_all(first) == b"data: 1\n\n" and first.complete
    first.close()
    second = server.get(session, CHUNKED + chunk(b"data: 2\n\n") + b"0\r\n\r\n")
    assert read_all(second) == b"data: 2\n\n"
    assert server.connections == 1


def test_bytes_after_the_body_keep_the_connection_out_of_the_pool(server, session):
    body = server.get(session, CHUNKED + chunk(b"data: 1\n\n") + b"0\r\n\r\nGARBAGE")
    assert read_all(body) == b"data: 1\n\n"
    body.close()
    server.get(session, CHUNKED + b"0\r\n\r\n").close()
    assert server.connections == 2


def test_content_length_and_close_delimited_bodies(server, session):
    body = server.get(session, HEAD + b"Content-Length: 9\r\n\r\n", b"data: 1\n\n")
    assert read_all(body) == b"data: 1\n\n" and body.complete
    body = server.get(session, HEAD + b"Connection: close\r\n\r\ndata: 2\n\n")
    assert read_all(body) == b"data: 2\n\n"


def test_gzip_encoded_stream_is_decoded(server, session):
    packed = gzip.compress(b"data: zipped\n\n")
    body = server.get(session, HEAD + b"Content-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n\r\n",
                      chunk(packed[:10]), chunk(packed[10:]), b"0\r\n\r\n")
    assert read_all(body) == b"data: zipped\n\n"


def test_a_wait_comes_back_empty_handed_while_the_upstream_is_silent(server, session):
    body = server.get(session, CHUNKED + chunk(b"data: 1\n\n"), 0.35, chunk(b"data: 2\n\n"), b"0\r\n\r\n")
    reads = []
    while (data := body.read(0.1)) != b"":
        reads.append(data)
    assert reads[0] == b"data: 1\n\n" and reads[-1] == b"data: 2\n\n"
    assert reads.count(None) >= 2


def test_silence_past_the_read_timeout_is_a_504(server, session):
    body = server.get(session, CHUNKED + chunk(b"data: 1\n\n"), 2.0, b"0\r\n\r\n", read_timeout=0.3)
    assert body.read() == b"data: 1\n\n"
    started = time.monotonic()
    with pytest.raises(APIError) as info:
        while body.read(0.1) != b"":
            pass
    assert info.value.status == 504 and time.monotonic() - started < 1.0


@pytest.mark.parametrize("ending", [b"", b"5\r\nab", b"zz\r\n"], ids=["eof-between", "eof-inside", "bad-size"])
def test_a_broken_body_is_a_502(server, session, ending):
    script = CHUNKED + chunk(b"data: 1\n\n") + ending
    body = server.get(session, script)
    with pytest.raises(APIError) as info:
        read_all(body)
    assert info.value.status == 502


def test_unsupported_encoding_is_refused(server, session):
    with pytest.raises(APIError) as info:
        server.get(session, HEAD + b"Content-Encoding: br\r\nContent-Length: 0\r\n\r\n")
    assert info.value.status == 502 and "br" in info.value.message


def test_keepalives_come_while_events_arrive_that_show_nothing(server, session):
    """Pings every 0.1 s for 0.6 s, then text: the client still gets keep-alives (every 0.25 s)."""
    from pandora_v1.translate.stream import Translation

    ping = chunk(b"event: ping\ndata: 2024-01-01\n\n")
    text = chunk(b'data: {"message": {"id": "m", "author": {"role": "assistant"}, "status": '
                 b'"finished_successfully", "content": {"content_type": "text", "parts": ["Hi"]}}}\n\n')
    body = server.get(session, CHUNKED, *([0.1, ping] * 6), text, chunk(b"data: [DONE]\n\n"), b"0\r\n\r\n")
    batches = list(Translation(body, 1 << 20).batches(keepalive=0.25))
    assert batches.count([]) >= 2
    assert batches[-1] == [("content", "Hi")]


def test_corrupt_gzip_is_a_502(server, session):
    body = server.get(session, HEAD + b"Content-Encoding: gzip\r\nContent-Length: 12\r\n\r\n", b"not gzip at all"[:12])
    with pytest.raises(APIError) as info:
        read_all(body)
    assert info.value.status == 502 and "compressed" in info.value.message


def test_the_private_attributes_we_read_are_where_we_expect(server, session):
    """If this fails after an upgrade of urllib3 or Python: find where the response now keeps
    http.client's response (its buffer, ``chunked``, ``length``) and the socket, and update
    ``_raw_parts`` in pandora_v1/upstream_body.py. Until then streams use PlainBody (slower,
    no keep-alives while the upstream is silent), and the service keeps working."""
    server.scripts.append([CHUNKED + chunk(b"data: 1\n\n") + b"0\r\n\r\n"])
    response = session.get(f"http://127.0.0.1:{server.port}/", stream=True, timeout=(2, 5))
    assert upstream_body._raw_parts(response.raw) is not None
    assert isinstance(open_body(response.raw, 5.0), UpstreamBody)


def test_without_those_attributes_the_plain_reader_still_reads_every_byte(server, session, monkeypatch):
    monkeypatch.setattr(upstream_body, "_raw_parts", lambda response: None)
    events = b"".join(b"data: {\"n\": %d}\n\n" % i for i in range(20))
    packed = gzip.compress(events)
    server.scripts.append([HEAD + b"Content-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n\r\n",
                           chunk(packed[:10]), 0.05, chunk(packed[10:]), b"0\r\n\r\n"])
    response = session.get(f"http://127.0.0.1:{server.port}/", stream=True, timeout=(2, 5))
    body = open_body(response.raw, 5.0)
    assert isinstance(body, PlainBody)
    assert read_all(body, wait=0.01) == events and body.complete
    body.close()


def test_the_plain_reader_turns_a_silent_upstream_into_a_504(server, session, monkeypatch):
    monkeypatch.setattr(upstream_body, "_raw_parts", lambda response: None)
    server.scripts.append([CHUNKED + chunk(b"data: 1\n\n"), 3.0])
    response = session.get(f"http://127.0.0.1:{server.port}/", stream=True, timeout=(2, 0.5))
    body = open_body(response.raw, 0.5)
    assert body.read() == b"data: 1\n\n"
    with pytest.raises(APIError) as info:
        body.read()
    assert info.value.status == 504
