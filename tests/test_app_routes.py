"""Client mistakes and the routes' shapes, against the app in this process (Flask's test client,
``web``): no server needed. What needs gunicorn (workers, start-up, the raw HTTP parser) stays in
test_routes_e2e.py and test_bad_input_e2e.py."""
from __future__ import annotations

import json

import pytest

from tests.conftest import ACCESS_TOKEN

AUTH = {"Authorization": f"Bearer {ACCESS_TOKEN}"}
HI = {"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}]}


def post(web, body, headers=AUTH, path="/v1/chat/completions"):
    return web.post(path, data=body if isinstance(body, (bytes, str)) else json.dumps(body), headers=headers)


def assert_openai_error(response, status, param=None, code=None):
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.headers["Content-Type"].startswith("application/json")
    error = response.get_json()["error"]
    assert set(error) == {"message", "type", "param", "code"} and error["message"]
    if param is not None:
        assert error["param"] == param
    if code is not None:
        assert error["code"] == code
    return error


def test_unknown_model_is_404_model_not_found(web, fake):
    assert_openai_error(post(web, {"model": "gpt-9", "messages": [{"role": "user", "content": "x"}]}),
                        404, code="model_not_found")
    assert fake.requests == []


@pytest.mark.parametrize("headers, fragment", [
    ({}, "didn't provide"),
    ({"Authorization": "Basic abc"}, "Bearer"),
    ({"Authorization": "Bearer some-refresh-token"}, "refresh tokens are not configured"),
])
def test_bad_keys_are_401(web, fake, headers, fragment):
    error = assert_openai_error(post(web, {"model": "gpt-4o", "messages": [{"role": "user", "content": "x"}]},
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
def test_bad_bodies(web, fake, body, status, param):
    assert_openai_error(post(web, body), status, param=param)


def test_body_over_the_limit_is_413(make_app, fake):
    web = make_app(max_request_bytes=4096).test_client()
    body = {"model": "gpt-4o", "messages": [{"role": "user", "content": "x" * 10_000}]}
    assert_openai_error(post(web, body), 413, code="request_too_large")
    assert fake.requests == []


def test_unknown_route_and_wrong_method_are_json(web):
    assert_openai_error(web.get("/v2/nothing"), 404, code="unknown_url")
    assert_openai_error(web.get("/v1/chat/completions"), 405)


def test_cors_preflight_everywhere(web):
    response = web.options("/v1/chat/completions",
                           headers={"Origin": "https://app.example", "Access-Control-Request-Method": "POST",
                                    "Access-Control-Request-Headers": "authorization,content-type"})
    assert response.status_code == 204
    assert response.headers["Access-Control-Allow-Origin"] == "*"
    assert "Authorization" in response.headers["Access-Control-Allow-Headers"]
    assert web.get("/v1/models").headers["Access-Control-Allow-Origin"] == "*"


def test_models_lists_aliases_and_gpts(make_app):
    web = make_app(gpt_4_s_new_name="gpt-4-s,dall-e-3",
                   gpts={"classic": {"id": "g-YyyyMT9XH-chatgpt-classic"}}).test_client()
    listing = web.get("/v1/models", headers=AUTH).get_json()
    assert listing["object"] == "list"
    names = [m["id"] for m in listing["data"]]
    for name in ("gpt-4-s", "dall-e-3", "gpt-4o", "gpt-4o-mini", "gpt-3.5-turbo", "reasoner", "classic"):
        assert name in names
    assert all(m["object"] == "model" for m in listing["data"])
    model = web.get("/v1/models/classic", headers=AUTH).get_json()
    assert (model["id"], model["object"]) == ("classic", "model")


def test_gpts_go_upstream_as_gizmo_interaction(make_app, fake):
    web = make_app(gpts={"classic": {"id": "g-YyyyMT9XH-chatgpt-classic"}}).test_client()
    for model, gizmo in (("classic", "g-YyyyMT9XH-chatgpt-classic"), ("gizmo-g-abc", "g-abc")):
        response = post(web, {"model": model, "messages": [{"role": "user", "content": "hi"}]})
        assert response.status_code == 200, response.get_data(as_text=True)
        payload = fake.requests[-1].json
        assert payload["model"] == "gpt-4-gizmo"
        assert payload["conversation_mode"] == {"kind": "gizmo_interaction", "gizmo_id": gizmo}


def test_api_prefix_moves_every_api_route(make_app, fake):
    web = make_app(backend_container_api_prefix="666").test_client()
    answer = post(web, HI, path="/666/v1/chat/completions")
    assert answer.status_code == 200 and answer.get_json()["choices"][0]["message"]["content"]
    assert web.get("/666/v1/models").status_code == 200
    assert web.get("/v1/models").status_code == 404


def test_health_and_readiness(web, make_app, fake):
    from tests.conftest import free_port

    assert web.get("/healthz").get_json()["status"] == "ok"
    ready = web.get("/readyz")
    assert ready.status_code == 200 and ready.get_json()["checks"]["upstream"]["reachable"] is True
    down = make_app(upstream_base_url=f"http://127.0.0.1:{free_port()}").test_client()
    response = down.get("/readyz")
    assert response.status_code == 503 and response.get_json()["checks"]["upstream"]["reachable"] is False


def test_every_route_is_documented_and_every_document_path_exists(app, web):
    routes = {rule.rule.replace("<path:", "{").replace("<", "{").replace(">", "}")
              for rule in app.url_map.iter_rules() if rule.endpoint != "static"}
    documented = set(web.get("/openapi.json").get_json()["paths"])
    assert routes - documented == set(), "undocumented routes"
    assert documented - routes == set(), "documented paths that do not exist"
