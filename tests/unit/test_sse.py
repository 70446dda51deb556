"""The SSE stage: framing as real upstreams send it, cut anywhere."""
import pytest

from pandora_v1.errors import APIError
from pandora_v1.translate.sse import SSEDecoder, events

STREAM = ("event: ping\r\ndata: 2024-01-01 12:00:00.123456\r\n\r\n"
          ": a comment\r\n\r\n"
          "data: {\"a\": \"héllo 世界 🎉\"}\r\n\r\n"
          "event: delta\ndata: {\"v\": \"x\"}\n\n"
          "data:no-space\rdata: second line\r\r"
          "data: [DONE]").encode()   # no blank line after the last event

EXPECTED = [("ping", b"2024-01-01 12:00:00.123456"),
            ("message", '{"a": "héllo 世界 🎉"}'.encode()),
            ("delta", b'{"v": "x"}'),
            ("message", b"no-space\nsecond line"),
            ("message", b"[DONE]")]


def cut(data: bytes, size: int):
    return [data[i:i + size] for i in range(0, len(data), size)]


@pytest.mark.parametrize("size", [1, 2, 3, 5, 7, 64, 10_000])
def test_events_survive_any_cut(size):
    assert list(events(cut(STREAM, size), 1 << 20)) == EXPECTED


def test_every_single_cut_point():
    for at in range(1, len(STREAM)):
        assert list(events([STREAM[:at], STREAM[at:]], 1 << 20)) == EXPECTED, at


def test_cr_lf_split_between_reads_is_one_line_end():
    chunks = [b"event: delta\r", b"\ndata: 1\r", b"\n\r", b"\ndata: 2\r\n\r\n"]
    assert list(events(chunks, 1 << 20)) == [("delta", b"1"), ("message", b"2")]


def test_event_larger_than_limit_is_refused_while_arriving():
    decoder = SSEDecoder(10_000)
    fed = 0
    with pytest.raises(APIError) as info:
        for _ in range(100):
            fed += 1
            decoder.feed(b"x" * 1000)
    assert info.value.status == 502 and fed == 11


def test_many_small_events_pass_the_limit():
    chunks = [b"data: " + b"y" * 500 + b"\n\n"] * 1000
    assert len(list(events(chunks, 1000))) == 1000


def test_big_event_in_many_reads_is_joined_once():
    payload = b"z" * 2_000_000
    chunks = cut(b"data: " + payload + b"\n\n", 1000)
    assert list(events(chunks, 4_000_000)) == [("message", payload)]
