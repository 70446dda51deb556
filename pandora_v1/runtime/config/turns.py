"""How turns go upstream: temporary chats (section ``temporary_chat``)."""
from __future__ import annotations

from .reader import Reader
from .settings import TemporaryChat


def temporary_chat(reader: Reader) -> TemporaryChat:
    section = reader.section("temporary_chat")
    return TemporaryChat(
        enabled=reader.boolean("enabled", False, section, "temporary_chat.enabled"),
        handoff_models=reader.strings("handoff_models", TemporaryChat.handoff_models, section,
                                      "temporary_chat.handoff_models"),
        text_only_models=reader.strings("text_only_models", TemporaryChat.text_only_models, section,
                                        "temporary_chat.text_only_models"),
    )
