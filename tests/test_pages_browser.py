"""The pages in a real headless Chromium (Debian's /usr/bin/chromium, driven by playwright).

Screenshots of each page, desktop and a 390x844 phone, are kept in
tests/artifacts/ (git-ignored). Without chromium (not root, so scripts/test
could not install it) or playwright these tests skip, saying why.
"""
from __future__ import annotations

import os
import re
import time

import pytest
import requests

from tests.conftest import ACCESS_TOKEN, ROOT
from tests.fake_sessions import model_texts
from tests.fake_upstream import MIDSTREAM_ERROR, png_bytes, revised_prompt
from tests.test_responses_e2e import conversations

pytestmark = [pytest.mark.e2e, pytest.mark.browser]

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
ARTIFACTS = ROOT / "tests" / "artifacts"
DESKTOP = {"width": 1280, "height": 860}
PHONE = {"width": 390, "height": 844}
SECRET_PREFIXES = ["pn-secret-alpha", "pn-secret-beta"]
DONE = ".message.assistant[data-state=done]"


@pytest.fixture(scope="module")
def browser():
    if not os.access(CHROMIUM, os.X_OK):
        pytest.skip(f"no {CHROMIUM}: install Debian's chromium as root "
                    "(./scripts/test does when it runs as root) to run the browser tests")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.skip("the playwright package is missing: pip install -r requirements-dev.txt")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def open_page(browser):
    """open_page(url, viewport) -> a page in a fresh context.

    A JavaScript error or a Content-Security-Policy violation fails the test."""
    contexts, errors = [], []

    def open_(url: str, viewport: dict = DESKTOP, routes: dict | None = None):
        context = browser.new_context(viewport=viewport)
        contexts.append(context)
        page = context.new_page()
        for pattern, handler in (routes or {}).items():     # e.g. hold a script back
            page.route(pattern, handler)
        page.set_default_timeout(15_000)
        page.on("pageerror", lambda error: errors.append(error))
        page.on("console", lambda message: "Content Security Policy" in message.text and errors.append(message.text))
        page.goto(url)
        return page

    yield open_
    for context in contexts:
        context.close()
    assert not errors, f"JavaScript errors: {errors}"


def expect(locator):
    from playwright.sync_api import expect as playwright_expect

    return playwright_expect(locator)


def screenshot(page, name: str, full_page: bool = True) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=full_page)


def no_sideways_scroll(page) -> None:
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= page.viewport_size["width"], f"the page is {width}px wide"


def start_chat(page, key: str = ACCESS_TOKEN, model: str = "gpt-4o") -> None:
    page.fill("#api-key", key)
    expect(page.locator(f"#model option[value='{model}']")).to_have_count(1)
    page.select_option("#model", model)


def ask(page, prompt: str, *, via_enter: bool = True):
    """Send ``prompt``; the finished answer's element."""
    answers = page.locator(".message.assistant").count()
    page.fill("#prompt", prompt)
    if via_enter:
        page.press("#prompt", "Enter")
    else:
        page.click("#send")
    answer = page.locator(".message.assistant").nth(answers)
    expect(answer).to_have_attribute("data-state", "done")
    return answer


def wait_images_loaded(page, selector: str, count: int) -> list:
    page.wait_for_function(
        "([selector, count]) => { const images = [...document.querySelectorAll(selector)];"
        " return images.length === count && images.every((i) => i.complete && i.naturalWidth > 0); }",
        arg=[selector, count])
    return page.eval_on_selector_all(selector, "images => images.map((i) => i.src)")


# ---------------------------------------------------------------- status page

