"""Which turns may be temporary chats (history_and_training_disabled: true), which go with history
on and are hidden afterwards: the decision table, row by row."""
import pytest

from pandora_v1.answer.temporary import MAY_POLL, Turn, history_choice
from pandora_v1.runtime.config import TemporaryChat, parse

DEFAULTS = TemporaryChat()


def choice(alias="gpt-4o", slug="gpt-4o", hints=(), asked=True, hide=False, config=DEFAULTS):
    c = history_choice(Turn(alias, slug, hints), asked=asked, hide=hide, config=config)
    return c.temporary, c.hide


@pytest.mark.parametrize("turn, reason", [
    (Turn("gpt-4o", "o3-mini", ("picture_v2",)), "it asks for a tool (system_hints)"),
    (Turn("gpt-4o", "o3-mini", ("search",)), "it asks for a tool (system_hints)"),
    (Turn("gpt-4o", "o3-mini", ("connector:connector_openai_deep_research",)), "it asks for a tool (system_hints)"),
    (Turn("dall-e-3", "gpt-4-mobile"), "the client named an image model"),
    (Turn("gpt-image-1", "o1-mini"), "the client named an image model"),
    (Turn("thinker", "gpt-5-thinking"), "its model may hand off"),
    (Turn("pro", "gpt-5-5-pro"), "its model may hand off"),
    (Turn("chatgpt", "auto"), "its model may hand off"),
    (Turn("gpt-4o", "gpt-4o"), "its model may draw"),
    (Turn("gpt-5", "gpt-5-5"), "its model may draw"),
    (Turn("fast", "gpt-5-instant"), "its model may draw"),
    (Turn("o3-mini", "o3-mini"), ""),
    (Turn("classic", "gpt-4-mobile"), ""),
])
def test_each_row_of_the_table(turn, reason):
    made = history_choice(turn, asked=True, hide=False, config=DEFAULTS)
    assert made.reason == reason
    assert made.temporary is (reason == "")
    assert [why for why, applies in MAY_POLL if applies(turn, DEFAULTS)][:1] == ([reason] if reason else [])


def test_nothing_asked_is_never_temporary_and_hidden_only_by_the_hide_setting():
    # the hide setting promises removal after the answer, not a temporary chat
    assert choice(slug="o3-mini", asked=False, hide=True) == (False, True)
    assert choice(asked=False, hide=True) == (False, True)
    assert choice(asked=False, hide=False) == (False, False)


def test_asked_but_may_poll_goes_with_history_and_is_hidden_anyway():
    assert choice(asked=True, hide=False) == (False, True)          # gpt-4o may draw
    assert choice(slug="o3-mini", hints=("picture_v2",)) == (False, True)


def test_a_temporary_chat_is_not_hidden():
    assert choice(slug="o3-mini", asked=True, hide=True) == (True, False)


def test_the_lists_are_configurable_patterns():
    config = TemporaryChat(enabled=True, handoff_models=("*-slow",), text_only_models=("gpt-4o", "my-*"))
    assert choice(config=config) == (True, False)
    assert choice(slug="my-model", config=config) == (True, False)
    assert choice(slug="my-model-slow", config=config) == (False, True)
    assert choice(slug="o3-mini", config=config) == (False, True)     # no longer listed: may draw


def test_config_section():
    settings = parse({"temporary_chat": {"enabled": "true", "handoff_models": "a*, b",
                                         "text_only_models": ["x"]}})
    assert settings.temporary_chat == TemporaryChat(True, ("a*", "b"), ("x",))
    assert parse({}).temporary_chat == DEFAULTS and not DEFAULTS.enabled
    from pandora_v1.runtime.config import ConfigError

    with pytest.raises(ConfigError) as info:
        parse({"temporary_chat": {"handoff_models": [1], "enabled": "perhaps"}})
    assert "temporary_chat.handoff_models" in str(info.value) and "temporary_chat.enabled" in str(info.value)


def test_prepare_only_on_the_web_apps_path():
    assert parse({"conversation_prepare": True, "conversation_path": "/backend-api/f/conversation"}
                 ).conversation_prepare is True
    legacy = parse({"conversation_prepare": True})
    assert legacy.conversation_prepare is False and any("conversation_prepare" in n for n in legacy.notes)
