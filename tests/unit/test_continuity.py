"""Which history continues which upstream conversation (answer/continuity.py)."""
from __future__ import annotations

import time

import pytest

from pandora_v1.answer.continuity import (
    Session,
    Sessions,
    Thread,
    answer_message,
    canonical,
    chain,
    check_every,
    lost,
    open_thread,
    scope_of,
    tail,
)
from pandora_v1.auth.credentials import Credentials
from pandora_v1.errors import APIError
from pandora_v1.files.parts import InputFile
from pandora_v1.runtime.config import ModelEntry
from pandora_v1.runtime.store import SQLiteStore, StoreUnavailable
from pandora_v1.tools.definitions import AUTO, NO_TOOLS, Tool, ToolFields
from pandora_v1.translate.request import ChatMessage, HistoryCall
from tests.conftest import make_jwt

SCOPE = scope_of("user-1|", "gpt-4o", None, NO_TOOLS)     # Credentials(make_jwt(sub="user-1")).account_key()
FIRST = (ChatMessage("system", "Be brief."), ChatMessage("user", "Hi"), ChatMessage("assistant", "Hello!"))
SESSION = Session("conv-1", "msg-answer-1", None)


@pytest.fixture
def sessions(tmp_path):
    return Sessions(SQLiteStore(tmp_path / "s.sqlite3"), ttl=60)


def test_the_next_turn_continues_with_only_its_new_messages(sessions):
    sessions.remember(SCOPE, FIRST, SESSION)
    found = sessions.find(SCOPE, FIRST + (ChatMessage("user", "And now?"),))
    assert found == (SESSION, 3)


def test_an_edited_earlier_message_or_another_system_prompt_starts_fresh(sessions):
    sessions.remember(SCOPE, FIRST, SESSION)
    edited = (FIRST[0], ChatMessage("user", "Hi!"), FIRST[2], ChatMessage("user", "And now?"))
    other_system = (ChatMessage("system", "Be long."), *FIRST[1:], ChatMessage("user", "And now?"))
    other_answer = (*FIRST[:2], ChatMessage("assistant", "Hello"), ChatMessage("user", "And now?"))
    assert sessions.find(SCOPE, edited) is None
    assert sessions.find(SCOPE, other_system) is None
    assert sessions.find(SCOPE, other_answer) is None


def test_another_account_model_or_tool_catalog_is_another_scope(sessions):
    sessions.remember(SCOPE, FIRST, SESSION)
    history = FIRST + (ChatMessage("user", "And now?"),)
    tools = ToolFields((Tool("get_weather"),), AUTO)
    assert sessions.find(scope_of("user-2|", "gpt-4o", None, NO_TOOLS), history) is None
    assert sessions.find(scope_of("user-1|", "gpt-4o-mini", None, NO_TOOLS), history) is None
    assert sessions.find(scope_of("user-1|", "gpt-4o", None, tools), history) is None


def test_nothing_new_after_the_answer_or_no_answer_yet_is_no_continuation(sessions):
    sessions.remember(SCOPE, FIRST, SESSION)
    assert sessions.find(SCOPE, FIRST) is None
    assert sessions.find(SCOPE, (ChatMessage("user", "Hi"),)) is None


def test_a_tool_loop_matches_when_the_client_re_serialises_the_arguments(sessions):
    call = HistoryCall("call_abc", "get_weather", '{"city": "Paris", "unit": "c"}')
    turn = (ChatMessage("user", "Weather?"), ChatMessage("assistant", "", tool_calls=(call,)))
    sessions.remember(SCOPE, turn, Session("conv-2", "msg-2", "NONCE123"))
    resent = (ChatMessage("user", "Weather?"),
              ChatMessage("assistant", "", tool_calls=(HistoryCall("call_abc", "get_weather",
                                                                   '{"unit":"c","city":"Paris"}'),)),
              ChatMessage("tool", "18 C", tool_call_id="call_abc"))
    assert sessions.find(SCOPE, resent) == (Session("conv-2", "msg-2", "NONCE123"), 2)


def test_files_count_by_their_bytes_not_their_place():
    one = ChatMessage("user", "look", (InputFile("messages[0].content[0]", data=b"\x89PNG a"), "look"))
    same = ChatMessage("user", "look", (InputFile("input[0].content[0]", data=b"\x89PNG a"), "look"))
    other = ChatMessage("user", "look", (InputFile("messages[0].content[0]", data=b"\x89PNG b"), "look"))
    assert canonical(one) == canonical(same) != canonical(other)


def test_each_link_stands_for_its_whole_prefix():
    links = chain(SCOPE, FIRST)
    assert len(set(links)) == 3
    assert chain(SCOPE, FIRST[:2]) == links[:2]


def test_a_session_is_forgotten_after_its_ttl(tmp_path):
    sessions = Sessions(SQLiteStore(tmp_path / "s.sqlite3"), ttl=0.05)
    sessions.remember(SCOPE, FIRST, SESSION)
    time.sleep(0.1)
    assert sessions.find(SCOPE, FIRST + (ChatMessage("user", "And now?"),)) is None


