"""Tool definitions, tool choice and response format: the types, and their validation.

The types are API-agnostic. ``parse_chat_tools`` reads the Chat Completions
shapes (``tools[i].function``, ``tool_choice``, legacy ``functions`` /
``function_call``, ``response_format``); ``/v1/responses`` has flat shapes of
its own and builds the same types with ``function_tool``, ``ToolChoice`` and
``json_format``. Every 400 names the exact ``param`` (agents-spec A.3.1).
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache

import orjson

from jsonschema import validators
from jsonschema.exceptions import SchemaError

from ..errors import bad_request

NAME = re.compile(r"[A-Za-z0-9_-]{1,64}")
EMPTY_PARAMETERS = {"type": "object", "properties": {}}


@dataclass(frozen=True)
class Tool:
    """A function the client offers: ``parameters`` is its JSON Schema."""
    name: str
    description: str = ""
    parameters: dict = field(default_factory=lambda: dict(EMPTY_PARAMETERS))
    strict: bool = False


@dataclass(frozen=True)
class ToolChoice:
    """``mode`` none | auto | required; ``allowed`` limits the callable tools; ``named`` forces one."""
    mode: str = "auto"
    allowed: tuple[str, ...] | None = None
    named: str | None = None


NONE = ToolChoice("none")
AUTO = ToolChoice("auto")
REQUIRED = ToolChoice("required")


def named_choice(name: str) -> ToolChoice:
    return ToolChoice("required", (name,), name)


@dataclass(frozen=True)
class ResponseFormat:
    """``response_format`` json_object / json_schema (``text`` means no format at all)."""
    type: str                      # "json_object" | "json_schema"
    name: str = ""
    description: str = ""
    schema: dict | None = None
    strict: bool = False


@dataclass(frozen=True)
class ToolFields:
    """What a chat request says about tools and output format."""
    tools: tuple[Tool, ...] = ()
    choice: ToolChoice = NONE
    parallel: bool = True
    legacy: bool = False           # sent as functions/function_call: answer as function_call
    response_format: ResponseFormat | None = None


NO_TOOLS = ToolFields()


# ------------------------------------------------------------ building blocks

def function_tool(name, description, parameters, strict, param: str) -> Tool:
    """One function tool from any API's shape; ``param`` is where it sits (``tools[2].function``)."""
    if not isinstance(name, str) or not NAME.fullmatch(name):
        raise bad_request("A function name must be 1-64 characters of a-z, A-Z, 0-9, underscores "
                          "and dashes.", f"{param}.name")
    if description is not None and not isinstance(description, str):
        raise bad_request("'description' must be a string.", f"{param}.description")
    if parameters is None:
        parameters = dict(EMPTY_PARAMETERS)
    elif not isinstance(parameters, dict):
        raise bad_request("'parameters' must be a JSON Schema object.", f"{param}.parameters")
    if strict is not None and not isinstance(strict, bool):
        raise bad_request("'strict' must be a boolean.", f"{param}.strict")
    check_schema(parameters, f"{param}.parameters")
    return Tool(name, description or "", parameters, bool(strict))


def check_schema(schema: dict, param: str) -> None:
    try:
        text = orjson.dumps(schema, option=orjson.OPT_SORT_KEYS).decode()
    except TypeError:   # e.g. integers beyond 64 bits: no cache, check it directly
        text = None
    problem = _schema_problem(text) if text is not None else _check(schema)
    if problem:
        raise bad_request(f"Invalid JSON Schema: {problem}", param)


@lru_cache(maxsize=256)
def _schema_problem(text: str) -> str | None:
    """Checking a schema against its metaschema costs ~0.5 ms; agents send the same tools every turn."""
    return _check(orjson.loads(text))


def _check(schema: dict) -> str | None:
    try:
        validators.validator_for(schema, default=validators.Draft202012Validator).check_schema(schema)
    except SchemaError as exc:
        return exc.message
    return None


def check_unique(tools: list[Tool], param: str) -> None:
    seen = set()
    for index, tool in enumerate(tools):
        if tool.name in seen:
            raise bad_request(f"Duplicate function name '{tool.name}'.", f"{param}[{index}].name")
        seen.add(tool.name)


def check_choice(choice: ToolChoice, tools: tuple[Tool, ...], param: str) -> ToolChoice:
    """A named or allowed tool that is not in ``tools`` is a 400."""
    if choice.allowed is not None:
        known = {t.name for t in tools}
        for name in choice.allowed:
            if name not in known:
                raise bad_request(f"Tool choice names '{name}', which is not in the tools of this "
                                  "request.", param)
    if choice.mode == "required" and not tools:
        raise bad_request("'tool_choice' is only allowed when 'tools' are specified.", param)
    return choice


def json_format(kind, name, description, schema, strict, param: str, name_param: str) -> ResponseFormat | None:
    """text -> None; json_object / json_schema -> a ResponseFormat."""
    if kind == "text":
        return None
    if kind == "json_object":
        return ResponseFormat("json_object")
    if kind != "json_schema":
        raise bad_request(f"Unknown response format type {kind!r}; use text, json_object or json_schema.",
                          f"{param}.type")
    if not isinstance(name, str) or not NAME.fullmatch(name):
        raise bad_request("The schema 'name' must be 1-64 characters of a-z, A-Z, 0-9, underscores "
                          "and dashes.", name_param)
    if schema is not None and not isinstance(schema, dict):
        raise bad_request("'schema' must be a JSON Schema object.", name_param.rsplit(".", 1)[0] + ".schema")
    if description is not None and not isinstance(description, str):
        raise bad_request("'description' must be a string.", name_param.rsplit(".", 1)[0] + ".description")
    if strict is not None and not isinstance(strict, bool):
        raise bad_request("'strict' must be a boolean.", name_param.rsplit(".", 1)[0] + ".strict")
    if schema is not None:
        check_schema(schema, name_param.rsplit(".", 1)[0] + ".schema")
    return ResponseFormat("json_schema", name, description or "", schema, bool(strict))


# ------------------------------------------------------- chat completions

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
