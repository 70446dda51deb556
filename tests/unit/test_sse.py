"""The SSE stage: framing as real upstreams send it, cut anywhere."""
import pytest

from pandora_v1.errors import APIError
from pandora_v1.translate import sse

STREAM = ("event: ping\r\ndata: 2024-01-01 12:00:00.123456\r\n\r\n"
          ": a comment\r\n\r\n"
          "data: {\"a\": \"héllo 世界 🎉\"}\r\n\r\n"
          "event: delta\ndata: {\"v\": \"x\"}\n\n"
          "data: [DONE]").encode()   # no blank line after the last event


def cut(data: bytes, size: int):
    return [data[i:i + size] for i in range(0, len(data), size)]


@pytest.mark.parametrize("size", [1, 2, 3, 5, 7, 64, 10_000])
def test_events_survive_any_cut(size):
    got = list(sse.events(cut(STREAM, size)))
    assert got == [("ping", "2024-01-01 12:00:00.123456"),
                   ("message", '{"a": "héllo 世界 🎉"}'),
                   ("delta", '{"v": "x"}'),
                   ("message", "[DONE]")]


def test_cr_lf_split_between_reads():
    chunks = [b"data: 1\r", b"\n\r", b"\ndata: 2\r\n\r\n"]
    assert [d for _, d in sse.events(chunks)] == ["1", "2"]


def test_line_longer_than_limit_is_refused_before_it_is_buffered():
    seen = []

    def source():
        for _ in range(100):
            seen.append(1)
            yield b"x" * 1000

    with pytest.raises(APIError) as info:
        list(sse.limit_line_length(source(), 10_000))
    assert info.value.status == 502
    assert len(seen) == 11


def test_long_stream_of_short_lines_passes_the_limit():
    chunks = [b"data: " + b"y" * 500 + b"\n\n"] * 1000
    assert len(list(sse.events(sse.limit_line_length(chunks, 1000)))) == 1000


def test_invalid_utf8_is_an_upstream_error():
    with pytest.raises(APIError) as info:
        list(sse.events([b"data: \xff\xfe\n\n"]))
    assert info.value.code == "upstream_error"
