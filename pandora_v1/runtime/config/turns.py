"""How turns go upstream: temporary chats (section ``temporary_chat``), continued conversations and big
inputs (section ``continuity``)."""
from __future__ import annotations

from .reader import Reader
from .settings import Continuity, TemporaryChat


def temporary_chat(reader: Reader) -> TemporaryChat:
    section = reader.section("temporary_chat")
    return TemporaryChat(
        enabled=reader.boolean("enabled", False, section, "temporary_chat.enabled"),
        handoff_models=reader.strings("handoff_models", TemporaryChat.handoff_models, section,
                                      "temporary_chat.handoff_models"),
        text_only_models=reader.strings("text_only_models", TemporaryChat.text_only_models, section,
                                        "temporary_chat.text_only_models"),
    )


def continuity(reader: Reader) -> Continuity:
    section = reader.section("continuity")
    return Continuity(
        enabled=reader.boolean("enabled", Continuity.enabled, section, "continuity.enabled"),
        ttl=reader.number("ttl", Continuity.ttl, section, "continuity.ttl", minimum=1.0),
        big_paste_bytes=reader.number("big_paste_bytes", Continuity.big_paste_bytes, section,
                                      "continuity.big_paste_bytes", integer=True),
    )
