"""The status page and /status.json over plain HTTP (the browser tests are in test_pages_browser.py)."""
from __future__ import annotations

import requests

SECRET_PREFIXES = ["pn-secret-alpha", "pn-secret-beta"]


def test_index_and_status_json_answer(server, fake):
    page = requests.get(server.url + "/")
    assert page.status_code == 200 and page.headers["Content-Type"].startswith("text/html")
    assert f"{server.url}/v1/chat/completions" in page.text.replace("<wbr>", "")
    assert "gpt-4o" in page.text and "embedded" in page.text

    status = requests.get(server.url + "/status.json")
    assert status.status_code == 200
    info = status.json()
    assert info["base_url"] == server.url
    assert info["endpoints"] == {"chat": f"{server.url}/v1/chat/completions",
                                 "responses": f"{server.url}/v1/responses",
                                 "images": f"{server.url}/v1/images/generations",
                                 "models": f"{server.url}/v1/models"}
    assert {"gpt-4o", "reasoner", "text-only"} <= set(info["models"]) and info["gpts"] == []
    assert info["store"] == "embedded (SQLite)"
    upstream = info["upstream"]
    assert upstream["base_url"] == fake.url and upstream["prefixes"] == 0
    # The fake answers a request without credentials with 401: an answer, so reachable.
    assert upstream["reachable"] is True and upstream["status"] == 401 and upstream["error"] is None
    assert upstream["latency_ms"] >= 0
    probe = fake.wait_for(lambda r: r.path == "/backend-api/models")
    assert probe.method == "GET" and "authorization" not in probe.headers


def test_prefixes_are_counted_never_shown(make_server, fake):
    srv = make_server(upstream_api_prefix=SECRET_PREFIXES, backend_container_api_prefix="666",
                      upstream_base_url=fake.url.replace("http://", "http://operator:hunter2@"),
                      gpts={"my-gpt": {"id": "g-abc123"}})
    status = requests.get(srv.url + "/status.json")
    page = requests.get(srv.url + "/")
    playground = requests.get(srv.url + "/playground")
    for body in (status.text, page.text, playground.text):
        assert not any(prefix in body for prefix in SECRET_PREFIXES)
        assert "hunter2" not in body and "operator" not in body
    info = status.json()
    assert info["upstream"]["prefixes"] == 2 and info["upstream"]["base_url"] == fake.url
    assert info["upstream"]["reachable"] is True
    assert info["endpoints"]["chat"] == f"{srv.url}/666/v1/chat/completions"
    assert info["gpts"] == ["my-gpt"] and "my-gpt" not in info["models"]
    assert "2 configured" in page.text and "my-gpt" in page.text
    # The check really went through a (secret) prefix.
    probe = fake.wait_for(lambda r: r.path.endswith("/backend-api/models"))
    assert probe.prefix in SECRET_PREFIXES


def test_upstream_check_is_cached_per_worker(server, fake):
    first = requests.get(server.url + "/status.json").json()["upstream"]
    second = requests.get(server.url + "/status.json").json()["upstream"]
    assert second == first
    assert len([r for r in fake.requests if r.path == "/backend-api/models"]) <= 1


def test_unreachable_upstream(make_server, fake):
    srv = make_server(upstream_base_url="http://127.0.0.1:9")   # discard port: nothing listens
    upstream = requests.get(srv.url + "/status.json").json()["upstream"]
    assert upstream["reachable"] is False and upstream["status"] is None
    assert "could not be reached" in upstream["error"]
    assert requests.get(srv.url + "/").status_code == 200


def test_playground_page_answers(server):
    page = requests.get(server.url + "/playground")
    assert page.status_code == 200 and 'id="api-key"' in page.text
    for html in (page, requests.get(server.url + "/")):   # only our own scripts may run
        assert "script-src 'self'" in html.headers["Content-Security-Policy"]
        assert "<script>" not in html.text and " on" + "submit=" not in html.text
    for asset in ("/static/app.js", "/static/playground.js", "/static/style.css"):
        assert requests.get(server.url + asset).status_code == 200
