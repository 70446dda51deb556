"""config.json as users of the reference products have it."""
import json

import pytest

from pandora_v1.errors import APIError
from pandora_v1.models.registry import ModelRegistry, conversation_mode
from pandora_v1.runtime import config

SEED_STYLE = {
    "log_level": "DEBUG",
    "need_log_to_file": "true",
    "process_workers": 2,
    "process_threads": 2,
    "upstream_base_url": "https://upstream.example/",
    "upstream_api_prefix": ["p1", "/p2/"],
    "backend_container_url": "http://1.2.3.4:50011/",
    "backend_container_api_prefix": "666",
    "gpt_4_s_new_name": "gpt-4-s,dall-e-3",
    "gpt_3_5_new_name": "gpt-3.5-turbo",
    "need_delete_conversation_after_response": "true",
    "use_oaiusercontent_url": False,
    "custom_arkose_url": "false",
    "arkose_urls": "",
    "bot_mode": {"enabled": "true", "enabled_markdown_image_output": "false"},
    "refresh_ToAccess": {"stream_sleep_time": 0.5, "enableOai": "true",
                         "oaifree_refreshToAccess_Url": "https://token.example/api/auth/refresh"},
    "redis": {"host": "redis", "port": 6379, "password": "", "db": 0},
    "some_future_key": {"anything": 1},
}


def test_reads_a_reference_config_as_it_is():
    s = config.parse(SEED_STYLE)
    assert s.upstream_base_url == "https://upstream.example"
    assert s.upstream_prefixes == ("p1", "p2")
    assert s.api_prefix == "666"
    assert s.backend_container_url == "http://1.2.3.4:50011"
    assert s.delete_conversation is True and s.need_log_to_file is True
    assert s.bot_mode.enabled is True and s.bot_mode.markdown_image_output is False
    assert s.stream_sleep_time == 0.5
    assert s.ignored_keys == ("custom_arkose_url", "arkose_urls")
    registry = ModelRegistry(s)
    assert registry.resolve("dall-e-3").slug == "gpt-4"
    assert registry.resolve("gpt-3.5-turbo").slug == "gpt-4o-mini"
    assert registry.resolve("gpt-4o").slug == "gpt-4o"       # default aliases stay


def test_older_pandora_keys_and_string_prefix():
    s = config.parse({"pandora_base_url": "http://pandora:8181", "pandora_api_prefix": "secret"})
    assert (s.upstream_base_url, s.upstream_prefixes) == ("http://pandora:8181", ("secret",))


def test_models_map_and_gpts_and_gizmo_names(tmp_path):
    (tmp_path / "gpts.json").write_text(json.dumps({"classic": {"id": "g-YyyyMT9XH-chatgpt-classic"}}))
    (tmp_path / "config.json").write_text(json.dumps(
        {"models": {"gpt-4.1": "gpt-4-1", "mini": {"slug": "o3-mini", "images": "false"}}}))
    s = config.load(tmp_path / "config.json")
    registry = ModelRegistry(s)
    assert registry.resolve("gpt-4.1").slug == "gpt-4-1"
    assert registry.resolve("mini").accepts_images is False
    classic = registry.resolve("classic")
    assert conversation_mode(classic) == {"kind": "gizmo_interaction", "gizmo_id": "g-YyyyMT9XH-chatgpt-classic"}
    assert registry.resolve("gizmo-g-abc123").gizmo_id == "g-abc123"
    assert registry.resolve("gpt-4-gizmo-g-abc123").slug == "gpt-4-gizmo"
    assert "classic" in registry.names()
    with pytest.raises(APIError) as info:
        registry.resolve("gpt-9")
    assert (info.value.status, info.value.code, info.value.param) == (404, "model_not_found", "model")


def test_every_problem_is_named_at_once():
    with pytest.raises(config.ConfigError) as info:
        config.parse({"upstream_base_url": "ftp://x", "process_workers": "many",
                      "need_delete_conversation_after_response": "maybe",
                      "upstream_api_prefix": 5, "models": {"x": 3},
                      "refresh_ToAccess": {"stream_sleep_time": "slow"}})
    text = str(info.value)
    for key in ("upstream_base_url", "process_workers", "need_delete_conversation_after_response",
                "upstream_api_prefix", "models.x", "refresh_ToAccess.stream_sleep_time"):
        assert key in text


def test_unreadable_files_are_config_errors(tmp_path):
    with pytest.raises(config.ConfigError, match="cannot read"):
        config.load(tmp_path / "missing.json")
    (tmp_path / "config.json").write_text("{not json")
    with pytest.raises(config.ConfigError, match="not valid JSON"):
        config.load(tmp_path / "config.json")
    (tmp_path / "config.json").write_text("{}")
    (tmp_path / "gpts.json").write_text('{"x": {"id": "nope"}}')
    with pytest.raises(config.ConfigError, match="gpts.json"):
        config.load(tmp_path / "config.json")


def test_token_exchange_styles():
    assert config.parse({}).token_exchange.style == ""     # nothing vendor-specific built in
    proxy = config.parse({"refresh_ToAccess": {"oaifree_refreshToAccess_Url": "https://t.example/api/auth/refresh"}})
    assert (proxy.token_exchange.style, proxy.token_exchange.url) == ("proxy", "https://t.example/api/auth/refresh")
    xy = config.parse({"refresh_ToAccess": {"xyhelper_refreshToAccess_Url": "http://xy/api/auth/refresh"}})
    assert xy.token_exchange.url == "http://xy/api/auth/refresh"
    oauth = config.parse({"refresh_ToAccess": {"enableOai": True, "oai_client_id": "app_x",
                                               "oai_token_url": "https://auth.example/oauth/token"}}).token_exchange
    assert (oauth.style, oauth.url, oauth.client_id) == ("oauth", "https://auth.example/oauth/token", "app_x")


