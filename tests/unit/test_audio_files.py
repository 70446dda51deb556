"""files/audio.py: the length of each container the transcriptions take, from its own headers;
sniff.py names them. Each file here is built by hand from its format's layout."""
from __future__ import annotations

import io
import struct
import wave

import pytest

from pandora_v1.audio.languages import name
from pandora_v1.files.audio import ESTIMATE_BYTES_PER_SECOND, duration
from pandora_v1.files.sniff import classify, sniff_type


def wav(seconds: float, rate: int = 16000, channels: int = 2) -> bytes:
    out = io.BytesIO()
    with wave.open(out, "wb") as file:
        file.setnchannels(channels)
        file.setsampwidth(2)
        file.setframerate(rate)
        file.writeframes(b"\x00\x00" * channels * int(seconds * rate))
    return out.getvalue()


def flac(seconds: float, rate: int = 44100) -> bytes:
    samples = int(seconds * rate)
    packed = rate << 44 | (2 - 1) << 41 | (16 - 1) << 36 | samples
    info = struct.pack(">HH", 4096, 4096) + b"\x00" * 6 + packed.to_bytes(8, "big") + b"\x00" * 16
    return b"fLaC" + bytes([0x80]) + len(info).to_bytes(3, "big") + info + b"\xff\xf8" + b"\x00" * 32


def ogg_page(granule: int, packet: bytes, kind: int = 0) -> bytes:
    return b"OggS" + bytes([0, kind]) + struct.pack("<qIII", granule, 1, 0, 0) + bytes([1, len(packet)]) + packet


def opus(seconds: float, pre_skip: int = 312) -> bytes:
    head = b"OpusHead" + bytes([1, 1]) + struct.pack("<HIhB", pre_skip, 48000, 0, 0)
    return ogg_page(0, head, 2) + ogg_page(0, b"OpusTags" + b"\x00" * 8) + \
        ogg_page(pre_skip + int(seconds * 48000), b"\x00" * 40, 4)


def vorbis(seconds: float, rate: int = 44100) -> bytes:
    head = b"\x01vorbis" + struct.pack("<IBIiiiB", 0, 2, rate, 0, 128000, 0, 0xB8) + b"\x01"
    return ogg_page(0, head, 2) + ogg_page(int(seconds * rate), b"\x00" * 40, 4)


def mp4(seconds: float, scale: int = 1000, brand: bytes = b"M4A ") -> bytes:
    ftyp = struct.pack(">I4s4sI4s", 20, b"ftyp", brand, 0, b"isom")
    mvhd_body = bytes(4) + struct.pack(">IIII", 0, 0, scale, int(seconds * scale)) + bytes(80)
    mvhd = struct.pack(">I4s", 8 + len(mvhd_body), b"mvhd") + mvhd_body
    moov = struct.pack(">I4s", 8 + len(mvhd), b"moov") + mvhd
    return ftyp + struct.pack(">I4s", 16, b"free") + bytes(8) + moov + struct.pack(">I4s", 8, b"mdat")


def ebml(element: int, body: bytes, unknown: bool = False) -> bytes:
    ident = element.to_bytes((element.bit_length() + 7) // 8, "big")
    size = b"\x01\xff\xff\xff\xff\xff\xff\xff" if unknown else bytes([0x80 | len(body)]) if len(body) < 127 else \
        (0x4000 | len(body)).to_bytes(2, "big")
    return ident + size + body


def webm(stated: float | None = None, blocks: tuple = ()) -> bytes:
    header = ebml(0x1A45DFA3, ebml(0x4282, b"webm"))
    info = ebml(0x2AD7B1, (1_000_000).to_bytes(3, "big"))
    if stated is not None:
        info += ebml(0x4489, struct.pack(">d", stated * 1000))
    clusters = b"".join(ebml(0x1F43B675, ebml(0xE7, cluster.to_bytes(2, "big")) +
                             ebml(0xA3, b"\x81" + struct.pack(">hB", offset, 0x80) + b"\x00" * 8), unknown=True)
                        for cluster, offset in blocks)
    return header + ebml(0x18538067, ebml(0x1549A966, info) + ebml(0x1654AE6B, b"\x00" * 4) + clusters,
                         unknown=True)


def mp3_frames(count: int, xing: int | None = None) -> bytes:
    header = b"\xff\xfb\x90\x64"                           # MPEG-1 layer III, 128 kbit/s, 44.1 kHz, stereo
    frame = header + b"\x00" * 413                          # 144 * 128000 / 44100 = 417 bytes a frame
    first = frame
    if xing is not None:
        first = header + b"\x00" * 32 + b"Xing" + struct.pack(">II", 1, xing) + b"\x00" * (413 - 44)
    return b"ID3\x04\x00\x00\x00\x00\x00\x00" + first + frame * (count - 1)


@pytest.mark.parametrize("data, seconds, kind", [
    (wav(3.2), 3.2, "audio/wav"),
    (wav(1.5, 8000, 1), 1.5, "audio/wav"),
    (flac(2.0), 2.0, "audio/flac"),
    (opus(1.5), 1.5, "audio/ogg"),
    (vorbis(2.5), 2.5, "audio/ogg"),
    (mp4(4.25), 4.25, "audio/mp4"),
    (mp4(7.0, 44100, b"isom"), 7.0, "video/mp4"),
    (webm(5.2), 5.2, "audio/webm"),
    (webm(blocks=((0, 20), (2000, 500))), 2.5, "audio/webm"),    # MediaRecorder: no Duration, the last block
    (mp3_frames(100), round(100 * 417 * 8 / 128000, 3), "audio/mpeg"),
    (mp3_frames(10, xing=1000), round(1000 * 1152 / 44100, 3), "audio/mpeg"),
])
def test_each_container_says_its_length(data, seconds, kind):
    assert sniff_type(data) == kind
    assert duration(data) == pytest.approx(seconds, abs=0.02)


def test_headers_that_say_nothing_are_estimated_from_the_size():
    broken = b"RIFF\x00\x00\x00\x00WAVEjunk"
    assert sniff_type(broken) == "audio/wav"
    assert duration(broken) == round(len(broken) / ESTIMATE_BYTES_PER_SECOND, 3)
    assert duration(b"OggS" + b"\x00" * 3) == round(7 / ESTIMATE_BYTES_PER_SECOND, 3)   # cut short: no crash


def test_sniffing_keeps_text_and_images_apart_from_audio():
    assert sniff_type(b"ID3 is the name of a tag format") == "text/plain"     # no version byte: text
    assert sniff_type(b"\xff\xd8\xff\xe0" + b"\x00" * 20) == "image/jpeg"
    assert sniff_type(b"\xff\xf1\x50\x80" + b"\x00" * 20) == "audio/aac"       # ADTS, not MP3
    assert classify(b"name,value\nx,1\n", None, "data.csv") == ("text/csv", "my_files")
    assert classify(b"name,value\nx,1\n", "text/csv") == ("text/csv", "my_files")
    assert classify(b"# Notes\n", None, "notes.md") == ("text/markdown", "my_files")
    assert classify(wav(0.1), None, "a.wav") == ("audio/wav", "ace_upload")


def test_language_names():
    assert name("en", "") == "english" and name("zh", "") == "chinese" and name("jw", "") == "javanese"
    assert name(None, "Hello there") == "english"
    assert name(None, "Привет, как дела?") == "russian"
    assert name(None, "你好，世界") == "chinese"
    assert name(None, "こんにちは世界") == "japanese"       # kana wins over the Han characters
    assert name(None, "안녕하세요") == "korean"
    assert name(None, "12345 ...") == "english"
