"""Memory per worker with ``token_server: true``: tiktoken's tables live in the token server,
one process for all workers, so a warmed-up worker holds none of them and stays under 80 MB RSS
(RSS counts pages shared with the master too: tables shared after a fork would still count
~66 MB). The default shares them from the master instead (less in all by PSS at 2 workers:
bench/RESULTS.md); tests/test_token_server_e2e.py checks that layout."""
from __future__ import annotations

from pathlib import Path

import requests

from tests.conftest import ACCESS_TOKEN

LIMIT_MB = 80.0


def memory_mb(pid: int) -> dict[str, float]:
    fields = {}
    for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
        name, _, rest = line.partition(":")
        if name in ("Rss", "Pss"):
            fields[name] = int(rest.split()[0]) / 1024
    return fields


def maps_tiktoken(pid: int) -> bool:
    return "tiktoken" in Path(f"/proc/{pid}/maps").read_text()


def test_warmed_up_workers_stay_under_80_mb_rss(make_server, fake):
    srv = make_server(process_workers=2, token_server=True)
    # Both tables in use (gpt-4o: o200k_base, gpt-4-s -> gpt-4: cl100k_base), stream and not.
    for i in range(40):
        answer = requests.post(srv.url + "/v1/chat/completions", timeout=30,
                               headers={"Authorization": f"Bearer {ACCESS_TOKEN}"},
                               json={"model": "gpt-4-s" if i % 2 else "gpt-4o", "stream": i % 4 > 1,
                                     "stream_options": {"include_usage": True} if i % 4 > 1 else None,
                                     "messages": [{"role": "user", "content": "!tokens 50"}]})
        assert answer.status_code == 200
        assert '"completion_tokens":' in answer.text.replace(" ", "")   # counted
    workers = srv.worker_pids()
    assert len(workers) == 2
    assert srv.token_server_pid() is not None
    assert not any(maps_tiktoken(pid) for pid in [srv.process.pid, *workers])   # only the token server
    assert maps_tiktoken(srv.token_server_pid())
    sizes = [memory_mb(pid)["Rss"] for pid in workers]
    assert all(size <= LIMIT_MB for size in sizes), f"worker RSS {sizes} MB"
