"""Temporary chat or not: whether a turn goes up with ``history_and_training_disabled: true``.

A temporary conversation cannot be read back (``GET /backend-api/conversation/{id}``
answers 404), draws no images and refuses research, so any turn that may need
its conversation document afterwards (an image still rendering, a hand-off's
poll) goes with history on and is hidden once answered instead
(upstream-protocol.md, "Temporary chat"). Temporary is only for what was asked
for (the client's ``store: false``, or ``temporary_chat.enabled``) on a turn
that cannot poll. The hide setting (``need_delete_conversation_after_response``)
promises removal after the answer, not a temporary chat.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from fnmatch import fnmatchcase

from ..runtime.config import TemporaryChat

# Names a client uses for an image model (the seeds' dall-e-3 alias of a text-only slug).
IMAGE_MODELS = ("dall-e*", "gpt-image*", "chatgpt-image*")


@dataclass(frozen=True)
class Turn:
    """What is known about a turn before it is sent."""
    alias: str                      # the model the client named
    slug: str                       # the upstream slug it maps to
    hints: tuple[str, ...] = ()     # system_hints asked for (picture_v2, search, research, …)


@dataclass(frozen=True)
class HistoryChoice:
    temporary: bool     # send history_and_training_disabled: true
    hide: bool          # hide the conversation once answered
    reason: str = ""    # why it cannot be temporary ("" when nothing needs its document)


def _matches(name: str, patterns: tuple[str, ...]) -> bool:
    return any(fnmatchcase(name.lower(), p.lower()) for p in patterns)


# Why a turn may need its conversation document afterwards. Grow this table, not branches.
MAY_POLL: tuple[tuple[str, Callable[[Turn, TemporaryChat], bool]], ...] = (
    # picture_v2 (draw), search and reason (may hand off), research and connectors (always
    # hand off), canvas (refused in temporary chats): every hint asks for a tool.
    ("it asks for a tool (system_hints)", lambda turn, config: bool(turn.hints)),
    ("the client named an image model", lambda turn, config: _matches(turn.alias, IMAGE_MODELS)),
    ("its model may hand off", lambda turn, config: _matches(turn.slug, config.handoff_models)),
    ("its model may draw", lambda turn, config: not _matches(turn.slug, config.text_only_models)),
)


def history_choice(turn: Turn, *, asked: bool, hide: bool, config: TemporaryChat) -> HistoryChoice:
    """``asked``: the client or the configuration wants a temporary chat; ``hide``: the hide setting.

    A temporary chat is not hidden (there is nothing to hide); a turn asked to be temporary that
    cannot be is hidden whatever the hide setting says.
    """
    reason = next((why for why, applies in MAY_POLL if applies(turn, config)), "")
    if asked and not reason:
        return HistoryChoice(temporary=True, hide=False)
    return HistoryChoice(temporary=False, hide=hide or asked, reason=reason)
