"""The status page and /status.json, through the app in this process (Flask's test client, ``web``;
no server needed). The browser tests, against a real server, are in test_pages_browser.py."""
from __future__ import annotations

SECRET_PREFIXES = ["pn-secret-alpha", "pn-secret-beta"]
BASE = "http://localhost"     # the test client's host


def test_index_and_status_json_answer(web, fake):
    page = web.get("/")
    assert page.status_code == 200 and page.headers["Content-Type"].startswith("text/html")
    text = page.get_data(as_text=True)
    assert f"{BASE}/v1/chat/completions" in text.replace("<wbr>", "")
    assert f"{BASE}/v1/messages" in text.replace("<wbr>", "")
    assert "gpt-4o" in text and "embedded" in text

    status = web.get("/status.json")
    assert status.status_code == 200
    info = status.get_json()
    assert info["base_url"] == BASE
    assert info["endpoints"] == {"chat": f"{BASE}/v1/chat/completions",
                                 "responses": f"{BASE}/v1/responses",
                                 "messages": f"{BASE}/v1/messages",
                                 "images": f"{BASE}/v1/images/generations",
                                 "models": f"{BASE}/v1/models"}
    assert {"gpt-4o", "reasoner", "text-only"} <= set(info["models"]) and info["gpts"] == []
    assert info["store"] == "embedded (SQLite)"
    upstream = info["upstream"]
    assert upstream["base_url"] == fake.url and upstream["prefixes"] == 0
    # The fake answers a request without credentials with 401: an answer, so reachable.
    assert upstream["reachable"] is True and upstream["status"] == 401 and upstream["error"] is None
    assert upstream["latency_ms"] >= 0
    probe = fake.wait_for(lambda r: r.path == "/backend-api/models")
    assert probe.method == "GET" and "authorization" not in probe.headers


def test_prefixes_are_counted_never_shown(make_app, fake):
    web = make_app(upstream_api_prefix=SECRET_PREFIXES, backend_container_api_prefix="666",
                   upstream_base_url=fake.url.replace("http://", "http://operator:hunter2@"),
                   gpts={"my-gpt": {"id": "g-abc123"}}).test_client()
    status = web.get("/status.json")
    page = web.get("/")
    playground = web.get("/playground")
    for body in (status.get_data(as_text=True), page.get_data(as_text=True), playground.get_data(as_text=True)):
        assert not any(prefix in body for prefix in SECRET_PREFIXES)
        assert "hunter2" not in body and "operator" not in body
    info = status.get_json()
    assert info["upstream"]["prefixes"] == 2 and info["upstream"]["base_url"] == fake.url
    assert info["upstream"]["reachable"] is True
    assert info["endpoints"]["chat"] == f"{BASE}/666/v1/chat/completions"
    assert info["endpoints"]["messages"] == f"{BASE}/666/v1/messages"
    assert info["gpts"] == ["my-gpt"] and "my-gpt" not in info["models"]
    assert "2 configured" in page.get_data(as_text=True) and "my-gpt" in page.get_data(as_text=True)
    # The check really went through a (secret) prefix.
    probe = fake.wait_for(lambda r: r.path.endswith("/backend-api/models"))
    assert probe.prefix in SECRET_PREFIXES


def test_upstream_check_is_cached_per_worker(web, fake):
    first = web.get("/status.json").get_json()["upstream"]
    second = web.get("/status.json").get_json()["upstream"]
    assert second == first
    assert len([r for r in fake.requests if r.path == "/backend-api/models"]) == 1


def test_unreachable_upstream(make_app, fake):
    web = make_app(upstream_base_url="http://127.0.0.1:9").test_client()   # discard port: nothing listens
    upstream = web.get("/status.json").get_json()["upstream"]
    assert upstream["reachable"] is False and upstream["status"] is None
    assert "could not be reached" in upstream["error"]
    assert web.get("/").status_code == 200


def test_playground_page_answers(web):
    page = web.get("/playground")
    assert page.status_code == 200 and 'id="api-key"' in page.get_data(as_text=True)
    for html in (page, web.get("/")):   # only our own scripts may run
        assert "script-src 'self'" in html.headers["Content-Security-Policy"]
        text = html.get_data(as_text=True)
        assert "<script>" not in text and " on" + "submit=" not in text
    for asset in ("/static/app.js", "/static/playground.js", "/static/style.css"):
        response = web.get(asset)
        assert response.status_code == 200 and response.data
        response.close()


def test_the_anthropic_snippets_use_the_base_url_and_a_claude_name_of_the_table(make_app, fake):
    web = make_app(backend_container_api_prefix="666",
                   anthropic={"models": {"claude-*-preview": "gpt-4o", "claude-house": "gpt-4o"}}).test_client()
    text = web.get("/").get_data(as_text=True)
    claude_code = text[text.index('id="snippet-claude-code"'):text.index('id="snippet-anthropic"')]
    assert f"export ANTHROPIC_BASE_URL={BASE}/666\n" in claude_code and "ANTHROPIC_AUTH_TOKEN=" in claude_code
    sdk = text[text.index('id="snippet-anthropic"'):]
    assert f'anthropic.Anthropic(base_url="{BASE}/666", api_key=' in sdk
    assert 'model="claude-house"' in sdk           # the first name of the table that is no pattern
    assert "/v1/messages" in text.replace("<wbr>", "")