def test_an_old_enable_oai_config_still_starts_and_says_what_is_missing():
    seed = config.parse(SEED_STYLE)      # enableOai "true" with only the proxy URL, as users have it
    assert (seed.token_exchange.style, seed.token_exchange.url) == ("proxy", "https://token.example/api/auth/refresh")
    bare = config.parse({"refresh_ToAccess": {"enableOai": "true"}})
    assert bare.token_exchange.style != "oauth"
    warning = " ".join(config.startup_warnings(bare))
    assert "refresh_ToAccess.oai_token_url" in warning and "refresh_ToAccess.oai_client_id" in warning
    with pytest.raises(config.ConfigError, match="refresh_ToAccess.oaifree_refreshToAccess_Url"):
        config.parse({"refresh_ToAccess": {"oaifree_refreshToAccess_Url": "token.example/refresh"}})


def test_store_schedule_and_data_dir():
    s = config.parse({})
    assert s.data_dir == "data" and not s.redis.enabled
    assert (s.refresh_schedule.hour, s.refresh_schedule.minute, s.refresh_schedule.timezone) == (3, 0, "UTC")
    s = config.parse({"data_dir": "/var/lib/p", "redis": {"host": "redis", "port": "6380", "db": 2},
                      "refresh_schedule": {"time": "04:30:15", "timezone": "Asia/Shanghai", "enabled": "false"}})
    assert s.data_dir == "/var/lib/p"
    assert (s.redis.enabled, s.redis.host, s.redis.port, s.redis.db) == (True, "redis", 6380, 2)
    sched = s.refresh_schedule
    assert (sched.enabled, sched.hour, sched.minute, sched.second) == (False, 4, 30, 15)
    assert str(sched.tzinfo()) == "Asia/Shanghai"
    with pytest.raises(config.ConfigError) as info:
        config.parse({"refresh_schedule": {"time": "3 am", "timezone": "Nowhere/City"}})
    assert "refresh_schedule.time" in str(info.value) and "refresh_schedule.timezone" in str(info.value)


def test_redis_url_from_the_environment(monkeypatch):
    monkeypatch.setenv("REDIS_URL", "redis://:pw@cache:6390/1")
    assert config.parse({}).redis.url == "redis://:pw@cache:6390/1"
    assert config.parse({}).redis.enabled
    monkeypatch.setenv("REDIS_URL", "http://cache")
    with pytest.raises(config.ConfigError, match="REDIS_URL"):
        config.parse({})


def test_gateway_accounts_and_client_keys():
    s = config.parse({
        "refresh_ToAccess": {"oaifree_refreshToAccess_Url": "http://t/api/auth/refresh"},
        "upstream_accounts": {"main": {"access_token": "eyJ.a.b", "account_id": "acc-1"},
                              "spare": {"refresh_token": "rt-1"}},
        "client_keys": {"sk-nextweb-0123456789": "main", "sk-bot-0123456789": "spare"}})
    assert [(a.name, a.access_token, a.refresh_token, a.account_id) for a in s.upstream_accounts] == [
        ("main", "eyJ.a.b", "", "acc-1"), ("spare", "", "rt-1", "")]
    assert s.client_keys == (("sk-nextweb-0123456789", "main"), ("sk-bot-0123456789", "spare"))


def test_gateway_problems_are_named_without_printing_keys():
    with pytest.raises(config.ConfigError) as info:
        config.parse({"upstream_accounts": {"both": {"access_token": "a", "refresh_token": "b"},
                                            "none": {}, "rt": {"refresh_token": "rt-x"}},
                      "client_keys": {"sk-secret-client-key-123": "ghost"}})
    text = str(info.value)
    assert "upstream_accounts.both" in text and "upstream_accounts.none" in text
    assert "upstream_accounts.rt.refresh_token" in text            # no exchange configured
    assert "client_keys[" in text and "ghost" in text
    assert "sk-secret-client-key-123" not in text


def test_tools_section():
    assert config.parse({}).tools == config.ToolSettings(True, 1, 200_000, True)
    s = config.parse({"tools": {"enabled": "false", "retry_attempts": 0, "max_catalog_chars": 5000,
                                "early_close": False}})
    assert s.tools == config.ToolSettings(False, 0, 5000, False)
    with pytest.raises(config.ConfigError) as info:
        config.parse({"tools": {"retry_attempts": -1, "early_close": "maybe"}})
    assert any("tools.retry_attempts" in p for p in info.value.problems)
    assert any("tools.early_close" in p for p in info.value.problems)


def test_the_token_server_is_off_unless_asked_for():
    """Off by default: at the default two workers, sharing the master's tables costs less in all."""
    assert config.parse({}).token_server is False
    assert config.parse({"token_server": True}).token_server is True
    with pytest.raises(config.ConfigError):
        config.parse({"token_server": "perhaps"})


def test_continuity_section():
    assert config.parse({}).continuity == config.Continuity(True, 3600.0, 40_000)
    s = config.parse({"continuity": {"enabled": "false", "ttl": "120", "big_paste_bytes": 0}})
    assert s.continuity == config.Continuity(False, 120.0, 0)
    with pytest.raises(config.ConfigError) as info:
        config.parse({"continuity": {"enabled": "sometimes", "ttl": 0, "big_paste_bytes": 1.5}})
    assert {p.split(":")[0] for p in info.value.problems} == {"continuity.enabled", "continuity.ttl",
                                                            "continuity.big_paste_bytes"}
