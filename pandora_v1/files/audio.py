"""How long an audio file plays, read from its own headers (no decoder, no ffmpeg).

The upstream's transcribe endpoint gives text only; the timed transcription
formats need the length. Each container says it somewhere:

  WAV   the data chunk's size over the format's byte rate (exact)
  FLAC  STREAMINFO's sample count over its rate (exact)
  Ogg   the last page's granule position (Opus: 48 kHz less pre-skip; Vorbis, FLAC: their rate)
  MP4   the movie header's duration over its time scale (m4a, mp4)
  WebM  the segment's Duration, else the last block's timecode (MediaRecorder writes none)
  MP3   a Xing/Info/VBRI frame count, else the size over the first frame's bit rate

When the headers give nothing usable the length is estimated from the size
at 128 kbit/s; ``duration`` never fails.
"""
from __future__ import annotations

import struct
from collections.abc import Callable

from .sniff import sniff_type

ESTIMATE_BYTES_PER_SECOND = 16_000   # 128 kbit/s: a common bit rate for voice recordings


def duration(data: bytes) -> float:
    """Seconds of audio in ``data``, rounded to milliseconds."""
    reader = _READERS.get(sniff_type(data) or "")
    seconds = None
    if reader is not None:
        try:
            seconds = reader(data)
        except (struct.error, IndexError, ValueError, ZeroDivisionError):
            seconds = None
    if seconds is None or seconds < 0 or seconds != seconds:   # (NaN from a broken float)
        seconds = len(data) / ESTIMATE_BYTES_PER_SECOND
    return round(seconds, 3)


def _wav(data: bytes) -> float | None:
    position, byte_rate, size = 12, None, None
    while position + 8 <= len(data):
        kind, length = data[position:position + 4], struct.unpack_from("<I", data, position + 4)[0]
        if kind == b"fmt ":
            byte_rate = struct.unpack_from("<I", data, position + 16)[0]
        elif kind == b"data":
            size = min(length, len(data) - position - 8)   # 0xFFFFFFFF while streaming: what is there
            break
        position += 8 + length + (length & 1)
    return size / byte_rate if byte_rate and size is not None else None


def _flac_streaminfo(info: bytes) -> float | None:
    packed = int.from_bytes(info[10:18], "big")
    rate, samples = packed >> 44, packed & ((1 << 36) - 1)
    return samples / rate if rate and samples else None


def _flac(data: bytes) -> float | None:
    return _flac_streaminfo(data[8:42]) if data[4] & 0x7F == 0 else None   # STREAMINFO comes first


def _ogg(data: bytes) -> float | None:
    segments = data[26]
    packet = data[27 + segments:27 + segments + 64]
    last = data.rfind(b"OggS")
    granule = struct.unpack_from("<q", data, last + 6)[0]
    if packet.startswith(b"OpusHead"):
        return (granule - struct.unpack_from("<H", packet, 10)[0]) / 48_000
    if packet.startswith(b"\x01vorbis"):
        return granule / struct.unpack_from("<I", packet, 12)[0]
    if packet.startswith(b"\x7fFLAC"):
        rate = int.from_bytes(packet[27:30], "big") >> 4     # STREAMINFO after a 13-byte mapping header
        return granule / rate if rate else None
    return None


def _mp4(data: bytes) -> float | None:
    position, end = 0, len(data)
    while position + 8 <= end:
        size, kind = struct.unpack_from(">I4s", data, position)
        header = 8
        if size == 1:
            size, header = struct.unpack_from(">Q", data, position + 8)[0], 16
        elif size == 0:
            size = end - position
        if size < header:
            return None
        if kind == b"moov":
            position, end = position + header, position + size   # look inside
            continue
        if kind == b"mvhd":
            body = position + header
            if data[body] == 1:
                scale, length = struct.unpack_from(">IQ", data, body + 20)
            else:
                scale, length = struct.unpack_from(">II", data, body + 12)
            return length / scale if scale else None
        position += size
    return None


# WebM / Matroska (EBML): the elements walked into, and the ones read.
_EBML_MASTERS = {0x18538067, 0x1549A966, 0x1F43B675, 0xA0}   # Segment, Info, Cluster, BlockGroup
_TIMECODE_SCALE, _DURATION, _CLUSTER_TIME, _SIMPLE_BLOCK, _BLOCK = 0x2AD7B1, 0x4489, 0xE7, 0xA3, 0xA1


