"""Token counts are tiktoken's exactly, whatever pandora_v1 drops or shares to save memory."""
from __future__ import annotations

import pytest
import tiktoken
import tiktoken_ext.openai_public as openai_public

from pandora_v1 import tokens

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
