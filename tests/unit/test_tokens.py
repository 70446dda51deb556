"""Token counts are tiktoken's exactly, whatever pandora_v1 drops or shares to save memory,
counted in this process or by the token server."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import tiktoken
import tiktoken_ext.openai_public as openai_public

from pandora_v1.usage import server as token_server
from pandora_v1.usage import tables as token_tables
from pandora_v1.usage import tokens

ROOT = Path(__file__).resolve().parents[2]

TEXTS = ["", "hello world", "Hello! How can I help you today?", "  leading and trailing  \n\n",
         "日本語のテキスト、絵文字 🤖🎉 and ünïcödé", "<|endoftext|> is text here, not a special token",
         "def f(x):\n    return x ** 2  # comment\n" * 20, "a" * 5000, "1234567890" * 100,
         "https://example.com/path?query=1&b=2#frag", "\u200b\ufeff\x00 odd characters",
         # longer than token_tables.OFF_LOOP_CHARS: counted through tiktoken's buffer, off the loop
         "Ünïcödé prose, code and <|endoftext|> markers 🤖.\n" * 3000, "lone \ud800 surrogate " * 5000]


def reference(name: str) -> tiktoken.Encoding:
    """tiktoken's own Encoding with its full rank table, as built before any memory saving."""
    ranks = token_tables._bundled_ranks(name)
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
    assert token_tables.encoding_name(slug) == name
    expected = reference(name)
    for text in TEXTS:
        assert tokens.count(text, slug) == len(expected.encode(text, disallowed_special=()))


TICKER = """
from gevent import monkey
monkey.patch_all()
import json, gevent
from pandora_v1.usage import tables as token_tables, tokens
token_tables.warm_up()
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


@pytest.fixture(scope="module")
def running_token_server():
    path = token_server.start()
    assert path, "the token server did not start"
    yield path
    token_server.stop()


@pytest.fixture
def through_the_server(running_token_server, monkeypatch):
    monkeypatch.setenv(token_server.SOCKET_ENV, running_token_server)
    asked = []
    original = tokens._Remote.ask
    monkeypatch.setattr(tokens._Remote, "ask", lambda self, frame: asked.append(frame) or original(self, frame))
    return asked


@pytest.mark.parametrize("slug,name", [("gpt-4o", "o200k_base"), ("gpt-4", "cl100k_base")])
def test_the_token_server_counts_as_tiktoken_does(through_the_server, slug, name):
    expected = reference(name)
    for text in TEXTS[1:]:
        assert tokens.count(text, slug) == len(expected.encode(text, disallowed_special=()))
    assert len(through_the_server) == len(TEXTS) - 1          # every count went to the server


def test_prompt_tokens_and_cuts_through_the_server_equal_counting_here(through_the_server, monkeypatch):
    class Message:
        def __init__(self, role, text):
            self.role, self.text = role, text

    messages = [Message("system", "Be brief."), Message("user", TEXTS[5]), Message("assistant", ""),
                Message("user", TEXTS[-1])]
    text = TEXTS[5] + " " + TEXTS[6]
    remote = (tokens.prompt_tokens(messages, "gpt-4o"), tokens.cut(text, 7, "gpt-4o"),
              tokens.cut(text, 10_000, "gpt-4o"), tokens.cut(text, -3, "gpt-4o"))
    assert len(through_the_server) == 4
    monkeypatch.delenv(token_server.SOCKET_ENV)
    local = (tokens.prompt_tokens(messages, "gpt-4o"), tokens.cut(text, 7, "gpt-4o"),
             tokens.cut(text, 10_000, "gpt-4o"), tokens.cut(text, -3, "gpt-4o"))
    assert remote == local
    encoding = reference("o200k_base")
    ids = encoding.encode(text, disallowed_special=())
    assert remote[1] == (len(ids), encoding.decode(ids[:7]))
    assert remote[2] == (len(ids), None) and remote[3] == (len(ids), "")
    assert remote[0] == 3 + sum(3 + len(encoding.encode(m.role)) + len(encoding.encode(m.text, disallowed_special=()))
                                for m in messages)


def test_a_dead_token_server_is_noticed_once_and_counting_goes_on_here(monkeypatch, tmp_path, caplog):
    monkeypatch.setenv(token_server.SOCKET_ENV, str(tmp_path / "nobody-listens.sock"))
    expected = reference("o200k_base")
    with caplog.at_level("WARNING", logger="pandora_v1.usage.tokens"):
        counts = [tokens.count(text, "gpt-4o") for text in TEXTS[1:4]]
    assert counts == [len(expected.encode(text)) for text in TEXTS[1:4]]
    assert [r.message for r in caplog.records].count(
        "token server unreachable (FileNotFoundError); counting in this worker until it answers") == 1


@pytest.mark.parametrize("failure", ["exits at once", "no temporary folder"])
def test_a_token_server_that_cannot_start_is_one_warning_and_no_socket(monkeypatch, capsys, failure):
    monkeypatch.setattr(token_server, "_running", None)      # not the one this module's tests share
    monkeypatch.setattr(token_server, "_folder", None)
    if failure == "exits at once":
        monkeypatch.setattr(sys, "executable", "/bin/false")
    else:
        def no_folder(prefix):
            raise PermissionError(13, "Permission denied")
        monkeypatch.setattr(token_server.tempfile, "mkdtemp", no_folder)
    assert token_server.start() is None
    warning = capsys.readouterr().err
    assert warning.count("the token server did not start") == 1
    assert "built in the master and shared with the workers" in warning
    assert token_server._running is None and token_server._folder is None   # nothing left behind