def _vint(data: bytes, position: int, keep_marker: bool) -> tuple[int | None, int]:
    """(value, length) of an EBML variable-size integer; value None: "unknown size"."""
    first = data[position]
    length = 9 - first.bit_length()
    if not 1 <= length <= 8:
        raise ValueError("not an EBML number")
    value = int.from_bytes(data[position:position + length], "big")
    if keep_marker:
        return value, length
    value &= (1 << (7 * length)) - 1
    return (None if value == (1 << (7 * length)) - 1 else value), length


def _webm(data: bytes) -> float | None:
    scale, stated, cluster, latest = 1_000_000, None, 0, None
    position = 0
    while position < len(data) - 1:
        element, id_length = _vint(data, position, keep_marker=True)
        size, size_length = _vint(data, position + id_length, keep_marker=False)
        body = position + id_length + size_length
        if element in _EBML_MASTERS:
            position = body              # read its children in line (an unknown size needs no end)
            continue
        if size is None:
            return None
        value = data[body:body + size]
        if element == _TIMECODE_SCALE:
            scale = int.from_bytes(value, "big")
        elif element == _DURATION:
            stated = struct.unpack(">f" if size == 4 else ">d", value)[0]
        elif element == _CLUSTER_TIME:
            cluster = int.from_bytes(value, "big")
        elif element in (_SIMPLE_BLOCK, _BLOCK) and len(value) > 3:
            track_length = _vint(value, 0, keep_marker=False)[1]
            offset = struct.unpack_from(">h", value, track_length)[0]
            latest = max(latest or 0, cluster + offset)
        position = body + size
    ticks = stated if stated else latest
    return ticks * scale / 1e9 if ticks else None


_MP3_BITRATES = {  # (MPEG-1?, layer) -> kbit/s by index
    (True, 3): (0, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320),
    (True, 2): (0, 32, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320, 384),
    (True, 1): (0, 32, 64, 96, 128, 160, 192, 224, 256, 288, 320, 352, 384, 416, 448),
    (False, 3): (0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160),
}
_MP3_RATES = {3: (44100, 48000, 32000), 2: (22050, 24000, 16000), 0: (11025, 12000, 8000)}


def _mp3(data: bytes) -> float | None:
    start = 0
    if data.startswith(b"ID3"):
        size = (data[6] & 0x7F) << 21 | (data[7] & 0x7F) << 14 | (data[8] & 0x7F) << 7 | data[9] & 0x7F
        start = 10 + size + (10 if data[5] & 0x10 else 0)
    header = int.from_bytes(data[start:start + 4], "big")
    if header >> 21 != 0x7FF:
        return None
    version, layer = (header >> 19) & 3, 4 - ((header >> 17) & 3)     # version 3: MPEG-1
    mpeg1 = version == 3
    bitrate = _MP3_BITRATES[(mpeg1, layer) if mpeg1 else (False, 3)][(header >> 12) & 15] * 1000
    rate = _MP3_RATES[version][(header >> 10) & 3]
    samples = 384 if layer == 1 else 1152 if mpeg1 or layer == 2 else 576
    mono = (header >> 6) & 3 == 3
    side = (17 if mono else 32) if mpeg1 else (9 if mono else 17)
    for at, tag in ((start + 4 + side, (b"Xing", b"Info")), (start + 36, (b"VBRI",))):
        if data[at:at + 4] in tag:
            if tag[0] == b"VBRI":
                return struct.unpack_from(">I", data, at + 14)[0] * samples / rate
            if struct.unpack_from(">I", data, at + 4)[0] & 1:       # the frame count is there
                return struct.unpack_from(">I", data, at + 8)[0] * samples / rate
    return (len(data) - start) * 8 / bitrate if bitrate else None


_READERS: dict[str, Callable[[bytes], float | None]] = {
    "audio/wav": _wav, "audio/flac": _flac, "audio/ogg": _ogg, "audio/mp4": _mp4, "video/mp4": _mp4,
    "audio/webm": _webm, "audio/mpeg": _mp3,
}
