"""Token counts are tiktoken's exactly, whatever pandora_v1 drops or shares to save memory."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import tiktoken
import tiktoken_ext.openai_public as openai_public

from pandora_v1 import tokens

ROOT = Path(__file__).resolve().parents[2]

TEXTS = ["", "hello world", "Hello! How can I help you today?", "  leading and trailing  \n\n",
         "日本語のテキスト、絵文字 🤖🎉 and ünïcödé", "<|endoftext|> is text here, not a special token",
         "def f(x):\n    return x ** 2  # comment\n" * 20, "a" * 5000, "1234567890" * 100,
         "https://example.com/path?query=1&b=2#frag", "\u200b\ufeff\x00 odd characters",
         # longer than tokens.OFF_LOOP_CHARS: counted through tiktoken's buffer, off the loop
         "Ünïcödé prose, code and <|endoftext|> markers 🤖.\n" * 3000, "lone \ud800 surrogate " * 5000]


def reference(name: str) -> tiktoken.Encoding:
    """tiktoken's own Encoding with its full rank table, as built before any memory saving."""
    ranks = tokens._bundled_ranks(name)
    original = openai_public.load_tiktoken_bpe
    openai_public.load_tiktoken_bpe = lambda *args, **kwargs: ranks
    try:
        spec = getattr(openai_public, name)()
    finally:
        openai_public.load_tiktoken_bpe = original
    return tiktoken.Encoding(**spec)


@pytest.mark.parametrize("slug,name", [("gpt-4o", "o200k_base"), ("gpt-4", "cl100k_base"),
                                       ("gpt-4-mobile", "cl100k_base"), ("o3-mini", "o200k_base")])
def test_counts_equal_tiktokens_own(slug, name):
    assert tokens.encoding_name(slug) == name
    expected = reference(name)
    for text in TEXTS:
        assert tokens.count(text, slug) == len(expected.encode(text, disallowed_special=()))


TICKER = """
from gevent import monkey
monkey.patch_all()
import json, gevent
from pandora_v1 import tokens
tokens.warm_up()
ticks = 0
def ticker():
    global ticks
    while True:
        gevent.sleep(0.001)
        ticks += 1
gevent.spawn(ticker)
gevent.sleep(0.05)
before = ticks
counted = tokens.count("lorem ipsum dolor sit amet " * 200_000, "gpt-4o")
print(json.dumps({"counted": counted, "ticks": ticks - before}))
"""


def test_a_long_count_leaves_the_event_loop_running():
    """Under gevent a 5 MB count runs in the thread pool: another greenlet keeps ticking meanwhile.
    Counted on the loop, it could not tick once (the count holds the loop until it returns)."""
    result = subprocess.run([sys.executable, "-c", TICKER], capture_output=True, text=True, timeout=120,
                            cwd=ROOT)
    assert result.returncode == 0, result.stderr
    outcome = json.loads(result.stdout)
    assert outcome["counted"] == len(reference("o200k_base").encode("lorem ipsum dolor sit amet " * 200_000))
    assert outcome["ticks"] >= 2, outcome