def test_status_page(make_server, fake, open_page):
    srv = make_server(backend_container_api_prefix="666", upstream_api_prefix=SECRET_PREFIXES,
                      gpts={"my-gpt": {"id": "g-abc123"}})
    base = f"{srv.url}/666"
    names = [m["id"] for m in requests.get(f"{base}/v1/models").json()["data"]]
    page = open_page(srv.url + "/")

    endpoints = page.locator("#endpoints")
    for path in ("/v1/chat/completions", "/v1/messages", "/v1/images/generations", "/v1/models"):
        expect(endpoints).to_contain_text(base + path)
    assert page.locator("#models li").all_inner_texts() == [n for n in names if n != "my-gpt"]
    assert page.locator("#gpts li").all_inner_texts() == ["my-gpt"]
    expect(page.locator("#upstream-url")).to_have_text(fake.url)
    expect(page.locator("#prefixes")).to_contain_text("2 configured")
    expect(page.locator("#store")).to_have_text("embedded (SQLite)")
    expect(page.locator("#health")).to_have_attribute("data-state", "ok")
    expect(page.locator("#health")).to_contain_text("HTTP 401")
    assert not any(prefix in page.content() for prefix in SECRET_PREFIXES)

    curl = page.locator("#snippet-curl")
    expect(curl).to_be_visible()
    expect(curl).to_contain_text(f"curl {base}/v1/chat/completions")
    expect(curl).to_contain_text("Authorization: Bearer $ACCESS_TOKEN")
    page.click("[role=tab][aria-controls=snippet-python]")
    expect(curl).to_be_hidden()
    expect(page.locator("#snippet-python")).to_contain_text(f'base_url="{base}/v1"')
    screenshot(page, "status-desktop")
    page.click("[role=tab][aria-controls=snippet-nextchat]")
    nextchat = page.locator("#snippet-nextchat code")
    expect(nextchat).to_contain_text(f"BASE_URL={base}\n")
    expect(nextchat).to_contain_text("CUSTOM_MODELS=-all," + ",".join(f"+{n}" for n in names))

    # Copy puts the snippet itself on the clipboard (127.0.0.1 is a secure context).
    page.context.grant_permissions(["clipboard-read", "clipboard-write"])
    page.click("#snippet-nextchat .copy")
    expect(page.locator("#snippet-nextchat .copy")).to_have_text("Copied")
    assert page.evaluate("navigator.clipboard.readText()") == nextchat.text_content()

    # The playground calls the API under its prefix.
    playground = open_page(srv.url + "/playground")
    start_chat(playground, model="my-gpt")
    expect(ask(playground, "hi").locator(".content")).to_have_text("Hello! How can I help you today?")
    fake.wait_for(lambda r: r.path.endswith("/backend-api/conversation"))

    phone = open_page(srv.url + "/", PHONE)
    expect(phone.locator("#health")).to_have_attribute("data-state", "ok")
    no_sideways_scroll(phone)
    screenshot(phone, "status-phone")


# ---------------------------------------------------------------- playground

def test_chat_streams_rendered_markdown(server, fake, open_page):
    page = open_page(server.url + "/playground")
    start_chat(page)
    # Count the renders: an answer that arrives in pieces must be drawn more than once.
    page.evaluate("""window.renders = 0;
        new MutationObserver(() => window.renders++).observe(
            document.getElementById('messages'), {subtree: true, childList: true});""")
    answer = ask(page, "!pieces 2\n!delay 0.01\nHere is code:\n```python\nprint(1 + 1)\n```\n"
                       "That is **bold**, *soft* and `inline`.\n\n- one\n- [two](https://example.com/two)")
    content = answer.locator(".content")
    expect(content.locator("pre code")).to_have_text("print(1 + 1)")
    expect(content.locator("strong")).to_have_text("bold")
    expect(content.locator("em")).to_have_text("soft")
    expect(content.locator("p code")).to_have_text("inline")
    assert content.locator("li").all_inner_texts() == ["one", "two"]
    expect(content.locator("a")).to_have_attribute("href", "https://example.com/two")
    expect(answer.locator(".meta")).to_contain_text("tokens")
    assert page.evaluate("window.renders") > 5

    # The key stays in this browser, and comes back on the next visit.
    assert page.evaluate("localStorage.getItem('pandora_v1.apiKey')") == ACCESS_TOKEN
    page.reload()
    expect(page.locator("#api-key")).to_have_value(ACCESS_TOKEN)


