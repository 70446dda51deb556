"""Which history continues which upstream conversation (answer/continuity.py)."""
from __future__ import annotations

import pytest

from pandora_v1.answer.continuity import Session, Sessions, canonical, chain, scope_of
from pandora_v1.files.parts import InputFile
from pandora_v1.runtime.store import SQLiteStore
from pandora_v1.tools.definitions import AUTO, NO_TOOLS, Tool, ToolFields
from pandora_v1.translate.request import ChatMessage, HistoryCall

SCOPE = scope_of("user-1|", "gpt-4o", None, NO_TOOLS)
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
    import time

    time.sleep(0.1)
    assert sessions.find(SCOPE, FIRST + (ChatMessage("user", "And now?"),)) is None
