"""What an operator sees: probes, metrics, access logs without secrets, check-config, deployment files."""
from __future__ import annotations

import json
import re
import subprocess
import sys
import time

import openai
import pytest
import requests

from tests.conftest import ACCESS_TOKEN, ROOT, free_port, make_jwt


def test_health_and_readiness(server, make_server, fake):
    assert requests.get(server.url + "/healthz").json()["status"] == "ok"
    ready = requests.get(server.url + "/readyz")
    assert ready.status_code == 200 and ready.json()["checks"]["upstream"]["reachable"] is True
    down = make_server(upstream_base_url=f"http://127.0.0.1:{free_port()}")
    response = requests.get(down.url + "/readyz")
    assert response.status_code == 503 and response.json()["checks"]["upstream"]["reachable"] is False


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
    # A session kept open: requests.post() alone closes its connection when it returns, and
    # the server notices a client leaving at once (client_watch.py).
    session = requests.Session()
    stream = session.post(server.url + "/v1/chat/completions", stream=True,
                           headers={"Authorization": f"Bearer {ACCESS_TOKEN}"},
                           json={"model": "gpt-4o", "stream": True,
                                 "messages": [{"role": "user", "content": "!stall_mid 1.5\none two three four"}]})
    next(stream.iter_content(None))
    assert metric(requests.get(server.url + "/metrics").text, "pandora_v1_active_streams") == 1
    stream.close()
    session.close()


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


def test_redaction_of_tokens_that_slip_into_messages():
    from pandora_v1.logs import redact

    token = make_jwt()
    text = redact(f"oops Authorization: Bearer {token} and sk-{'a' * 40} via Bearer abcdefghijklmnopqrstuvwxyz")
    assert token not in text and token.split(".")[1] not in text
    assert "abcdefghijklmnopqrstuvwxyz" not in text and "Bearer abcdef…" in text


def test_log_file_rotates_at_midnight_once_across_processes(tmp_path):
    import datetime
    import logging

    from pandora_v1.logs import MidnightRotatingFile

    path = tmp_path / "access.log"
    first, second = MidnightRotatingFile(path, keep=2), MidnightRotatingFile(path, keep=2)
    for handler in (first, second):
        handler.setFormatter(logging.Formatter("%(message)s"))

    def say(handler, text):
        handler.emit(logging.LogRecord("x", logging.INFO, "", 0, text, (), None))

    say(first, "day one a")
    say(second, "day one b")
    yesterday = datetime.date.today() - datetime.timedelta(days=1)
    first.day = second.day = yesterday
    say(first, "day two a")
    say(second, "day two b")
    rotated = path.with_name(f"access.log.{yesterday.isoformat()}")
    assert rotated.read_text() == "day one a\nday one b\n"
    assert path.read_text() == "day two a\nday two b\n"
    for day in ("2020-01-01", "2020-01-02", "2020-01-03"):
        path.with_name(f"access.log.{day}").write_text("old")
    first.day = yesterday - datetime.timedelta(days=1)
    first.inode = path.stat().st_ino
    say(first, "day three")
    kept = sorted(p.name for p in tmp_path.glob("access.log.*"))
    assert len(kept) == 2 and "access.log.2020-01-01" not in kept
    first.close(), second.close()


def run_check(*args, cwd=ROOT):
    return subprocess.run([sys.executable, "-m", "pandora_v1", "check-config", *args], cwd=cwd,
                          capture_output=True, text=True, timeout=60)


def test_check_config_prints_masked_settings(tmp_path):
    config = tmp_path / "config.json"
    config.write_text(json.dumps({"upstream_api_prefix": ["very-secret-prefix"],
                                  "key_for_gpts_info": "eyJsecretsecretsecret",
                                  "redis": {"password": "hunter2hunter2"}}))
    result = run_check(str(config))
    assert result.returncode == 0, result.stderr
    settings = json.loads(result.stdout)
    assert settings["upstream_base_url"] == "http://127.0.0.1:8181"
    for secret in ("very-secret-prefix", "eyJsecretsecretsecret", "hunter2hunter2"):
        assert secret not in result.stdout


def test_check_config_lists_problems(tmp_path):
    config = tmp_path / "config.json"
    config.write_text(json.dumps({"process_workers": 0, "log_level": "LOUD"}))
    result = run_check(str(config))
    assert result.returncode != 0
    assert "process_workers" in result.stderr and "log_level" in result.stderr


def test_deployment_files_reference_only_what_exists():
    dockerfile = (ROOT / "Dockerfile").read_text()
    for line in dockerfile.splitlines():
        if line.startswith("COPY ") and not line.startswith("COPY . "):
            for source in line.split()[1:-1]:
                assert (ROOT / source).exists(), source
    assert "USER pandora" in dockerfile and "HEALTHCHECK" in dockerfile
    assert "./scripts/setup" in dockerfile and "scripts/setup" in (ROOT / "scripts" / "run").read_text()
    compose = (ROOT / "docker-compose.yml").read_text()
    assert re.search(r"build: \.", compose) and (ROOT / "Dockerfile").exists()
    for volume in re.findall(r"- \./(\w+):/app/(\w+)", compose):
        assert volume[0] == volume[1] and volume[0] in ("data", "log", "images", "files")
    assert "redis:" in compose
