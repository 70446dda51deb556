"""The status page's usage section in a real headless Chromium (playwright): without the admin key
no usage data and /admin/* answers 401; with it, a chart per key drawn by the page's own code, today's
caps, the upstream limits per account and the last requests; never a key on the page, in the URL or
in a cookie. Screenshots in tests/artifacts/."""
from __future__ import annotations

import time

import openai
import pytest
import requests

from tests import test_pages_browser as pages
from tests.conftest import ACCESS_TOKEN
from tests.test_pages_browser import PHONE, expect, no_sideways_scroll, screenshot
from tests.test_usage_e2e import ACCOUNTS, ADMIN, ALICE, BOT, masked, sdk, settle, user

pytestmark = [pytest.mark.e2e, pytest.mark.browser]
browser, open_page = pages.browser, pages.open_page     # the browser tests' fixtures
SECRETS = (ALICE, BOT, ADMIN, ACCESS_TOKEN)


@pytest.fixture
def busy_server(make_server, fake):
    """A server whose two keys have been used: answers, a refusal, an upstream image limit."""
    srv = make_server(upstream_accounts=ACCOUNTS, admin_key=ADMIN,
                      client_keys={ALICE: {"account": "main", "name": "alice", "rpm": 3, "tokens_per_day": 5000},
                                   BOT: "team"})
    alice, bot = sdk(srv, ALICE), sdk(srv, BOT)
    alice.chat.completions.create(model="gpt-4o", messages=user("!tokens 40"))
    list(alice.chat.completions.create(model="gpt-4o-mini", messages=user("!tokens 25"), stream=True))
    alice.chat.completions.create(model="gpt-4o", messages=user("hi"))
    with pytest.raises(openai.RateLimitError):
        alice.chat.completions.create(model="gpt-4o", messages=user("hi"))
    bot.chat.completions.create(model="gpt-4o", messages=user("!image_limit\nNo picture today."))
    settle(srv, ALICE, 4)
    settle(srv, BOT, 1)
    deadline = time.monotonic() + 5
    while not requests.get(srv.url + "/admin/usage.json", headers={"Authorization": f"Bearer {ADMIN}"},
                           timeout=10).json()["upstream_limits"] and time.monotonic() < deadline:
        time.sleep(0.05)
    return srv


def assert_no_secret(page) -> None:
    html = page.content()
    assert not [secret[:10] for secret in SECRETS if secret in html]
    assert not any(secret in page.url for secret in SECRETS)
    assert page.evaluate("document.cookie") == ""
    assert page.locator("#admin-key").input_value() == ""


def test_without_the_admin_key_the_page_has_no_usage(busy_server, open_page):
    page = open_page(busy_server.url + "/")
    expect(page.locator("#health")).to_have_attribute("data-state", "ok")
    usage = page.locator("#usage")
    expect(usage).to_have_attribute("data-state", "locked")
    expect(page.locator("#usage-view")).to_be_hidden()
    assert page.locator("#usage-charts figure").count() == 0 and page.locator("#usage-recent tbody tr").count() == 0
    assert "alice" not in page.content() and masked(BOT) not in page.content()
    statuses = page.evaluate("""async () => Promise.all(["/admin/usage.json", "/admin/anything"].map(
        async (path) => (await fetch(path)).status))""")
    assert statuses == [401, 401]
    # A wrong key: still locked, and not kept.
    page.fill("#admin-key", "sk-not-the-admin-key-0000")
    page.click("#usage-open")
    expect(page.locator("#usage-message")).to_have_text("That is not the admin key.")
    expect(usage).to_have_attribute("data-state", "locked")
    assert page.evaluate("sessionStorage.getItem('pandora_v1.adminKey')") is None
    assert_no_secret(page)


def test_with_the_admin_key_the_usage_is_drawn(busy_server, open_page):
    page = open_page(busy_server.url + "/")
    page.fill("#admin-key", ADMIN)
    page.press("#admin-key", "Enter")
    expect(page.locator("#usage")).to_have_attribute("data-state", "ready")
    # A chart per key, drawn by the page (SVG bars, stacked by model), for the days with tokens.
    alice_chart = page.locator("#usage-charts figure[data-key=alice]")
    expect(alice_chart).to_be_visible()
    assert alice_chart.locator("rect.bar").count() >= 2                  # gpt-4o and gpt-4o-mini today
    assert alice_chart.locator("rect.bar").first.bounding_box()["height"] > 0
    expect(alice_chart.locator(".legend")).to_contain_text("gpt-4o-mini")
    expect(alice_chart.locator(".chart-now")).to_contain_text("3 requests")
    expect(page.locator(f"#usage-charts figure[data-key='{masked(BOT)}'] rect.bar")).to_have_count(1)
    # Today per key with its caps and what is left.
    today = page.locator("#usage-today tbody tr")
    expect(today).to_have_count(2)
    alice_row = today.filter(has_text="alice")
    expect(alice_row).to_contain_text("3/min")
    expect(alice_row).to_contain_text("of 5000 tokens")
    assert alice_row.locator("td").nth(6).inner_text() == "1"           # refused by the rpm cap
    # What the upstream said, per account; the last requests, newest first, without content.
    expect(page.locator("#upstream-limits li[data-account=team]")).to_contain_text("image_gen")
    expect(page.locator("#upstream-limits li[data-account=team]")).to_contain_text("resets")
    recent = page.locator("#usage-recent tbody tr")
    expect(recent).to_have_count(5)
    expect(recent.first).to_contain_text(masked(BOT))
    assert "429" in recent.nth(1).inner_text() and "/v1/chat/completions" in recent.nth(1).inner_text()
    assert "picture" not in page.locator("#usage").inner_text()          # no message content
    assert_no_secret(page)
    assert page.evaluate("sessionStorage.getItem('pandora_v1.adminKey')") == ADMIN
    screenshot(page, "status-usage-desktop")

    page.reload()                                 # kept for this tab ...
    expect(page.locator("#usage")).to_have_attribute("data-state", "ready")
    other_tab = open_page(busy_server.url + "/")   # ... and only this one
    expect(other_tab.locator("#usage")).to_have_attribute("data-state", "locked")
    phone = open_page(busy_server.url + "/", PHONE)
    phone.fill("#admin-key", ADMIN)
    phone.click("#usage-open")
    expect(phone.locator("#usage")).to_have_attribute("data-state", "ready")
    no_sideways_scroll(phone)
    screenshot(phone, "status-usage-phone")
    page.click("#usage-close")
    expect(page.locator("#usage")).to_have_attribute("data-state", "locked")
    expect(page.locator("#usage-view")).to_be_hidden()
    assert page.evaluate("sessionStorage.getItem('pandora_v1.adminKey')") is None
