"""The token server under gunicorn: the workers count through it, survive its death
(counting themselves, with one warning, the same numbers) and the master removes its
socket folder on the way out."""
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
    srv = make_server(process_workers=1)
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
    srv = make_server(process_workers=1)
    pid = srv.token_server_pid()
    socket_folder = Path(Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")[-2].decode()).parent
    srv.process.kill()                 # no on_exit: the workers leave, the pipe closes, it exits
    deadline = time.monotonic() + 15
    while Path(f"/proc/{pid}").exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not Path(f"/proc/{pid}").exists() or "Z" in Path(f"/proc/{pid}/stat").read_text().split()[2]
    assert not socket_folder.exists()
    srv.wait_stopped()