def test_markdown_never_runs_what_the_answer_contains(server, fake, open_page):
    page = open_page(server.url + "/playground")
    start_chat(page)
    hostile = ('<img src=x onerror="window.pwned=1"> <script>window.pwned=1</script> '
               '[click](javascript:window.pwned=1) ![x](javascript:1) **<b>not bold</b>**\n'
               '```\n<script>window.pwned=1</script>\n```')
    answer = ask(page, hostile)
    content = answer.locator(".content")
    expect(content.locator("pre code")).to_have_text("<script>window.pwned=1</script>")
    expect(content).to_contain_text('<img src=x onerror="window.pwned=1">')
    expect(content.locator("strong")).to_have_text("<b>not bold</b>")
    assert content.locator("img, script, b, a").count() == 0
    assert page.evaluate("window.pwned") is None


def test_reasoning_is_shown_dimmed(server, fake, open_page):
    page = open_page(server.url + "/playground")
    start_chat(page, model="reasoner")
    answer = ask(page, "!reasoning\nThe answer.")
    reasoning = answer.locator(".reasoning")
    expect(reasoning).to_be_visible()
    expect(reasoning).to_contain_text("I should greet the user.")
    expect(answer.locator(".content")).to_have_text("The answer.")
    colour = "el => getComputedStyle(el).color"
    assert reasoning.evaluate(colour) != answer.locator(".content").evaluate(colour)


def test_stop_ends_the_answer_and_the_upstream_stream(server, fake, open_page):
    page = open_page(server.url + "/playground")
    start_chat(page)
    page.fill("#prompt", "!pieces 1\n!delay 0.05\n" + "slowly " * 40)
    page.press("#prompt", "Enter")
    answer = page.locator(".message.assistant").last
    expect(answer.locator(".content")).to_contain_text("slowly slowly")
    expect(page.locator("#send")).to_have_text("Stop")
    page.click("#send")
    expect(answer).to_have_attribute("data-state", "done")
    expect(answer.locator(".meta")).to_contain_text("stopped")
    expect(page.locator("#send")).to_have_text("Send")
    assert len(answer.locator(".content").inner_text()) < len("slowly " * 40) - 10
    fake.wait_for(lambda r: r.stream_outcome == "client_gone", timeout=10)


def test_dalle_answer_shows_the_image(server, fake, open_page):
    page = open_page(server.url + "/playground")
    start_chat(page)
    answer = ask(page, "!dalle 1\nHere is your otter.", via_enter=False)
    expect(answer.locator(".content")).to_contain_text("Here is your otter.")
    [src] = wait_images_loaded(page, ".message.assistant .content img", 1)
    assert src.startswith(f"{server.url}/images/")


def test_image_upload_reaches_the_upstream(server, fake, open_page):
    page = open_page(server.url + "/playground")
    start_chat(page)
    picture = png_bytes("playground-upload", 16, 12)
    page.set_input_files("#image-file", files=[{"name": "dot.png", "mimeType": "image/png", "buffer": picture}])
    expect(page.locator("#attachments img")).to_have_count(1)
    answer = ask(page, "What is in this picture?")
    expect(answer.locator(".content")).to_have_text("What is in this picture?")
    expect(page.locator("#attachments")).to_be_hidden()
    wait_images_loaded(page, ".message.user .thumbs img", 1)
    created = fake.wait_for(lambda r: r.method == "POST" and r.path.endswith("/backend-api/files"))
    assert created.json["file_size"] == len(picture)
    assert [u["bytes"] for u in fake.uploads.values()] == [picture]
    conversation = fake.wait_for(lambda r: r.path.endswith("/backend-api/conversation"))
    assert conversation.json["messages"][-1]["metadata"]["attachments"][0]["size"] == len(picture)