def test_an_answer_matches_as_each_api_sends_it_back():
    """A stream's last newline, Anthropic's toolu_ ids for our call_ ids: the same answer."""
    sent = ChatMessage("assistant", "Let me check.\n", tool_calls=(HistoryCall("call_abc", "f", '{"a": 1}'),))
    body = ChatMessage("assistant", "Let me check.", tool_calls=(HistoryCall("call_abc", "f", '{"a":1}'),))
    claude = ChatMessage("assistant", "Let me check.", tool_calls=(HistoryCall("toolu_abc", "f", '{"a":1}'),))
    assert canonical(sent) == canonical(body) == canonical(claude)
    assert canonical(ChatMessage("tool", "ok", tool_call_id="toolu_abc")) == \
        canonical(ChatMessage("tool", "ok", tool_call_id="call_abc"))
    # a user's whitespace is the user's: another message
    assert canonical(ChatMessage("user", "hi ")) != canonical(ChatMessage("user", "hi"))
    assert canonical(ChatMessage("assistant", "a", tool_calls=(HistoryCall("call_x", "f", "{}"),))) != \
        canonical(ChatMessage("assistant", "a", tool_calls=(HistoryCall("call_y", "f", "{}"),)))


def test_tools_emulated_or_not_is_another_scope():
    assert scope_of("u|", "gpt-4o", None, NO_TOOLS, engine=True) != scope_of("u|", "gpt-4o", None, NO_TOOLS,
                                                                          engine=False)
    assert scope_of("u|", "gpt-4-gizmo", "g-1", NO_TOOLS) != scope_of("u|", "gpt-4-gizmo", "g-2", NO_TOOLS)


def test_the_tail_is_what_follows_the_last_answer():
    history = FIRST + (ChatMessage("user", "results"), ChatMessage("user", "And now?"))
    assert tail(history) == history[3:]
    assert tail(FIRST[:2]) == FIRST[:2]


def test_a_thread_keeps_its_history_with_the_answer(sessions):
    thread = Thread(sessions, SCOPE, FIRST[:2])
    thread.keep(answer_message("Hello!"), SESSION)
    found = open_thread(sessions, FIRST + (ChatMessage("user", "And now?"),), NO_TOOLS, ModelEntry("m", "gpt-4o"),
                        Credentials(make_jwt(sub="user-1")))
    assert found is not None and found.session == SESSION and found.nonce is None
    assert open_thread(None, FIRST, NO_TOOLS, ModelEntry("m", "gpt-4o"), Credentials(make_jwt())) is None


def test_lost_conversations_are_the_upstreams_4xx_of_a_bad_continuation():
    assert lost(APIError(404, "x", upstream_status=404)) and lost(APIError(400, "x", upstream_status=422))
    assert lost(APIError(400, "x", upstream_status=400)) and lost(APIError(400, "x", upstream_status=409))
    for status in (401, 403, 413, 429, 500, "timeout", None):
        assert not lost(APIError(400, "x", upstream_status=status))


class BrokenStore:
    def get(self, key):
        raise StoreUnavailable("Redis at x:1", "down")

    get_json = get

    def set_json(self, key, value, ttl=None):
        raise StoreUnavailable("Redis at x:1", "down")


def test_a_store_that_is_down_costs_the_continuation_not_the_answer():
    sessions = Sessions(BrokenStore(), ttl=60)
    assert sessions.find(SCOPE, FIRST + (ChatMessage("user", "And now?"),)) is None
    sessions.remember(SCOPE, FIRST, SESSION)
    sessions.hide_later("conv-1", Credentials(make_jwt()))


def test_idle_conversations_are_hidden_once_with_the_credentials_kept(sessions, monkeypatch):
    clock = [1000.0]
    monkeypatch.setattr("pandora_v1.answer.continuity.time.time", lambda: clock[0])
    creds = Credentials(make_jwt(sub="user-1"), "acc-1")
    sessions.hide_later("conv-1", creds)
    sessions.hide_later("conv-2", creds)
    hidden = []
    hide = lambda cid, c: hidden.append((cid, c))
    clock[0] += 59
    assert sessions.hide_idle(hide) == 0                     # not idle for the TTL yet
    sessions.hide_later("conv-2", creds)                     # conv-2 was continued: its session goes on
    clock[0] += 2
    assert sessions.hide_idle(hide) == 1 and hidden == [("conv-1", creds)]
    assert sessions.hide_idle(hide) == 0                     # once
    clock[0] += 59
    assert sessions.hide_idle(hide) == 1 and [cid for cid, _ in hidden] == ["conv-1", "conv-2"]


def test_a_failed_hide_is_tried_again_unless_it_cannot_succeed(sessions):
    creds = Credentials(make_jwt())
    sessions.hide_later("conv-1", creds)
    sessions.hide_later("conv-2", creds)

    def hide(cid, _):
        status = 503 if cid == "conv-1" else 404
        raise APIError(502, "no", upstream_status=status)

    later = time.time() + 61
    assert sessions.hide_idle(hide, now=later) == 0
    assert len(sessions.store.keys("session-hide:")) == 1        # the 503 stays for the next run, the 404 is gone
    assert sessions.hide_idle(lambda cid, c: None, now=later) == 1


def test_the_hide_record_lives_the_ttl_and_three_checks_more(sessions, monkeypatch):
    clock = [1000.0]
    monkeypatch.setattr("pandora_v1.answer.continuity.time.time", lambda: clock[0])
    sessions.hide_later("conv-1", Credentials(make_jwt()))
    assert check_every(60) == 15 and check_every(1) == 0.5 and check_every(3600) == 60
    clock[0] += 60 + 3 * 15 - 1
    assert len(sessions.store.keys("session-hide:")) == 1
    clock[0] += 2
    assert sessions.store.keys("session-hide:") == []       # the credentials are gone with it
