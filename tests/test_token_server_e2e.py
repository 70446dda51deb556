"""The token server under gunicorn (``token_server: true``): the workers count through it,
survive its death (counting themselves, with one warning, the same numbers) and the master
removes its socket folder on the way out. Without it (the default) the master builds the
tables before the fork and the workers count with them."""
from __future__ import annotations

import json
import os
import signal
import time
from pathlib import Path

import requests

from tests.conftest import ACCESS_TOKEN


def usage_of(srv, stream: bool) -> dict:
    answer = requests.post(srv.url + "/v1/chat/completions", timeout=30,
                           headers={"Authorization": f"Bearer {ACCESS_TOKEN}"},
                           json={"model": "gpt-4o", "stream": stream,
                                 "stream_options": {"include_usage": True} if stream else None,
                                 "messages": [{"role": "user", "content": "Count me: ünïcödé 🤖\n!tokens 40"}]})
    assert answer.status_code == 200
    if not stream:
        return answer.json()["usage"]
    chunks = [json.loads(line[6:]) for line in answer.text.splitlines()
              if line.startswith("data: {")]
    return chunks[-1]["usage"]


def test_workers_count_on_when_the_token_server_dies(make_server, fake):
    srv = make_server(process_workers=1, token_server=True)
    pid = srv.token_server_pid()
    assert pid is not None
    socket_path = Path(Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")[-2].decode())
    assert socket_path.exists()
    before = [usage_of(srv, stream) for stream in (False, True)]
    assert before[0]["prompt_tokens"] > 8 and before[0]["completion_tokens"] > 30
    os.kill(pid, signal.SIGKILL)
    time.sleep(0.2)
    after = [usage_of(srv, stream) for stream in (False, True)]
    assert after == before                                   # the same numbers, counted in the worker
    assert srv.log().count("token server unreachable") == 1  # said once, not per request
    srv.stop(graceful=True)
    assert not socket_path.parent.exists()


def test_the_token_server_is_gone_when_the_master_is_killed(make_server, fake):
    srv = make_server(process_workers=1, token_server=True)
    pid = srv.token_server_pid()
    socket_folder = Path(Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")[-2].decode()).parent
    srv.process.kill()                 # no on_exit: the workers leave, the pipe closes, it exits
    deadline = time.monotonic() + 15
    while Path(f"/proc/{pid}").exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not Path(f"/proc/{pid}").exists() or "Z" in Path(f"/proc/{pid}/stat").read_text().split()[2]
    assert not socket_folder.exists()
    srv.wait_stopped()


def maps_tiktoken(pid: int) -> bool:
    return "tiktoken" in Path(f"/proc/{pid}/maps").read_text()


def test_by_default_the_master_builds_the_tables_and_the_workers_share_them(make_server, fake):
    """No token server: the tables come from the master's fork (the workers map tiktoken without
    having built anything), and the counts are the token server's numbers."""
    srv = make_server(process_workers=2)
    assert srv.token_server_pid() is None
    workers = srv.worker_pids()
    assert len(workers) == 2 and all(maps_tiktoken(pid) for pid in [srv.process.pid, *workers])
    shared = [usage_of(srv, stream) for stream in (False, True)]
    counted = make_server(process_workers=1, token_server=True)
    assert [usage_of(counted, stream) for stream in (False, True)] == shared
    assert "token server" not in srv.log()