def test_image_generation_form(server, fake, open_page):
    page = open_page(server.url + "/playground")
    start_chat(page)
    page.click("[role=tab][aria-controls=images-panel]")
    page.fill("#image-prompt", "!dalle 2\nA cute baby sea otter")
    page.select_option("#image-n", "2")
    page.click("#generate")
    sources = wait_images_loaded(page, ".gallery img", 2)
    assert all(src.startswith(f"{server.url}/images/") for src in sources)
    assert page.locator(".gallery figcaption").all_inner_texts() == [revised_prompt(0), revised_prompt(1)]
    generation = fake.wait_for(lambda r: r.path.endswith("/backend-api/conversation"))
    assert "A cute baby sea otter" in generation.json["messages"][-1]["content"]["parts"][0]

    page.fill("#image-prompt", "Just words, no picture.")
    page.click("#generate")
    error = page.locator("#image-error")
    expect(error).to_be_visible()
    expect(error).to_contain_text("No image was generated")
    expect(error).to_contain_text("moderation_blocked")     # platform-spec 4.4 (issue 20)


def test_errors_are_shown(server, fake, open_page):
    page = open_page(server.url + "/playground")
    start_chat(page, key="nope")
    answer = ask(page, "hi")
    error = answer.locator(".error")
    expect(error).to_contain_text("not an access token")
    expect(error).to_contain_text("401")
    assert fake.requests == []

    # An error event in the middle of the stream: the text so far stays, the error is added.
    page.fill("#api-key", ACCESS_TOKEN)
    answer = ask(page, "!error_midstream\n" + "word " * 40)
    expect(answer.locator(".error")).to_contain_text(MIDSTREAM_ERROR)
    expect(answer.locator(".content")).to_contain_text("word word")


def test_key_is_only_sent_as_the_authorization_header(server, fake, open_page):
    key = ACCESS_TOKEN
    page = open_page(server.url + "/playground")
    seen = []
    page.on("request", lambda request: seen.append(
        (request.url, request.post_data or "", request.all_headers())))
    start_chat(page, key=key)
    ask(page, "hi")
    ask(page, "!dalle 1\nAn otter.")
    wait_images_loaded(page, ".message.assistant .content img", 1)
    page.click("[role=tab][aria-controls=images-panel]")
    page.fill("#image-prompt", "!dalle 1\nAn otter")
    page.click("#generate")
    wait_images_loaded(page, ".gallery img", 1)
    page.reload()
    expect(page.locator("#model option[value='gpt-4o']")).to_have_count(1)

    api_calls = [url for url, _, headers in seen if headers.get("authorization") == f"Bearer {key}"]
    assert sorted(api_calls) == [f"{server.url}/v1/{path}" for path in
                                 ("chat/completions", "chat/completions", "images/generations", "models")]
    for url, body, headers in seen:
        assert url.startswith(server.url + "/"), url   # nothing leaves for another origin
        assert key not in url and key not in body
        assert all(key not in value for name, value in headers.items() if name != "authorization"), url


def test_playground_screenshots(server, fake, open_page):
    for name, viewport in (("desktop", DESKTOP), ("phone", PHONE)):
        page = open_page(server.url + "/playground", viewport)
        expect(page.locator("#empty")).to_be_visible()
        no_sideways_scroll(page)
        start_chat(page, model="reasoner")
        ask(page, "!dalle 1\nHere is your otter, as asked.")
        ask(page, "!reasoning\n### Two ways\nUse `sum` for a list, or a loop:\n"
                  "```python\ntotal = 0\nfor x in [1, 2, 3]:\n    total += x\nprint(total)\n```\n"
                  "Both print **6**; the first is *shorter*.")
        wait_images_loaded(page, ".message.assistant .content img", 1)
        page.evaluate("document.getElementById('messages').scrollTop = 1e6")
        no_sideways_scroll(page)
        screenshot(page, f"playground-{name}", full_page=False)
        page.click("[role=tab][aria-controls=images-panel]")
        page.fill("#image-prompt", "!dalle 2\nA cute baby sea otter")
        page.select_option("#image-n", "2")
        page.click("#generate")
        wait_images_loaded(page, ".gallery img", 2)
        no_sideways_scroll(page)
        screenshot(page, f"playground-images-{name}", full_page=False)


