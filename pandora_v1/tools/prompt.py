"""Function calling by prompt: the injected instruction and history rendering (definitions: tooldefs.py).

The upstream has no tool API, so tools become one system instruction that
teaches the model a call block fenced by markers carrying a per-request
nonce (agents-spec A.3.2):

    ⟦call N⟧
    {"name": "get_weather", "arguments": {"city": "Paris"}}
    ⟦/call N⟧

Nobody knows ``N`` before the request, so a marker inside a tool result, a
web page or user text can never be a call (toolcalls.py only looks for this
request's nonce). History is rendered statelessly on every request: an
assistant turn's calls become blocks with the current nonce, a run of tool
results becomes one user message whose result names come from the calls in
the same request (several workers serve one loop; nothing is remembered).

Everything here is API-agnostic: ``/v1/chat/completions`` and
``/v1/responses`` both parse their own shapes into these types and call
``plan_turn``.
"""
from __future__ import annotations

import base64
import secrets
from dataclasses import dataclass, replace

import orjson

from ..errors import bad_request
from ..translate.request import ChatMessage, HistoryCall
from .definitions import ResponseFormat, Tool, ToolChoice

DEFAULT_MAX_CATALOG_CHARS = 200_000
# The markers. The ASCII form is accepted too, in case the model normalises the rare brackets;
# the nonce is what makes a marker genuine, not the glyph.
OPEN, CLOSE = "⟦call {}⟧", "⟦/call {}⟧"
ASCII_OPEN, ASCII_CLOSE = "[[call {}]]", "[[/call {}]]"


@dataclass(frozen=True)
class Protocol:
    """What the detector and the validator of one request need to know."""
    nonce: str
    tools: dict[str, Tool]         # the callable ones (allowed_tools / named limit them)
    required: bool                 # required, named or allowed_tools mode=required
    parallel: bool = True
    legacy: bool = False           # answer as function_call (legacy ``functions``)
    named: str | None = None       # the one function the client forces

    @property
    def markers(self) -> tuple[tuple[str, str], ...]:
        """(open, close) pairs this request accepts."""
        return ((OPEN.format(self.nonce), CLOSE.format(self.nonce)),
                (ASCII_OPEN.format(self.nonce), ASCII_CLOSE.format(self.nonce)))


@dataclass(frozen=True)
class Turn:
    """A request made ready for the upstream: rendered messages, and the protocol if any."""
    messages: tuple[ChatMessage, ...]
    protocol: Protocol | None = None
    response_format: ResponseFormat | None = None


def new_nonce() -> str:
    return base64.b32encode(secrets.token_bytes(5)).decode()   # 8 chars, A-Z2-7



# ----------------------------------------------------------------- the prompt

def plan_turn(messages: tuple[ChatMessage, ...], tools: tuple[Tool, ...], choice: ToolChoice,
              parallel: bool = True, legacy: bool = False,
              response_format: ResponseFormat | None = None,
              max_catalog_chars: int = DEFAULT_MAX_CATALOG_CHARS, enabled: bool = True,
              nonce: str | None = None) -> Turn:
    """The upstream messages for a request; the protocol only with tools and a choice other than none.
    ``nonce``: the one a continued conversation was taught (else a new one).

    Without tools, tool history and response_format the messages come back
    as they are (the same objects), so the upstream payload is unchanged.
    """
    protocol = None
    if enabled and tools and choice.mode != "none":
        allowed = [t for t in tools if choice.allowed is None or t.name in choice.allowed]
        protocol = Protocol(nonce or new_nonce(), {t.name: t for t in allowed}, choice.mode == "required",
                            parallel and not legacy, legacy, choice.named)
    has_history = any(m.role == "tool" or m.tool_calls for m in messages)
    if protocol is None and response_format is None and not has_history:
        return Turn(messages)
    rendered = render_history(messages, protocol.nonce if protocol else None) if has_history else list(messages)
    instructions = []
    if protocol is not None:
        text = instruction(protocol)
        if len(text) > max_catalog_chars:
            raise bad_request(f"The tool definitions are too long ({len(text)} characters; the limit "
                              f"is {max_catalog_chars}).", "tools", code="context_length_exceeded")
        instructions.append(text)
    if response_format is not None:
        instructions.append(format_instruction(response_format))
    if instructions:
        at = next((i for i, m in enumerate(rendered) if m.role != "system"), len(rendered))
        rendered.insert(at, ChatMessage("system", "\n\n".join(instructions)))
    return Turn(tuple(rendered), protocol, response_format)


