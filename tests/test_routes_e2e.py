"""Client mistakes, the other routes, and how the server starts."""
from __future__ import annotations

import json
import subprocess
import sys

import openai
import pytest
import requests

from tests.conftest import ACCESS_TOKEN, ROOT, Server, base_config

AUTH = {"Authorization": f"Bearer {ACCESS_TOKEN}"}


def post(server, body, headers=AUTH, path="/v1/chat/completions", **kwargs):
    return requests.post(server.url + path, data=body if isinstance(body, (bytes, str)) else json.dumps(body),
                         headers=headers, **kwargs)


def assert_openai_error(response, status, param=None, code=None):
    assert response.status_code == status, response.text
    assert response.headers["Content-Type"].startswith("application/json")
    error = response.json()["error"]
    assert set(error) == {"message", "type", "param", "code"} and error["message"]
    if param is not None:
        assert error["param"] == param
    if code is not None:
        assert error["code"] == code
    return error


def test_unknown_model_is_404_model_not_found(client, fake):
    with pytest.raises(openai.NotFoundError) as info:
        client.chat.completions.create(model="gpt-9", messages=[{"role": "user", "content": "x"}])
    assert info.value.body["code"] == "model_not_found"
    assert fake.requests == []


@pytest.mark.parametrize("headers, fragment", [
    ({}, "didn't provide"),
    ({"Authorization": "Basic abc"}, "Bearer"),
    ({"Authorization": "Bearer some-refresh-token"}, "refresh tokens are not configured"),
])
def test_bad_keys_are_401(server, fake, headers, fragment):
    error = assert_openai_error(post(server, {"model": "gpt-4o", "messages": [{"role": "user", "content": "x"}]},
                                     headers=headers), 401, code="invalid_api_key")
    assert fragment in error["message"]
    assert fake.requests == []


@pytest.mark.parametrize("body, status, param", [
    (b"{not json", 400, None),
    (b"", 400, None),
    (b"[1, 2]", 400, None),
    (b"\xff\xfe", 400, None),
    (json.dumps({"model": "gpt-4o", "messages": []}), 400, "messages"),
    (json.dumps({"model": "gpt-4o", "messages": [{"role": "user", "content": "x"}], "n": 3}), 400, "n"),
    (json.dumps({"messages": [{"role": "user", "content": "x"}]}), 400, "model"),
])
def test_bad_bodies(server, fake, body, status, param):
    assert_openai_error(post(server, body), status, param=param)


def test_body_over_the_limit_is_413(make_server, fake):
    srv = make_server(max_request_bytes=4096)
    body = {"model": "gpt-4o", "messages": [{"role": "user", "content": "x" * 10_000}]}
    assert_openai_error(post(srv, body), 413, code="request_too_large")
    assert fake.requests == []


def test_unknown_route_and_wrong_method_are_json(server):
    assert_openai_error(requests.get(server.url + "/v2/nothing"), 404, code="unknown_url")
    assert_openai_error(requests.get(server.url + "/v1/chat/completions"), 405)


def test_cors_preflight_everywhere(server):
    response = requests.options(server.url + "/v1/chat/completions",
                                headers={"Origin": "https://app.example", "Access-Control-Request-Method": "POST",
                                         "Access-Control-Request-Headers": "authorization,content-type"})
    assert response.status_code == 204
    assert response.headers["Access-Control-Allow-Origin"] == "*"
    assert "Authorization" in response.headers["Access-Control-Allow-Headers"]
    assert requests.get(server.url + "/v1/models").headers["Access-Control-Allow-Origin"] == "*"


def test_models_lists_aliases_and_gpts(make_server):
    srv = make_server(gpt_4_s_new_name="gpt-4-s,dall-e-3",
                      gpts={"classic": {"id": "g-YyyyMT9XH-chatgpt-classic"}})
    client = openai.OpenAI(base_url=srv.url + "/v1", api_key=ACCESS_TOKEN)
    names = [m.id for m in client.models.list()]
    for name in ("gpt-4-s", "dall-e-3", "gpt-4o", "gpt-4o-mini", "gpt-3.5-turbo", "reasoner", "classic"):
        assert name in names
    assert client.models.retrieve("classic").id == "classic"


def test_gpts_go_upstream_as_gizmo_interaction(make_server, fake):
    srv = make_server(gpts={"classic": {"id": "g-YyyyMT9XH-chatgpt-classic"}})
    client = openai.OpenAI(base_url=srv.url + "/v1", api_key=ACCESS_TOKEN, max_retries=0)
    for model, gizmo in (("classic", "g-YyyyMT9XH-chatgpt-classic"), ("gizmo-g-abc", "g-abc")):
        client.chat.completions.create(model=model, messages=[{"role": "user", "content": "hi"}])
        payload = fake.requests[-1].json
        assert payload["model"] == "gpt-4-gizmo"
        assert payload["conversation_mode"] == {"kind": "gizmo_interaction", "gizmo_id": gizmo}


def test_api_prefix_moves_every_api_route(make_server, fake):
    srv = make_server(backend_container_api_prefix="666")
    client = openai.OpenAI(base_url=srv.url + "/666/v1", api_key=ACCESS_TOKEN, max_retries=0)
    assert client.chat.completions.create(
        model="gpt-4o", messages=[{"role": "user", "content": "hi"}]).choices[0].message.content
    assert requests.get(srv.url + "/v1/models").status_code == 404


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
