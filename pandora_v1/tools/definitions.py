"""Tool definitions, tool choice and response format: the types, and their validation.

The types are API-agnostic: each API reads its own shapes into them
(chat/tools.py for Chat Completions; /v1/responses and /v1/messages through
the same builders, ``function_tool``, ``ToolChoice`` and ``json_format``).
Every 400 names the exact ``param`` (agents-spec A.3.1).
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
