"""Memory per worker: the token tables are built once, in the
master before it forks, and tiktoken's Python copy of the ranks is dropped,
so a warmed-up worker's proportional share of memory (PSS) stays small."""
from __future__ import annotations

from pathlib import Path

import requests

from tests.conftest import ACCESS_TOKEN

LIMIT_MB = 80.0


def pss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
        if line.startswith("Pss:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no Pss line")


def worker_pids(master: int) -> list[int]:
    children = Path(f"/proc/{master}/task/{master}/children").read_text().split()
    return [int(pid) for pid in children]


def test_warmed_up_workers_stay_under_80_mb(make_server, fake):
    srv = make_server(process_workers=2)
    # Both tables in use (gpt-4o: o200k_base, gpt-4-s -> gpt-4: cl100k_base), stream and not.
    for i in range(40):
        answer = requests.post(srv.url + "/v1/chat/completions", timeout=30,
                               headers={"Authorization": f"Bearer {ACCESS_TOKEN}"},
                               json={"model": "gpt-4-s" if i % 2 else "gpt-4o", "stream": i % 4 > 1,
                                     "messages": [{"role": "user", "content": "!tokens 50"}]})
        assert answer.status_code == 200
    workers = worker_pids(srv.process.pid)
    assert len(workers) == 2
    sizes = [pss_mb(pid) for pid in workers]
    assert all(size <= LIMIT_MB for size in sizes), f"worker PSS {sizes} MB"
