"""Reasoning effort: OpenAI's names -> the upstream's thinking_effort, and which slugs take one."""
from __future__ import annotations

import pytest

from pandora_v1.auth.credentials import Credentials
from pandora_v1.errors import APIError
from pandora_v1.models.catalog import ModelCatalog, UpstreamModel, parse_models
from pandora_v1.models.effort import EFFORTS, effort_for_budget, thinking_effort
from pandora_v1.runtime.config import ModelEntry, parse
from pandora_v1.runtime.store import SQLiteStore
from tests.conftest import ACCESS_TOKEN
from tests.fake_capabilities import MODELS_DOCUMENT

CREDS = Credentials(ACCESS_TOKEN)


def test_the_issue_table():
    # issue 20 item 1: none/minimal -> omitted; low/medium -> standard; high -> extended; xhigh/max -> max
    assert {e: thinking_effort(e) for e in EFFORTS} == {
        "none": None, "minimal": None, "low": "standard", "medium": "standard", "high": "extended",
        "xhigh": "max", "max": "max"}
    assert thinking_effort(None) is None


def test_an_effort_the_slug_lacks_becomes_the_nearest_it_has():
    two = ("standard", "extended")
    assert thinking_effort("xhigh", two) == "extended" and thinking_effort("low", two) == "standard"
    assert thinking_effort("medium", ("extended", "max")) == "extended"
    assert thinking_effort("high", ("standard", "max")) == "standard"      # a tie goes to the lower
    assert thinking_effort("high", ()) is None                             # no reasoning mode: no key
    assert thinking_effort("high", ("light",)) is None                     # words we don't know: no key


def test_thinking_budgets_follow_the_messages_api_thresholds():
    assert [effort_for_budget(n) for n in (1024, 7999, 8000, 31999, 32000)] == \
        ["medium", "medium", "high", "high", "max"]


def test_the_2026_model_list_says_which_efforts_each_slug_takes():
    listed = {m.slug: m for m in parse_models(MODELS_DOCUMENT)}
    assert listed["gpt-5-6-thinking"] == UpstreamModel("gpt-5-6-thinking", "GPT-5.6 Thinking",
                                                       ("standard", "extended", "max"))
    assert listed["gpt-5-3-instant"].efforts == ()          # reasoning_type: none
    assert listed["o1"].efforts is None                      # the list does not say
    assert parse_models({"models": [{"slug": "x", "thinking_efforts": ["standard"]}, {"title": "no slug"}, 5]}) \
        == [UpstreamModel("x", "", ("standard",))]
    assert parse_models({"detail": "nope"}) == []


class Upstream:
    def __init__(self, body=None, error=None):
        self.body, self.error, self.calls = body, error, 0

    def get_json(self, path, creds, what=""):
        self.calls += 1
        assert path == "/backend-api/models?history_and_training_disabled=false"
        if self.error:
            raise self.error
        return self.body


@pytest.fixture
def store(tmp_path):
    backend = SQLiteStore(tmp_path / "store.sqlite3")
    yield backend
    backend.close()


def catalog(store, upstream, **config) -> ModelCatalog:
    return ModelCatalog(parse(config), store, upstream)


def test_which_slugs_reason_alias_first_then_the_upstreams_list_then_the_patterns(store):
    upstream = Upstream(MODELS_DOCUMENT)
    models = catalog(store, upstream)
    efforts = models.efforts
    assert efforts(ModelEntry("a", "gpt-5-6-thinking"), CREDS) == ("standard", "extended", "max")
    assert efforts(ModelEntry("a", "gpt-5-3-instant"), CREDS) == ()
    assert efforts(ModelEntry("a", "gpt-5-3-instant", reasoning=True), CREDS) == ("standard", "extended", "max")
    assert efforts(ModelEntry("a", "gpt-5-6-thinking", reasoning=False), CREDS) == ()
    assert efforts(ModelEntry("a", "gpt-5-9-thinking"), CREDS) == ("standard", "extended", "max")   # pattern
    assert efforts(ModelEntry("a", "o1"), CREDS) == ()     # the list does not say, no pattern matches
    assert upstream.calls == 1                              # one fetch, then the store
    assert models.thinking_effort(ModelEntry("a", "gpt-5-5-thinking"), "xhigh", CREDS) == "extended"
    assert models.thinking_effort(ModelEntry("a", "gpt-4o"), "high", CREDS) is None


def test_patterns_are_configuration(store):
    models = catalog(store, Upstream({"models": []}), reasoning_slugs=["my-*"])
    assert models.efforts(ModelEntry("a", "my-model"), CREDS) == ("standard", "extended", "max")
    assert models.efforts(ModelEntry("a", "gpt-5-thinking"), CREDS) == ()


def test_an_unavailable_list_falls_back_and_is_not_asked_again_at_once(store):
    upstream = Upstream(error=APIError(502, "down"))
    models = catalog(store, upstream)
    assert models.listed(CREDS) is None
    assert models.efforts(ModelEntry("a", "gpt-5-thinking"), CREDS) == ("standard", "extended", "max")
    assert models.listed(CREDS) is None and upstream.calls == 1


def test_no_effort_asked_means_no_look_up(store):
    upstream = Upstream(MODELS_DOCUMENT)
    models = catalog(store, upstream)
    for effort in (None, "none", "minimal"):
        assert models.thinking_effort(ModelEntry("a", "gpt-5-6-thinking"), effort, CREDS) is None
    assert upstream.calls == 0
    assert models.listed(CREDS, fetch=False) is None and upstream.calls == 0


def test_config_reads_reasoning_and_the_listing_switch():
    settings = parse({"models": {"x": {"slug": "gpt-5-6-thinking", "reasoning": "false"}},
                      "upstream_models": {"list": "false", "ttl": 60}, "search_model_slug": "auto"})
    assert next(m for m in settings.models if m.alias == "x").reasoning is False
    assert settings.model_settings.list_upstream is False and settings.model_settings.upstream_ttl == 60
    assert settings.model_settings.search_slug == "auto"
    assert {"gpt-5", "gpt-5-thinking", "o3", "o4-mini"} <= {m.alias for m in settings.models}
    with pytest.raises(Exception) as caught:
        parse({"reasoning_slugs": "x", "models": {"y": {"slug": "s", "reasoning": 5}}})
    assert "reasoning_slugs" in str(caught.value) and "models.y.reasoning" in str(caught.value)
