"""An Anthropic Messages body -> the pipeline's ``ChatRequest``, and what the answer needs besides
(platform-spec.md §6.2, §6.6, §6.8).

The body is rewritten into a Chat Completions body and handed to ``parse_chat_request``, so all three
APIs share one parser, one upload path and one tool engine:

    system (string or text blocks), role "system" messages    one leading system message
    text / image / document blocks                            content parts (images and PDFs uploaded)
    assistant tool_use                                        tool_calls (``input`` as the arguments)
    user tool_result                                          tool messages (their images: the user's turn)
    assistant server_tool_use / web_search_tool_result        text: what was searched and found (search.py)
    thinking / redacted_thinking                              dropped (the upstream cannot take them back)
    custom tools, tool_choice                                 function tools, tool_choice, parallel_tool_calls
    the web_search_* server tool                              ``ChatRequest.hosted``: search (search.py)
    output_config.effort, thinking                            ``ChatRequest.effort`` (models/effort.py)
    output_config.format                                      response_format json_schema

Errors are Anthropic's: a 400 whose message starts with the path of what is wrong
(``messages.2.content.0: ...``); the chat parser's parameter names are translated back to the paths the
client sent (``rename``).
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field, replace

import orjson

from ..answer.request import ChatRequest
from ..chat.request import parse_chat_request
from ..errors import APIError
from ..models.effort import effort_for_budget
from . import search
from .errors import invalid
from .search import SEARCH_BLOCKS, WEB_SEARCH_TOOL

OUTPUT_EFFORTS = ("low", "medium", "high", "xhigh", "max")     # output_config.effort: OpenAI's names too
THINKING_TYPES = ("enabled", "adaptive", "disabled")
USER_BLOCKS = ("text", "image", "document", "tool_result", "thinking", "redacted_thinking", "search_result")
ASSISTANT_BLOCKS = ("text", "tool_use", "thinking", "redacted_thinking", *SEARCH_BLOCKS)
RESULT_NOTE = "(the tool reported an error)"
# A chat parameter's tail -> the name the Anthropic client sent.
_TAILS = ((".image_url.url", ".source"), (".file.file_data", ".source"), (".function.parameters", ".input_schema"),
          (".function.arguments", ".input"), (".function.", "."), (".image_url", ".source"))
_CHAT_PARAM = re.compile(r"(messages\[\d+\](?:\.(?:content|tool_calls)\[\d+\])?|tools\[\d+\])(.*)")


@dataclass(frozen=True)
class MessagesRequest:
    chat: ChatRequest
    max_tokens: int | None                 # None: count_tokens
    thinking: str = "off"                  # off | shown | omitted (display "omitted": blocks without text)
    stop_sequences: tuple[str, ...] = ()
    origins: dict[str, str] = field(default_factory=dict)   # chat parameter -> the client's path

    @property
    def stream(self) -> bool:
        return self.chat.stream

    def rename(self, exc: APIError) -> APIError:
        """``exc`` naming what the client sent (``messages.1.content.0.source``), not the chat parameter."""
        exc.param = renamed(exc.param, self.origins)
        return exc


def effort_of(thinking: dict | None, output_effort: str | None) -> str | None:
    """The effort a request asks for, in OpenAI's words (models/effort.py maps them upstream, for a slug
    that reasons; platform-spec.md §6.6): ``output_config.effort`` when given, else ``thinking``: a
    budget through ``effort_for_budget``, adaptive the default effort, disabled or absent none."""
    if output_effort is not None:
        return output_effort
    if not thinking or thinking["type"] == "disabled":
        return None
    return "medium" if thinking["type"] == "adaptive" else effort_for_budget(thinking["budget_tokens"])


def parse_messages_request(body, *, counting: bool = False) -> MessagesRequest:
    """``counting``: a count_tokens body (no ``max_tokens``, no ``stream``)."""
    if not isinstance(body, dict):
        raise invalid("", "The request body must be a JSON object.")
    model = _required(body, "model", str, "a valid string")
    if not model.strip():
        raise invalid("model", "String should have at least 1 character")
    max_tokens = None if counting else _required(body, "max_tokens", int, "a valid integer")
    if max_tokens is not None and max_tokens < 1:
        raise invalid("max_tokens", "Input should be greater than or equal to 1")
    messages = _required(body, "messages", list, "a valid list")
    if not messages:
        raise invalid("messages", "At least one message is required.")
    stream = False if counting else _optional(body, "stream", bool, "a valid boolean", False)
    stops = _optional(body, "stop_sequences", list, "a valid list", [])
    for index, stop in enumerate(stops):
        if not isinstance(stop, str):
            raise invalid(f"stop_sequences.{index}", "Input should be a valid string")
    for name, low, high in (("temperature", 0, 1), ("top_p", 0, 1), ("top_k", 0, None)):
        _number(body, name, low, high, integer=name == "top_k")
    _optional(body, "metadata", dict, "a valid dictionary", None)
    thinking = _thinking(body.get("thinking"), max_tokens)
    output = _optional(body, "output_config", dict, "a valid dictionary", {})
    output_effort = output.get("effort")
    if output_effort is not None and output_effort not in OUTPUT_EFFORTS:
        raise invalid("output_config.effort", f"Input should be {_choices(OUTPUT_EFFORTS)}")

    origins: dict[str, str] = {}
    chat_body: dict = {"model": model.strip(), "stream": stream,
                       "messages": _messages(body.get("system"), messages, origins)}
    tools, web_search = _tools(body.get("tools"), origins)
    if tools:
        chat_body["tools"] = tools
    choice = body.get("tool_choice")
    hosted = search.asks(web_search, choice, bool(tools))
    if hosted.force_search and isinstance(choice, dict) and choice.get("type") != "none":
        choice = None                      # it asks for the search: the custom tools stay the model's choice
    if choice is not None:
        chat_body["tool_choice"], parallel = _tool_choice(choice)
        if parallel is not None:
            chat_body["parallel_tool_calls"] = parallel
    if output.get("format") is not None:
        chat_body["response_format"] = _format(output["format"])
    try:
        chat = parse_chat_request(chat_body)
    except APIError as exc:
        raise _located(exc, origins) from None
    shown = "off" if thinking is None or thinking["type"] == "disabled" \
        else "omitted" if thinking.get("display") == "omitted" else "shown"
    chat = replace(chat, effort=effort_of(thinking, output_effort), hosted=hosted)
    return MessagesRequest(chat, max_tokens, shown, tuple(s for s in stops if s), origins)


# ------------------------------------------------------------------ fields

def _required(body: dict, key: str, kind: type, name: str):
    if body.get(key) is None:
        raise invalid(key, "Field required")
    return _optional(body, key, kind, name, None)


def _optional(body: dict, key: str, kind: type, name: str, default):
    value = body.get(key)
    if value is None:
        return default
    if kind is int and isinstance(value, float) and value.is_integer() and abs(value) < 2**53:
        value = int(value)           # 1024.0 is an integer in JSON, as Anthropic's API takes it
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise invalid(key, f"Input should be {name}")
    return value


def _number(body: dict, key: str, low: float, high: float | None, integer: bool = False) -> None:
    value = body.get(key)
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, int if integer else (int, float)):
        raise invalid(key, f"Input should be a valid {'integer' if integer else 'number'}")
    if value < low:
        raise invalid(key, f"Input should be greater than or equal to {low}")
    if high is not None and value > high:
        raise invalid(key, f"Input should be less than or equal to {high}")


def _choices(values) -> str:
    names = [f"'{v}'" for v in values]
    return ", ".join(names[:-1]) + " or " + names[-1]


def _thinking(value, max_tokens: int | None) -> dict | None:
    if value is None:
        return None
    if not isinstance(value, dict):
        raise invalid("thinking", "Input should be a valid dictionary")
    kind = value.get("type")
    if kind not in THINKING_TYPES:
        raise invalid("thinking.type", f"Input should be {_choices(THINKING_TYPES)}")
    display = value.get("display")
    if display is not None and display not in ("summarized", "omitted"):
        raise invalid(f"thinking.{kind}.display", "Input should be 'summarized' or 'omitted'")
    if kind != "enabled":
        return value
    budget = value.get("budget_tokens")
    if budget is None:
        raise invalid("thinking.enabled.budget_tokens", "Field required")
    budget = _optional({"thinking.enabled.budget_tokens": budget}, "thinking.enabled.budget_tokens", int,
                       "a valid integer", None)
    if budget < 1024:
        raise invalid("thinking.enabled.budget_tokens", "Input should be greater than or equal to 1024")
    if max_tokens is not None and max_tokens <= budget:
        raise invalid("", "`max_tokens` must be greater than `thinking.budget_tokens`.")
    return {**value, "budget_tokens": budget}


# ---------------------------------------------------------------- messages

def _text_of(content, path: str) -> str:
    """A string, or text blocks joined (``system``, role "system" messages)."""
    if isinstance(content, str):
        return content
    if not isinstance(content, list):
        raise invalid(path, "Input should be a valid string or a list of text blocks")
    texts = []
    for index, block in enumerate(content):
        where = f"{path}.{index}"
        if not isinstance(block, dict) or block.get("type") != "text":
            raise invalid(f"{where}.type", "Only text blocks are allowed here")
        if not isinstance(block.get("text"), str):
            raise invalid(f"{where}.text", "Input should be a valid string")
        texts.append(block["text"])
    return "\n\n".join(texts)


def _messages(system, messages: list, origins: dict[str, str]) -> list[dict]:
    """The chat messages; ``origins`` gets each one's (and each part's) path."""
    system_texts = [] if system is None else [_text_of(system, "system")]
    turns: list[tuple[int, dict]] = []          # (index, message) of user/assistant messages
    for index, message in enumerate(messages):
        path = f"messages.{index}"
        if not isinstance(message, dict):
            raise invalid(path, "Input should be a valid dictionary")
        role = message.get("role")
        if role not in ("user", "assistant", "system"):
            raise invalid(f"{path}.role", "Input should be 'user' or 'assistant'")
        content = message.get("content")
        if content is None:
            raise invalid(f"{path}.content", "Field required")
        if not isinstance(content, (str, list)):
            raise invalid(f"{path}.content", "Input should be a valid string or a list of content blocks")
        if not content and not (role == "assistant" and index == len(messages) - 1):
            raise invalid(path, "all messages must have non-empty content except for the optional final "
                                "assistant message")
        if role == "system":               # Claude Code sends one after the first turn: it joins the system text
            system_texts.append(_text_of(content, f"{path}.content"))
        else:
            turns.append((index, message))
    out: list[dict] = []
    text = "\n\n".join(t for t in system_texts if t)
    if text:
        origins[_param(len(out))] = "system"
        out.append({"role": "system", "content": text})
    for index, message in turns:
        if message["role"] == "assistant":
            out.append(_assistant(message["content"], index, len(out), origins))
        else:
            out.extend(_user(message["content"], index, len(out), origins))
    _check_tool_pairs(turns)
    return out


def _param(chat_index: int, part: int | None = None, calls: bool = False) -> str:
    base = f"messages[{chat_index}]"
    return base if part is None else f"{base}.{'tool_calls' if calls else 'content'}[{part}]"


def _blocks(content, allowed: tuple[str, ...], path: str) -> list[dict]:
    if isinstance(content, str):
        return [{"type": "text", "text": content}]
    for index, block in enumerate(content):
        if not isinstance(block, dict) or not isinstance(block.get("type"), str):
            raise invalid(f"{path}.content.{index}", "Each content block must be an object with a 'type'")
        if block["type"] not in allowed:
            raise invalid(f"{path}.content.{index}.type",
                          f"Input tag '{block['type']}' found using 'type' does not match any of the "
                          f"expected tags: {', '.join(repr(a) for a in allowed)}")
    return content


def _assistant(content, index: int, chat_index: int, origins: dict[str, str]) -> dict:
    path = f"messages.{index}"
    origins[_param(chat_index)] = path
    texts: list[list[str]] = [[]]        # runs of text blocks, with an earlier search's notes between them
    calls: list[dict] = []
    for number, block in enumerate(_blocks(content, ASSISTANT_BLOCKS, path)):
        where = f"{path}.content.{number}"
        kind = block["type"]
        if kind == "text":
            texts[-1].append(_string(block, "text", where))
        elif kind == "tool_use":
            arguments = block.get("input")
            if not isinstance(arguments, dict):
                raise invalid(f"{where}.input", "Input should be a valid dictionary")
            origins[_param(chat_index, len(calls), calls=True)] = where
            calls.append({"id": _string(block, "id", where), "type": "function",
                          "function": {"name": _string(block, "name", where),
                                       "arguments": orjson.dumps(arguments).decode()}})
        elif kind == "thinking":             # replayed with its signature (ours, or anyone's): dropped
            _string(block, "thinking", where)
            _string(block, "signature", where)
        elif kind in SEARCH_BLOCKS:          # an earlier search: what it searched and found, as text
            texts += [[search.replayed(block, where)], []]
    message: dict = {"role": "assistant", "content": "\n\n".join(run for run in map("".join, texts) if run)}
    if calls:
        message["tool_calls"] = calls
    return message


def _user(content, index: int, chat_index: int, origins: dict[str, str]) -> list[dict]:
    """Tool results first (each a tool message), then the rest of the turn as one user message."""
    path = f"messages.{index}"
    results: list[dict] = []
    parts: list[tuple[str, dict]] = []     # (path, chat part)
    for number, block in enumerate(_blocks(content, USER_BLOCKS, path)):
        where = f"{path}.content.{number}"
        kind = block["type"]
        if kind == "tool_result":
            call_id = _string(block, "tool_use_id", where)
            text, images = _result(block.get("content"), where)
            if block.get("is_error"):
                text = f"{RESULT_NOTE}\n{text}" if text else RESULT_NOTE
            origins[_param(chat_index + len(results))] = where
            results.append({"role": "tool", "tool_call_id": call_id, "content": text})
            if images:
                parts.append((where, {"type": "text", "text": f"(images from the result of {call_id})"}))
                parts += images
        elif kind in ("text", "image", "document", "search_result"):
            parts += _part(block, where)
    out = results
    if parts or not results:
        at = chat_index + len(results)
        origins[_param(at)] = path
        for number, (where, _) in enumerate(parts):
            origins[_param(at, number)] = where
        out = results + [{"role": "user", "content": [part for _, part in parts]}]
    return out


def _part(block: dict, where: str) -> list[tuple[str, dict]]:
    kind = block["type"]
    if kind == "text":
        return [(where, {"type": "text", "text": _string(block, "text", where)})]
    if kind == "search_result":
        title, body = block.get("title"), _text_of(block.get("content"), f"{where}.content")
        return [(where, {"type": "text", "text": f"{title}\n{body}" if isinstance(title, str) else body})]
    source = block.get("source")
    if not isinstance(source, dict):
        raise invalid(f"{where}.source", "Field required")
    kind_of_source = source.get("type")
    if kind_of_source == "base64":
        media, data = source.get("media_type"), source.get("data")
        if not isinstance(media, str) or not isinstance(data, str):
            raise invalid(f"{where}.source", "A base64 source needs a string 'media_type' and 'data'")
        url = f"data:{media};base64,{data}"
        if kind == "image":
            return [(where, {"type": "image_url", "image_url": {"url": url}})]
        return [(where, {"type": "file", "file": {"file_data": url}})]
    if kind_of_source == "url":            # fetched (SSRF-safe); its bytes tell what it is
        return [(where, {"type": "image_url", "image_url": {"url": _string(source, "url", f"{where}.source")}})]
    if kind == "document" and kind_of_source == "text":
        return [(where, {"type": "text", "text": _string(source, "data", f"{where}.source")})]
    if kind == "document" and kind_of_source == "content":
        return [(where, {"type": "text", "text": _text_of(source.get("content"), f"{where}.source.content")})]
    if kind_of_source == "file":
        raise invalid(f"{where}.source.type", "Files by file_id are not supported; send the file as base64 or a URL")
    expected = "'base64' or 'url'" if kind == "image" else "'base64', 'url', 'text' or 'content'"
    raise invalid(f"{where}.source.type", f"Input should be {expected}")


def _result(content, where: str) -> tuple[str, list[tuple[str, dict]]]:
    """A tool_result's text, and its images (they go to the user's turn: the result text is rendered)."""
    if content is None:
        return "", []
    if isinstance(content, str):
        return content, []
    if not isinstance(content, list):
        raise invalid(f"{where}.content", "Input should be a valid string or a list of content blocks")
    texts, images = [], []
    for number, block in enumerate(content):
        inner = f"{where}.content.{number}"
        kind = block.get("type") if isinstance(block, dict) else None
        if kind == "text":
            texts.append(_string(block, "text", inner))
        elif kind in ("image", "document"):
            images += _part(block, inner)
        elif kind == "search_result":
            texts += [part["text"] for _, part in _part(block, inner)]
        else:
            raise invalid(f"{inner}.type", "A tool_result's content holds text, image, document or "
                                           "search_result blocks")
    return "\n".join(texts), images


def _string(block: dict, key: str, where: str) -> str:
    value = block.get(key)
    if value is None:
        raise invalid(f"{where}.{key}", "Field required")
    if not isinstance(value, str):
        raise invalid(f"{where}.{key}", "Input should be a valid string")
    return value


def _check_tool_pairs(turns: list[tuple[int, dict]]) -> None:
    """Anthropic's rule, in its words: every tool_result answers a tool_use of the message before it,
    and every tool_use is answered in the message after it."""
    previous_calls: list = []
    for position, (index, message) in enumerate(turns):
        content = message["content"] if isinstance(message["content"], list) else []
        blocks = [b for b in content if isinstance(b, dict)]
        if message["role"] == "user":
            for number, block in enumerate(content):
                if isinstance(block, dict) and block.get("type") == "tool_result" \
                        and block.get("tool_use_id") not in previous_calls:
                    raise invalid(f"messages.{index}.content.{number}",
                                  f"unexpected `tool_use_id` found in `tool_result` blocks: "
                                  f"{block.get('tool_use_id')}. Each `tool_result` block must have a "
                                  f"corresponding `tool_use` block in the previous message.")
            previous_calls = []
            continue
        previous_calls = [b.get("id") for b in blocks if b.get("type") == "tool_use"]
        following = turns[position + 1][1] if position + 1 < len(turns) else None
        if previous_calls and following is not None:
            answered = {b.get("tool_use_id") for b in following["content"]
                        if isinstance(b, dict) and b.get("type") == "tool_result"} \
                if following["role"] == "user" and isinstance(following["content"], list) else set()
            missing = [str(c) for c in previous_calls if c not in answered]
            if missing:
                raise invalid(f"messages.{index}",
                              f"`tool_use` ids were found without `tool_result` blocks immediately after: "
                              f"{', '.join(missing)}. Each `tool_use` block must have a corresponding "
                              f"`tool_result` block in the next message.")


# ---------------------------------------------------------------- tools

def _tools(tools, origins: dict[str, str]) -> tuple[list[dict], dict | None]:
    """(the custom tools as chat tools, the web search tool if listed)."""
    if tools is None:
        return [], None
    if not isinstance(tools, list):
        raise invalid("tools", "Input should be a valid list")
    out: list[dict] = []
    web_search = None
    for index, tool in enumerate(tools):
        path = f"tools.{index}"
        if not isinstance(tool, dict):
            raise invalid(path, "Input should be a valid dictionary")
        kind = tool.get("type")
        if isinstance(kind, str) and WEB_SEARCH_TOOL.fullmatch(kind):
            web_search = search.search_tool(tool, path)
            continue
        if kind not in (None, "custom"):
            raise invalid(path, f"The server tool '{tool.get('name', kind)}' (type '{kind}') is not supported "
                                f"here; send custom tools (with an input_schema), or web search.")
        if tool.get("input_schema") is None:
            raise invalid(f"{path}.input_schema", "Field required")
        function = {"name": tool.get("name"), "parameters": tool["input_schema"]}
        for key in ("description", "strict"):
            if tool.get(key) is not None:
                function[key] = tool[key]
        origins[f"tools[{len(out)}]"] = path
        out.append({"type": "function", "function": function})
    return out, web_search


def _tool_choice(choice) -> tuple[object, bool | None]:
    """-> (chat tool_choice, parallel_tool_calls or None)."""
    if not isinstance(choice, dict):
        raise invalid("tool_choice", "Input should be a valid dictionary")
    kind = choice.get("type")
    disable = choice.get("disable_parallel_tool_use")
    if disable is not None and not isinstance(disable, bool):
        raise invalid(f"tool_choice.{kind}.disable_parallel_tool_use", "Input should be a valid boolean")
    parallel = None if disable is None else not disable
    if kind == "auto":
        return "auto", parallel
    if kind == "any":
        return "required", parallel
    if kind == "none":
        return "none", None
    if kind == "tool":
        name = choice.get("name")
        if not isinstance(name, str):
            raise invalid("tool_choice.tool.name", "Field required")
        return {"type": "function", "function": {"name": name}}, parallel
    raise invalid("tool_choice.type", "Input should be 'auto', 'any', 'tool' or 'none'")


def _format(fmt) -> dict:
    if not isinstance(fmt, dict) or fmt.get("type") != "json_schema":
        raise invalid("output_config.format.type", "Input should be 'json_schema'")
    if not isinstance(fmt.get("schema"), dict):
        raise invalid("output_config.format.schema", "Field required")
    return {"type": "json_schema", "json_schema": {"name": "output", "schema": fmt["schema"], "strict": True}}


# ---------------------------------------------------------------- errors

def renamed(param: str | None, origins: dict[str, str]) -> str | None:
    """A chat parameter (``messages[3].content[1].image_url.url``) -> the client's path
    (``messages.2.content.1.source``); other parameters keep their name with dots."""
    if not param:
        return param
    match = _CHAT_PARAM.fullmatch(param)
    if match:
        head, tail = match.groups()
        if head not in origins and "." in head:     # a part we did not note: its message, then the part
            head, rest = head.split(".", 1)
            tail = "." + rest + tail
        if head in origins:
            for chat_tail, tail_name in _TAILS:
                tail = tail.replace(chat_tail, tail_name)
            param = origins[head] + tail
    if param.startswith("response_format"):
        return "output_config.format"
    return re.sub(r"\[(\d+)\]", r".\1", param)


def _located(exc: APIError, origins: dict[str, str]) -> APIError:
    """A chat parser error as Anthropic words one: the path first, in the message."""
    param = renamed(exc.param, origins)
    exc.message, exc.param = (f"{param}: {exc.message}" if param else exc.message), None
    return exc
