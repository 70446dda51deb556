"""Every transcription response format, made of the one text the upstream gives (platform spec 5.2, 5.4).

The timed formats have one segment, the whole file (``[0, duration]``), with
all ten fields a client reads; ``words`` are never made up (a ``word``
granularity just gets none). ``usage``: the duration, rounded up, for
whisper-1; a token estimate otherwise (audio at ten tokens a second, the
text by tiktoken).
"""
from __future__ import annotations

import math

import orjson

from ..usage import tokens
from . import languages
from .transcribe import Transcription

AUDIO_TOKENS_PER_SECOND = 10
TEXT_FORMATS = {"text", "srt", "vtt"}       # text/plain bodies (openai-python returns a str)


def usage(asked: Transcription, text: str) -> dict:
    if asked.model == "whisper-1":
        return {"type": "duration", "seconds": math.ceil(asked.duration)}
    audio = math.ceil(asked.duration * AUDIO_TOKENS_PER_SECOND)
    prompt = tokens.count(asked.prompt, "gpt-4o")
    output = tokens.count(text, "gpt-4o")
    return {"type": "tokens", "input_tokens": audio + prompt,
            "input_token_details": {"text_tokens": prompt, "audio_tokens": audio},
            "output_tokens": output, "total_tokens": audio + prompt + output}


def body(asked: Transcription, text: str) -> tuple[bytes, str]:
    """(body, mimetype) in ``asked.response_format``."""
    kind = asked.response_format
    if kind in TEXT_FORMATS:
        return _TEXTS[kind](text, asked.duration).encode(), "text/plain; charset=utf-8"
    if kind == "verbose_json":
        shape = {"task": "transcribe", "language": languages.name(asked.language, text),
                 "duration": asked.duration, "text": text, "segments": _segments(text, asked.duration),
                 "usage": {"type": "duration", "seconds": math.ceil(asked.duration)}}
    elif kind == "diarized_json":
        shape = {"task": "transcribe", "duration": asked.duration, "text": text,
                 "segments": [segment_event(text, asked.duration)] if text else [], "usage": usage(asked, text)}
    else:
        shape = {"text": text, "usage": usage(asked, text)}
    return orjson.dumps(shape), "application/json"


def _segments(text: str, duration: float) -> list[dict]:
    if not text:
        return []
    return [{"id": 0, "seek": 0, "start": 0.0, "end": duration, "text": f" {text}", "tokens": [],
             "temperature": 0.0, "avg_logprob": 0.0, "compression_ratio": 1.0, "no_speech_prob": 0.0}]


def segment_event(text: str, duration: float) -> dict:
    """A diarized segment: one speaker, the whole file."""
    return {"type": "transcript.text.segment", "id": "seg_0", "start": 0.0, "end": duration, "speaker": "A",
            "text": text}


def _clock(seconds: float, comma: bool) -> str:
    millis = round(seconds * 1000)
    hours, millis = divmod(millis, 3_600_000)
    minutes, millis = divmod(millis, 60_000)
    whole, millis = divmod(millis, 1000)
    return f"{hours:02d}:{minutes:02d}:{whole:02d}{',' if comma else '.'}{millis:03d}"


def _srt(text: str, duration: float) -> str:
    return f"1\n{_clock(0, True)} --> {_clock(duration, True)}\n{text}\n" if text else ""


def _vtt(text: str, duration: float) -> str:
    cue = f"{_clock(0, False)} --> {_clock(duration, False)}\n{text}\n" if text else ""
    return f"WEBVTT\n\n{cue}"


_TEXTS = {"text": lambda text, _: f"{text}\n", "srt": _srt, "vtt": _vtt}


def stream_events(asked: Transcription, text: str) -> list[bytes]:
    """The SSE stream (``data:`` lines only): the text as one delta, a diarized segment when the model
    diarizes, then done with usage."""
    events: list[dict] = [{"type": "transcript.text.delta", "delta": text}] if text else []
    if "diarize" in asked.model and text:
        events.append(segment_event(text, asked.duration))
    events.append({"type": "transcript.text.done", "text": text, "usage": usage(asked, text)})
    return [b"data: " + orjson.dumps(event) + b"\n\n" for event in events]
