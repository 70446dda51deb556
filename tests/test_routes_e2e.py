"""What needs real servers about the routes: several workers, how the server starts and warns.
The routes' shapes and client mistakes are in test_app_routes.py (no server)."""
from __future__ import annotations

import json
import subprocess
import sys

import openai
import pytest
import requests

from tests.conftest import ACCESS_TOKEN, ROOT, Server, base_config

pytestmark = pytest.mark.e2e


def test_two_workers_serve(make_server, fake):
    srv = make_server(process_workers=2)
    client = openai.OpenAI(base_url=srv.url + "/v1", api_key=ACCESS_TOKEN, max_retries=0)
    for _ in range(4):
        assert client.chat.completions.create(
            model="gpt-4o", messages=[{"role": "user", "content": "hi"}]).choices[0].message.content


def test_invalid_config_stops_the_start_naming_the_key(tmp_path, upstream):
    srv = Server(tmp_path, base_config(upstream.url, process_workers="many",
                                       need_delete_conversation_after_response="maybe"))
    assert srv.process.wait(timeout=30) != 0
    log = srv.log()
    assert "process_workers" in log and "need_delete_conversation_after_response" in log
    srv.stop()


def test_ignored_keys_warn_once(make_server):
    srv = make_server(custom_arkose_url="true", arkose_urls="https://x", use_pandora_file_server="false",
                      process_workers=2)
    requests.get(srv.url + "/v1/models")
    log = srv.log()
    assert log.count("ignoring config keys") == 1
    assert "custom_arkose_url" in log and "arkose_urls" in log


def test_python_dash_m_runs_the_same_server(tmp_path, upstream):
    config = tmp_path / "config.json"
    config.write_text(json.dumps(base_config(upstream.url)))
    port = __import__("tests.conftest", fromlist=["free_port"]).free_port()
    process = subprocess.Popen([sys.executable, "-m", "pandora_v1", "--bind", f"127.0.0.1:{port}"],
                               cwd=ROOT, env={**__import__("os").environ, "PANDORA_V1_CONFIG": str(config)},
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        import time

        for _ in range(100):
            try:
                if requests.get(f"http://127.0.0.1:{port}/v1/models", timeout=1).ok:
                    break
            except requests.RequestException:
                time.sleep(0.1)
        assert "reasoner" in requests.get(f"http://127.0.0.1:{port}/v1/models").text
    finally:
        process.terminate()
        process.wait(timeout=15)
