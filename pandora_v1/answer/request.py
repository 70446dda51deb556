"""What one answer is asked: the model a client named, the messages, streaming, the tool fields."""
from __future__ import annotations

from dataclasses import dataclass

from ..tools.definitions import NO_TOOLS, ToolFields
from ..translate.request import ChatMessage


@dataclass(frozen=True)
class ChatRequest:
    model: str
    messages: tuple[ChatMessage, ...]
    stream: bool = False
    include_usage: bool = False
    tools: ToolFields = NO_TOOLS
    temporary: bool = False        # the client asked that nothing be kept (Responses ``store: false``)
