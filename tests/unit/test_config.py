"""config.json as users of the reference products have it."""
import json

import pytest

from pandora_v1 import config
from pandora_v1.models import ModelRegistry, conversation_mode
from pandora_v1.errors import APIError

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
    "refresh_ToAccess": {"stream_sleep_time": 0.5, "enableOai": "true"},
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
