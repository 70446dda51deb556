"""What an operator sees from a running server: metrics across workers, access logs without secrets.
Probes are in test_app_routes.py, check-config in test_check_config.py, log rotation and the
deployment files in tests/unit."""
from __future__ import annotations

import re
import time

import openai
import pytest
import requests

from tests.conftest import ACCESS_TOKEN, make_jwt

pytestmark = pytest.mark.e2e


def metric(text: str, name: str, **labels) -> float:
    total = 0.0
    for line in text.splitlines():
        if line.startswith(name) and all(f'{k}="{v}"' in line for k, v in labels.items()):
            total += float(line.rsplit(" ", 1)[1])
    return total


def test_metrics_add_up_across_two_workers(make_server, fake):
    srv = make_server(process_workers=2)
    client = openai.OpenAI(base_url=srv.url + "/v1", api_key=ACCESS_TOKEN, max_retries=0)
    for _ in range(4):
        client.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "hi"}])
        list(client.chat.completions.create(model="gpt-4o", stream=True, messages=[{"role": "user", "content": "hi"}]))
    with pytest.raises(openai.RateLimitError):
        client.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "!status 429"}])
    time.sleep(0.3)   # streams are counted when their response closes
    text = requests.get(srv.url + "/metrics").text
    assert metric(text, "pandora_v1_requests_total", route="/v1/chat/completions", status="200", model="gpt-4o") == 8
    assert metric(text, "pandora_v1_requests_total", status="429") == 1
    assert metric(text, "pandora_v1_upstream_errors_total", status="429") == 1
    assert metric(text, "pandora_v1_time_to_first_token_seconds_count", model="gpt-4o") == 8
    assert metric(text, "pandora_v1_request_duration_seconds_count", route="/v1/chat/completions") == 9
    assert metric(text, "pandora_v1_active_streams") == 0


def test_active_streams_gauge_counts_an_open_stream(server, fake):
    stream = requests.post(server.url + "/v1/chat/completions", stream=True,
                           headers={"Authorization": f"Bearer {ACCESS_TOKEN}"},
                           json={"model": "gpt-4o", "stream": True,
                                 "messages": [{"role": "user", "content": "!stall_mid 1.5\none two three four"}]})
    # The reader kept: a discarded iter_content generator closes the connection, and the
    # server notices a client leaving at once (client_watch.py).
    chunks = stream.iter_content(None)
    next(chunks)
    assert metric(requests.get(server.url + "/metrics").text, "pandora_v1_active_streams") == 1
    stream.close()


def test_access_log_lines_and_no_secret_in_any_log_line(make_server, fake):
    refresh_like = "rt_" + "x" * 40
    account = "acc-1234567890"
    token = make_jwt(sub="user-secret-sub")
    srv = make_server(log_level="DEBUG", need_log_to_file="true")
    client = openai.OpenAI(base_url=srv.url + "/v1", api_key=f"{token},{account}", max_retries=0)
    client.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "hi"}])
    list(client.chat.completions.create(model="gpt-4o", stream=True, messages=[{"role": "user", "content": "hi"}]))
    with pytest.raises(openai.AuthenticationError):
        openai.OpenAI(base_url=srv.url + "/v1", api_key=refresh_like, max_retries=0).chat.completions.create(
            model="gpt-4o", messages=[{"role": "user", "content": "hi"}])
    time.sleep(0.3)
    log_file = (srv.directory / "log" / "access.log").read_text()
    access = [line for line in log_file.splitlines() if "pandora_v1.access" in line]
    assert len(access) >= 3
    line = next(line for line in access if "stream=yes" in line)
    assert re.search(r"POST /v1/chat/completions 200 model=gpt-4o stream=yes upstream=200 "
                     r"ttfb_ms=[\d.]+ duration_ms=[\d.]+ bytes=\d+", line), line
    assert "upstream event" in log_file             # DEBUG shows the upstream's events
    everything = log_file + srv.log()
    for secret in (token, token.split(".")[1], token.split(".")[2], refresh_like):
        assert secret not in everything


def test_the_metrics_folder_a_master_made_is_gone_when_it_exits(make_server, tmp_path):
    """Each start makes a folder for the workers' shared metrics; restarts must not pile them up."""
    temp = tmp_path / "tmp"
    temp.mkdir()
    srv = make_server(env={"TMPDIR": str(temp), "PROMETHEUS_MULTIPROC_DIR": ""})
    assert [p.name for p in temp.iterdir() if p.name.startswith("pandora_v1-metrics-")]
    requests.get(srv.url + "/metrics")
    srv.stop()
    assert not [p for p in temp.iterdir() if p.name.startswith("pandora_v1-metrics-")]
