"""The chat shapes of tools: ``tools[i].function``, ``tool_choice``, legacy ``functions`` /
``function_call``, ``response_format`` -> the engine's API-agnostic types (tools/definitions.py)."""
from __future__ import annotations

from ..errors import bad_request
from ..tools.definitions import (
    AUTO,
    NO_TOOLS,
    NONE,
    ResponseFormat,
    Tool,
    ToolChoice,
    ToolFields,
    check_choice,
    check_unique,
    function_tool,
    json_format,
    named_choice,
)


def parse_chat_tools(body: dict) -> ToolFields:
    """``tools``/``tool_choice``/``parallel_tool_calls``/``functions``/``function_call``/``response_format``."""
    response_format = _response_format(body.get("response_format"))
    tools_value, functions = body.get("tools"), body.get("functions")
    if tools_value is not None and functions is not None:
        raise bad_request("Send either 'tools' or the legacy 'functions', not both.", "functions")
    parallel = body.get("parallel_tool_calls")
    if parallel is not None and not isinstance(parallel, bool):
        raise bad_request("'parallel_tool_calls' must be a boolean.", "parallel_tool_calls")
    if functions is not None:
        tools = _functions(functions)
        choice = _function_call(body.get("function_call"), tools)
        if body.get("tool_choice") is not None:
            raise bad_request("'tool_choice' goes with 'tools'; use 'function_call' with 'functions'.",
                              "tool_choice")
        return ToolFields(tools, choice, False, True, response_format)
    if body.get("function_call") is not None:
        raise bad_request("'function_call' is only allowed when 'functions' are specified.", "function_call")
    tools = _tools(tools_value)
    choice = _tool_choice(body.get("tool_choice"), tools)
    if not tools and response_format is None:
        return NO_TOOLS
    return ToolFields(tools, choice, True if parallel is None else parallel, False, response_format)


def _tools(value) -> tuple[Tool, ...]:
    if value is None:
        return ()
    if not isinstance(value, list):
        raise bad_request("'tools' must be a list of tools.", "tools")
    tools = []
    for index, item in enumerate(value):
        param = f"tools[{index}]"
        if not isinstance(item, dict):
            raise bad_request("Each tool must be an object.", param)
        kind = item.get("type", "function")
        if kind != "function":
            raise bad_request(f"Tools of type {kind!r} are not supported; only 'function' tools are.",
                              f"{param}.type", code="unsupported_tool_type")
        spec = item.get("function")
        if not isinstance(spec, dict):
            raise bad_request("A function tool needs a 'function' object.", f"{param}.function")
        tools.append(function_tool(spec.get("name"), spec.get("description"), spec.get("parameters"),
                                   spec.get("strict"), f"{param}.function"))
    check_unique(tools, "tools")
    return tuple(tools)


def _tool_choice(value, tools: tuple[Tool, ...]) -> ToolChoice:
    if value is None:
        return AUTO if tools else NONE
    if isinstance(value, str):
        if value not in ("none", "auto", "required"):
            raise bad_request(f"Invalid 'tool_choice' {value!r}; use none, auto, required or an object.",
                              "tool_choice")
        return check_choice(ToolChoice(value), tools, "tool_choice")
    if not isinstance(value, dict):
        raise bad_request("'tool_choice' must be a string or an object.", "tool_choice")
    kind = value.get("type")
    if kind == "function":
        spec = value.get("function")
        name = spec.get("name") if isinstance(spec, dict) else None
        if not isinstance(name, str):
            raise bad_request("A named tool choice needs 'function.name'.", "tool_choice")
        return check_choice(named_choice(name), tools, "tool_choice")
    if kind == "allowed_tools":
        spec = value.get("allowed_tools")
        if not isinstance(spec, dict) or spec.get("mode") not in ("auto", "required") \
                or not isinstance(spec.get("tools"), list) or not spec["tools"]:
            raise bad_request("'allowed_tools' needs a 'mode' (auto or required) and a non-empty 'tools' list.",
                              "tool_choice")
        names = []
        for item in spec["tools"]:
            function = item.get("function") if isinstance(item, dict) else None
            name = function.get("name") if isinstance(function, dict) else None
            if not isinstance(name, str) or item.get("type", "function") != "function":
                raise bad_request("Each allowed tool must be {\"type\": \"function\", \"function\": "
                                  "{\"name\": ...}}.", "tool_choice")
            names.append(name)
        return check_choice(ToolChoice(spec["mode"], tuple(names)), tools, "tool_choice")
    if kind == "custom":
        raise bad_request("Custom tools are not supported.", "tool_choice", code="unsupported_tool_type")
    raise bad_request("Unknown 'tool_choice' type; use function or allowed_tools.", "tool_choice")


def _functions(value) -> tuple[Tool, ...]:
    if not isinstance(value, list) or not value:
        raise bad_request("'functions' must be a non-empty list of functions.", "functions")
    tools = []
    for index, spec in enumerate(value):
        if not isinstance(spec, dict):
            raise bad_request("Each function must be an object.", f"functions[{index}]")
        tools.append(function_tool(spec.get("name"), spec.get("description"), spec.get("parameters"),
                                   None, f"functions[{index}]"))
    check_unique(tools, "functions")
    return tuple(tools)


def _function_call(value, tools: tuple[Tool, ...]) -> ToolChoice:
    if value is None or value == "auto":
        return AUTO
    if value == "none":
        return NONE
    if isinstance(value, dict) and isinstance(value.get("name"), str):
        return check_choice(named_choice(value["name"]), tools, "function_call")
    raise bad_request("'function_call' must be none, auto or {\"name\": ...}.", "function_call")


def _response_format(value) -> ResponseFormat | None:
    if value is None:
        return None
    if not isinstance(value, dict):
        raise bad_request("'response_format' must be an object.", "response_format")
    spec = value.get("json_schema")
    if value.get("type") == "json_schema" and not isinstance(spec, dict):
        raise bad_request("A json_schema response format needs a 'json_schema' object.",
                          "response_format.json_schema")
    spec = spec if isinstance(spec, dict) else {}
    return json_format(value.get("type"), spec.get("name"), spec.get("description"),
                       spec.get("schema"), spec.get("strict"), "response_format",
                       "response_format.json_schema.name")