# ---------------------------------------------------------------- the Responses API

def test_playground_speaks_the_responses_api(server, fake, open_page):
    page = open_page(server.url + "/playground")
    start_chat(page, model="reasoner")
    page.select_option("#api", "responses")
    expect(page.locator("#api-path")).to_have_text("/v1/responses")
    answer = ask(page, "!reasoning\n!pieces 2\nThe **answer**.")
    expect(answer.locator(".content strong")).to_have_text("answer")
    expect(answer.locator(".reasoning")).to_contain_text("I should greet the user.")
    expect(answer.locator(".meta")).to_contain_text("tokens")
    # The second turn carries the first as Responses input items: the model is given the whole
    # conversation (continued upstream, so only the new turn is posted: fake_sessions.model_texts).
    ask(page, "Next question")
    given = [text for role, text in model_texts(fake, conversations(fake)[-1]) if role != "system"]
    assert given == ["!reasoning\n!pieces 2\nThe **answer**.", "The **answer**.", "Next question"]
    paths = re.findall(r"pandora_v1\.access: POST (/\S+)", server.log())
    assert paths[-2:] == ["/v1/responses", "/v1/responses"]
    # The choice is remembered; a failure mid-answer is shown.
    page.reload()
    expect(page.locator("#api")).to_have_value("responses")
    start_chat(page)
    failed = ask(page, "!error_midstream\n" + "word " * 30)
    expect(failed.locator(".error")).to_contain_text("Something went wrong")
    screenshot(page, "playground-responses", full_page=False)
    phone = open_page(server.url + "/playground", PHONE)
    no_sideways_scroll(phone)


def test_status_page_shows_the_responses_and_messages_endpoints_and_snippets(make_server, fake, open_page):
    srv = make_server(backend_container_api_prefix="666")
    base = f"{srv.url}/666"
    page = open_page(srv.url + "/")
    expect(page.locator("#endpoints")).to_contain_text(base + "/v1/responses")
    expect(page.locator("#endpoints")).to_contain_text(base + "/v1/messages")
    page.click("[role=tab][aria-controls=snippet-codex]")
    codex = page.locator("#snippet-codex pre code")
    expect(codex).to_be_visible()
    expect(codex).to_contain_text(f'base_url = "{base}/v1"')
    expect(codex).to_contain_text('wire_api = "responses"')
    page.click("[role=tab][aria-controls=snippet-agents]")
    agents = page.locator("#snippet-agents pre code")
    expect(agents).to_contain_text(f'AsyncOpenAI(base_url="{base}/v1"')
    expect(agents).to_contain_text("set_tracing_disabled(True)")
    # The Codex block is the one tests/test_responses_clients_e2e.py runs codex exec with.
    from tests.test_responses_clients_e2e import codex_config

    assert codex.text_content() + "\n" == codex_config(f"{base}/v1")
    page.click("[role=tab][aria-controls=snippet-claude-code]")
    claude_code = page.locator("#snippet-claude-code pre code")
    expect(claude_code).to_be_visible()
    expect(claude_code).to_contain_text(f"export ANTHROPIC_BASE_URL={base}\n")
    page.click("[role=tab][aria-controls=snippet-anthropic]")
    expect(page.locator("#snippet-anthropic pre code")).to_contain_text(f'anthropic.Anthropic(base_url="{base}"')
    expect(page.locator("#snippet-anthropic pre code")).to_contain_text('model="claude-opus-5-5"')
    # Copy takes the block, not the code words in the line above it.
    page.context.grant_permissions(["clipboard-read", "clipboard-write"])
    for name in ("codex", "python", "claude-code", "anthropic"):
        page.click(f"[role=tab][aria-controls=snippet-{name}]")
        page.click(f"#snippet-{name} .copy")
        assert page.evaluate("navigator.clipboard.readText()") == page.locator(f"#snippet-{name} pre code").text_content()
    screenshot(page, "status-codex")


