"""The relay: keep-alives while the body is silent, the abort hook when the client leaves."""
import threading
import time

from pandora_v1.openai_format import SSE_KEEPALIVE
from pandora_v1.streaming import relay


def test_keepalive_while_silent_and_items_in_order():
    def body():
        yield b"a"
        time.sleep(0.35)
        yield b"b"

    out = list(relay(body(), 0.1, on_abort=lambda: None))
    assert out[0] == b"a" and out[-1] == b"b"
    assert out.count(SSE_KEEPALIVE) >= 2


def test_abort_runs_when_the_consumer_closes_early():
    release = threading.Event()
    aborted = []

    def body():
        yield b"first"
        release.wait(5)
        yield b"never read"

    stream = relay(body(), 1.0, on_abort=lambda: (aborted.append(True), release.set()))
    assert next(stream) == b"first"
    stream.close()
    assert aborted == [True]


def test_no_abort_after_a_complete_body():
    aborted = []
    assert list(relay(iter([b"x", b"y"]), 1.0, on_abort=lambda: aborted.append(True))) in ([b"xy"], [b"x", b"y"])
    assert aborted == []


def test_pause_paces_items_one_by_one():
    out = list(relay(iter([b"1", b"2", b"3"]), 1.0, on_abort=lambda: None, pause=0.01))
    assert out == [b"1", b"2", b"3"]
