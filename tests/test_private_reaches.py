"""Every name pandora_v1 reads that a library does not document sits in one function with a public
fallback; each test here names those attributes, and its failure message says what to do after an
upgrade. (urllib3's and http.client's response internals: ``_raw_parts`` in upstream/body.py, its
test in tests/test_upstream_body.py.)"""
from __future__ import annotations

import inspect
import logging
import socket
import threading

import pytest

GUNICORN = ("after an upgrade of gunicorn: find how it now answers a request it refuses (it called "
            "gunicorn.util.write_error(sock, status, reason, message), writing with util.write_nonblock) and which "
            "server class its gevent worker builds in run() (gunicorn.workers.ggevent.StreamServer), and update "
            "gunicorn_internals in pandora_v1/serve/worker.py. Until then gunicorn's HTML error pages come back "
            "and a worker stops accepting within a second of SIGTERM, not at once; nothing else breaks.")


def test_gunicorns_internals_are_where_we_expect():
    from gunicorn import util
    from gunicorn.workers import base, ggevent

    from pandora_v1.serve import worker

    assert callable(getattr(util, "write_error", None)), "gunicorn.util.write_error is gone: " + GUNICORN
    assert callable(getattr(util, "write_nonblock", None)), "gunicorn.util.write_nonblock is gone: " + GUNICORN
    assert list(inspect.signature(util.write_error).parameters) == ["sock", "status_int", "reason", "mesg"], \
        "gunicorn.util.write_error takes other arguments: " + GUNICORN
    assert "util.write_error(" in inspect.getsource(base), \
        "gunicorn's workers no longer answer refused requests with util.write_error: " + GUNICORN
    assert isinstance(getattr(ggevent, "StreamServer", None), type), "ggevent.StreamServer is gone: " + GUNICORN
    assert "StreamServer(" in inspect.getsource(ggevent.GeventWorker.run), \
        "gunicorn's GeventWorker.run no longer builds ggevent.StreamServer: " + GUNICORN
    assert worker.gunicorn_internals() == (util, ggevent)


def test_without_gunicorns_internals_its_own_behaviour_stays(monkeypatch, caplog):
    from gunicorn import util

    from pandora_v1.serve import worker

    monkeypatch.delattr(util, "write_error")
    with caplog.at_level(logging.WARNING):
        worker.install_json_errors()
    assert not hasattr(util, "write_error")          # nothing installed in its place
    assert "write_error has moved" in caplog.text
    assert worker.gunicorn_internals()[0] is None


URLLIB3 = ("after an upgrade of urllib3: find the method of urllib3.connection.HTTPConnection that makes "
           "the TCP connection before any TLS handshake (it was _new_conn, called by connect()) and update "
           "guarded_connection in pandora_v1/files/fetch.py. Until then the connected address is checked in "
           "connect(): after a TLS handshake with the peer, still before any byte of the request.")


def test_urllib3s_new_conn_is_where_we_expect():
    from urllib3.connection import HTTPConnection, HTTPSConnection

    from pandora_v1.files.fetch import guarded_connection

    assert callable(getattr(HTTPConnection, "_new_conn", None)), "HTTPConnection._new_conn is gone: " + URLLIB3
    for base in (HTTPConnection, HTTPSConnection):
        assert "self._new_conn()" in inspect.getsource(base.connect), \
            f"{base.__name__}.connect no longer calls _new_conn: " + URLLIB3
        assert "_new_conn" in vars(guarded_connection(base, lambda address: False)), URLLIB3


class Listener:
    """A loopback listener that records every byte a client sends it."""

    def __init__(self):
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.received = b""
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self):
        try:
            conn, _ = self.sock.accept()
        except OSError:                   # closed by the test before a client came
            return
        with conn:
            while data := conn.recv(65536):
                self.received += data
                if b"\r\n\r\n" in self.received:
                    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")