# ---------------------------------------------------------------- live section

def test_the_live_section_fills_when_its_script_arrives_after_the_first_status(server, fake, open_page):
    """live.js draws from the answer app.js fetches: a live.js that loads late must not miss the first
    answer (the next comes 30 s later)."""
    def late(route):
        time.sleep(1.5)         # the browser gets /status.json meanwhile, if it asked for it
        route.continue_()

    page = open_page(server.url + "/", routes={"**/live.js": late})
    expect(page.locator("#live")).to_have_attribute("data-state", "ready")
    expect(page.locator("#health")).not_to_have_attribute("data-state", "pending")


def test_status_page_live_section(make_server, fake, open_page):
    srv = make_server(process_workers=2)
    auth = {"Authorization": f"Bearer {ACCESS_TOKEN}"}

    def chat(prompt, stream=False):
        return requests.post(srv.url + "/v1/chat/completions", headers=auth, timeout=30, json={
            "model": "gpt-4o", "stream": stream, "messages": [{"role": "user", "content": prompt}]})

    answered = [chat("hi", stream=i % 2 == 0) for i in range(6)]
    failed = [chat("!status 500\nx") for _ in range(2)] + [chat("!status 429\nx")]
    assert [r.status_code for r in answered] == [200] * 6
    assert all(r.status_code >= 400 for r in failed)

    # /status.json (whichever worker answers) counts the API requests of both workers.
    info = requests.get(srv.url + "/status.json").json()
    rows = info["live"]["minutes"]
    assert sum(m["requests"] for m in rows) == 9 and sum(m["errors"] for m in rows) == 3
    upstream = {}
    for m in rows:
        for status, n in m["upstream_errors"].items():
            upstream[status] = upstream.get(status, 0) + n
    assert upstream == {"500": 2, "429": 1}
    assert any(m["ttft_p50_ms"] is not None for m in rows)
    names = {job["name"] for job in info["jobs"]}
    assert {"media_cleanup", "live_snapshot", "daily_refresh"} <= names

    page = open_page(srv.url + "/")
    expect(page.locator("#live")).to_have_attribute("data-state", "ready")
    expect(page.locator("#chart-requests .chart-now")).to_contain_text("9 in the hour, 3 errors")
    assert page.locator("#chart-requests rect.bar.s0").count() >= 1
    assert page.locator("#chart-requests rect.bar.s1").count() >= 1
    assert page.locator("#chart-ttft polyline").count() >= 1
    expect(page.locator("#upstream-legend")).to_contain_text("500 × 2")
    expect(page.locator("#upstream-legend")).to_contain_text("429 × 1")
    expect(page.locator("#chart-upstream .chart-now")).to_have_text("3 in the hour")
    expect(page.locator("#chart-streams .chart-now")).to_contain_text("0 open now")
    jobs = page.locator("#jobs li")
    expect(jobs.filter(has_text="media_cleanup")).to_contain_text(" min")
    expect(jobs.filter(has_text="live_snapshot")).to_contain_text("UTC")
    screenshot(page, "status-live-desktop")

    phone = open_page(srv.url + "/", PHONE)
    expect(phone.locator("#live")).to_have_attribute("data-state", "ready")
    no_sideways_scroll(phone)
    screenshot(phone, "status-live-phone")