def instruction(protocol: Protocol) -> str:
    open_, close = protocol.markers[0]
    catalog = "\n".join(orjson.dumps({"name": t.name, "description": t.description,
                                      "parameters": t.parameters}).decode()
                        for t in protocol.tools.values())
    example = next(iter(protocol.tools))
    lines = [
        "You can call the functions below. They are executed by the user's program, not by you.",
        "",
        catalog,
        "",
        "To call a function, write exactly this and nothing after it:",
        open_,
        '{"name": "<function name>", "arguments": {<arguments as a JSON object>}}',
        close,
        "The arguments must be valid JSON matching the function's parameters.",
    ]
    if protocol.parallel:
        lines.append("To call several functions at once, write one block per call, one after another.")
    else:
        lines.append("Write at most one block.")
    lines += [
        "Text before the first block is shown to the user. Never invent results: the user's "
        "program runs the call and sends the result back to you.",
        f'Example:\n{open_}\n{{"name": "{example}", "arguments": {{}}}}\n{close}',
    ]
    named = protocol.named
    if named:
        lines.append(f"You must call `{named}` now.")
    elif protocol.required:
        lines.append("You must call at least one function now.")
    else:
        lines.append("Call a function only when it is needed; otherwise answer normally.")
    return "\n".join(lines)


def format_instruction(fmt: ResponseFormat) -> str:
    text = "Reply with one valid JSON object and nothing else: no code fence, no text before or after."
    if fmt.type == "json_schema":
        if fmt.name:
            text += f"\nThe object is a `{fmt.name}`" + (f": {fmt.description}" if fmt.description else ".")
        if fmt.schema is not None:
            text += "\nThe object must validate against this JSON Schema:\n" + orjson.dumps(fmt.schema).decode()
    return text


# ------------------------------------------------------------- history

REMINDER = "Use these results to continue; call more functions or answer the user."


def render_history(messages: tuple[ChatMessage, ...], nonce: str | None) -> list[ChatMessage]:
    """Tool turns as upstream text: calls as blocks, each run of results as one user message.

    Without a nonce (no tools in this request) neutral tags are used and no
    protocol is taught.
    """
    names: dict[str, str] = {}
    out: list[ChatMessage] = []
    results: list[str] = []
    for message in messages:
        if message.role == "tool":
            name = message.name or names.get(message.tool_call_id or "", "unknown")
            results.append(_result_block(name, message.tool_call_id, message.text, nonce))
            continue
        if results:
            out.append(_results_message(results, nonce))
            results = []
        if message.tool_calls:
            for call in message.tool_calls:
                names[call.id] = call.name
            blocks = "\n".join(_call_block(call, nonce) for call in message.tool_calls)
            text = f"{message.text}\n{blocks}" if message.text else blocks
            out.append(replace(message, text=text, tool_calls=()))
        else:
            out.append(message)
    if results:
        out.append(_results_message(results, nonce))
    return out


def _call_block(call: HistoryCall, nonce: str | None) -> str:
    try:
        arguments = orjson.loads(call.arguments) if call.arguments.strip() else {}
    except orjson.JSONDecodeError:
        arguments = call.arguments
    body = orjson.dumps({"name": call.name, "arguments": arguments}).decode()
    if nonce is None:
        return f"[tool call {call.name}] {body}"
    return f"{OPEN.format(nonce)}\n{body}\n{CLOSE.format(nonce)}"


def _result_block(name: str, call_id: str | None, content: str, nonce: str | None) -> str:
    ident = f' id="{call_id}"' if call_id else ""
    if nonce is None:
        return f'[tool result name="{name}"{ident}]\n{content}\n[/tool result]'
    return f'⟦result {nonce} name="{name}"{ident}⟧\n{content}\n⟦/result {nonce}⟧'


def _results_message(results: list[str], nonce: str | None) -> ChatMessage:
    text = "\n".join(results)
    if nonce is not None:
        text += "\n" + REMINDER
    return ChatMessage("user", text)