@pytest.mark.parametrize("moved", [False, True], ids=["new_conn", "connect"])
def test_the_connected_address_is_refused_before_the_request_either_way(moved):
    """With urllib3 as it is, and as an upgrade without ``_new_conn`` would leave it (the public
    ``connect`` making the socket itself)."""
    from urllib3.connection import HTTPConnection

    from pandora_v1.files import fetch

    base = HTTPConnection
    if moved:
        class Moved(HTTPConnection):
            _new_conn = None            # renamed away: connect makes the socket itself

            def connect(self):
                self.sock = socket.create_connection((self.host, self.port), self.timeout)
        base = Moved
    for refused in (True, False):
        listener = Listener()
        guarded = fetch.guarded_connection(base, lambda address, refused=refused: refused and address == "127.0.0.1")
        assert ("connect" if moved else "_new_conn") in vars(guarded)
        conn = guarded("127.0.0.1", listener.port, timeout=5)
        if refused:
            with pytest.raises(fetch._RefusedAddress):
                conn.request("GET", "/secret")
            assert listener.received == b""
        else:
            conn.request("GET", "/fine")
            assert conn.getresponse().data == b"ok"
            assert listener.received.startswith(b"GET /fine HTTP/1.1")
        conn.close()
        listener.sock.close()


GEVENT = ("after an upgrade of gevent: find where gevent's socket keeps the plain socket under it (it was "
          "_sock) and update plain_socket in pandora_v1/answer/watch.py. Until then the client watch peeks "
          "through a duplicate of the descriptor (a system call more per watched request).")


def test_gevents_plain_socket_is_where_we_expect():
    import _socket

    import gevent.socket

    from pandora_v1.answer.watch import plain_socket

    ours, theirs = gevent.socket.socketpair()
    try:
        assert isinstance(getattr(ours, "_sock", None), _socket.socket), "gevent's socket._sock is gone: " + GEVENT
        assert plain_socket(ours) == (ours._sock, False), GEVENT
    finally:
        ours.close()
        theirs.close()


def test_without_gevents_plain_socket_the_watch_peeks_through_a_duplicate():
    from pandora_v1.answer.watch import plain_socket

    class Moved:                      # a gevent socket whose plain socket an upgrade renamed
        def __init__(self, sock):
            self._renamed = sock

        def fileno(self):
            return self._renamed.fileno()

    ours, theirs = socket.socketpair()
    try:
        plain, owned = plain_socket(Moved(ours))
        assert owned and plain.fileno() != ours.fileno()
        theirs.sendall(b"x")
        assert plain.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT) == b"x"
        plain.close()
        assert ours.recv(1) == b"x"           # the connection itself is untouched
    finally:
        ours.close()
        theirs.close()


TIKTOKEN = ("after an upgrade of tiktoken: find where tiktoken.Encoding keeps the Python copy of its ranks "
            "(_mergeable_ranks, read only by pickling) and its Rust encoder's encode_to_tiktoken_buffer "
            "(_core_bpe), and update _tiktoken_internals in pandora_v1/usage/tables.py. Until then counts stay "
            "right: the ranks are kept twice (~37 MB more in the process with the tables) and long texts are "
            "counted by encode(), holding the GIL longer.")


def test_tiktokens_internals_are_where_we_expect():
    import tiktoken

    from pandora_v1.usage import tables

    encoding = tables.encoding_for("gpt-4o")
    assert isinstance(encoding, tiktoken.Encoding)
    assert hasattr(encoding, "_mergeable_ranks"), "tiktoken.Encoding._mergeable_ranks is gone: " + TIKTOKEN
    assert encoding._mergeable_ranks is None, "the Python copy of the ranks was not dropped: " + TIKTOKEN
    assert callable(getattr(getattr(encoding, "_core_bpe", None), "encode_to_tiktoken_buffer", None)), \
        "tiktoken.Encoding._core_bpe.encode_to_tiktoken_buffer is gone: " + TIKTOKEN
    count = tables._buffer_counts["o200k_base"]
    assert count is not None, TIKTOKEN
    assert count("hello world, hello tokens") == len(encoding.encode("hello world, hello tokens"))


def test_without_tiktokens_internals_counts_stay_the_same(monkeypatch):
    from pandora_v1.usage import tables

    class Moved:                      # an Encoding whose private names an upgrade renamed
        name = "o200k_base"
        _mergeable_ranks_v2 = {b"a": 0}

    moved = Moved()
    assert tables._tiktoken_internals(moved) is None          # nothing found, nothing broken
    assert moved._mergeable_ranks_v2 == {b"a": 0}
    encoding = tables.encoding_for("gpt-4o")
    text = "Ünïcödé prose and <|endoftext|> markers 🤖.\n" * 2000
    expected = tables._buffer_length(encoding, text)
    monkeypatch.setitem(tables._buffer_counts, "o200k_base", None)
    assert tables._buffer_length(encoding, text) == expected == len(encoding.encode(text, disallowed_special=()))
