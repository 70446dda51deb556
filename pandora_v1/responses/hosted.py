"""OpenAI's hosted tools on /v1/responses (platform-spec §0.2, §1.1, §1.2, §1.6).

- ``hosted_tool``: a ``tools[]`` entry of a hosted type, checked (OpenAI's 400s
  naming ``tools[i].<field>``) and echoed as OpenAI normalises it;
- ``asks``: what the listed tools and ``tool_choice`` ask of the upstream
  (``answer.request.Hosted``: search hints and forcing, picture_v2, python
  steering, prompt lines for what has no switch);
- ``item_text``: a hosted item a client sends back (the Agents SDK replays
  them verbatim, base64 included) as text for the upstream, never the bytes.
"""
from __future__ import annotations

import re

from ..answer.request import Hosted, location_note
from ..chat.params import check_enum, check_integer, check_location, check_object
from ..errors import bad_request, wrong_type
from ..translate.hosted import CODE, IMAGE, SEARCH

# tools[].type -> the hosted tool it is; the dated names are the same tools.
HOSTED_TYPES = {"web_search": SEARCH, "web_search_2025_08_26": SEARCH,
                "web_search_preview": SEARCH, "web_search_preview_2025_03_11": SEARCH,
                "image_generation": IMAGE, "code_interpreter": CODE}
HOSTED_ITEMS = ("web_search_call", "image_generation_call", "code_interpreter_call")

_SIZE = re.compile(r"^\d{2,5}x\d{2,5}$")
_US = {"type": "approximate", "city": None, "country": "US", "region": None, "timezone": None}
_IMAGE_DEFAULTS = {"background": "auto", "moderation": "auto", "n": 1, "output_compression": 100,
                   "output_format": "png", "partial_images": 0, "quality": "auto", "size": "auto"}
_IMAGE_ENUMS = {"action": ("generate", "edit", "auto"), "background": ("transparent", "opaque", "auto"),
                "input_fidelity": ("high", "low"), "moderation": ("auto", "low"),
                "output_format": ("png", "webp", "jpeg", "gif", "svg"),
                "quality": ("low", "medium", "high", "auto", "xhigh", "max")}


def hosted_tool(tool: dict, param: str) -> tuple[str, dict]:
    """(SEARCH | IMAGE | CODE, the tool as the Response echoes it)."""
    kind = HOSTED_TYPES[tool["type"]]
    if kind == SEARCH:
        return kind, _search(tool, param)
    if kind == IMAGE:
        return kind, _image(tool, param)
    return kind, _code(tool, param)


def _search(tool: dict, param: str) -> dict:
    preview = tool["type"].startswith("web_search_preview")
    if tool.get("search_context_size") is not None:
        check_enum(f"{param}.search_context_size", tool["search_context_size"], ("low", "medium", "high"))
    location = tool.get("user_location")
    if location is not None:
        check_object(f"{param}.user_location", location)
        if location.get("type") is None and preview:
            raise bad_request(f"Missing required parameter: '{param}.user_location.type'.",
                              f"{param}.user_location.type", code="missing_required_parameter")
        if location.get("type") is not None:
            check_enum(f"{param}.user_location.type", location["type"], ("approximate",))
        check_location(f"{param}.user_location", location)
    access = tool.get("external_web_access")
    if access is not None and not isinstance(access, (bool, str)):   # a newer Codex sends "indexed"
        raise wrong_type(f"{param}.external_web_access", "a boolean", access)
    echo = {"type": tool["type"]}
    if not preview:
        echo["filters"] = _filters(tool.get("filters"), f"{param}.filters")
    echo["search_context_size"] = tool.get("search_context_size") or "medium"
    echo["user_location"] = {"type": "approximate", **{k: location.get(k) for k in ("city", "country", "region",
                                                                                   "timezone")}} \
        if location is not None else dict(_US)
    for key, value in tool.items():      # newer fields (search_content_types, …) as sent
        echo.setdefault(key, value)
    return echo


def _filters(filters, param: str):
    if filters is None:
        return None
    check_object(param, filters)
    for key in ("allowed_domains", "blocked_domains"):
        domains = filters.get(key)
        if domains is not None and (not isinstance(domains, list) or not all(isinstance(d, str) for d in domains)):
            raise wrong_type(f"{param}.{key}", "an array of strings", domains)
    return filters


def _image(tool: dict, param: str) -> dict:
    for key, allowed in _IMAGE_ENUMS.items():
        if tool.get(key) is not None:
            check_enum(f"{param}.{key}", tool[key], allowed)
    if tool.get("model") is not None and not isinstance(tool["model"], str):
        raise wrong_type(f"{param}.model", "a string", tool["model"])
    if tool.get("output_compression") is not None:
        check_integer(f"{param}.output_compression", tool["output_compression"], 0, 100)
    if tool.get("partial_images") is not None:
        check_integer(f"{param}.partial_images", tool["partial_images"], 0, 3)
    size = tool.get("size")
    if size is not None and (not isinstance(size, str) or not (size == "auto" or _SIZE.match(size))):
        raise bad_request(f"Invalid value: {size!r}. Supported values are: '1024x1024', '1024x1536', "
                          f"'1536x1024', and 'auto'.", f"{param}.size", code="invalid_value")
    if tool.get("input_image_mask") is not None:
        check_object(f"{param}.input_image_mask", tool["input_image_mask"])   # accepted; the upstream has no mask
    echo = {"type": "image_generation", **{k: tool.get(k) if tool.get(k) is not None else v
                                           for k, v in _IMAGE_DEFAULTS.items()}}
    for key, value in tool.items():
        echo.setdefault(key, value)
    return echo


def _code(tool: dict, param: str) -> dict:
    container = tool.get("container")
    if container is None:
        raise bad_request(f"Missing required parameter: '{param}.container'.", f"{param}.container",
                          code="missing_required_parameter")
    if not isinstance(container, (str, dict)):
        raise wrong_type(f"{param}.container", "a string or an object", container)
    if isinstance(container, dict):
        if container.get("type") is None:
            raise bad_request(f"Missing required parameter: '{param}.container.type'.", f"{param}.container.type",
                              code="missing_required_parameter")
        check_enum(f"{param}.container.type", container["type"], ("auto",))
        files = container.get("file_ids")
        if files is not None and (not isinstance(files, list) or not all(isinstance(f, str) for f in files)):
            raise wrong_type(f"{param}.container.file_ids", "an array of strings", files)
        if container.get("memory_limit") is not None:
            check_enum(f"{param}.container.memory_limit", container["memory_limit"], ("1g", "4g", "16g", "64g"))
    return {**tool, "type": "code_interpreter", "container": container}


def forced_kind(choice) -> str | None:
    """The hosted tool a ``tool_choice`` forces (``{"type": "web_search"}``, …), if any."""
    kind = choice.get("type") if isinstance(choice, dict) else None
    return HOSTED_TYPES.get(kind) if isinstance(kind, str) else None


def implicit_tool(choice: dict) -> dict:
    """The tool a forcing ``tool_choice`` names without ``tools`` listing it (the Agents SDK's
    ``tool_choice="web_search"`` style), with its defaults, as echoed."""
    tool = {"type": choice["type"]}
    if HOSTED_TYPES[choice["type"]] == CODE:
        tool["container"] = {"type": "auto"}
    return hosted_tool(tool, "tool_choice")[1]


def asks(tools: dict[str, dict], forced: str | None, chat: Hosted) -> Hosted:
    """What the listed hosted tools (kind -> echo) and a forcing ``tool_choice`` ask of the upstream,
    on top of what the chat parser saw (a ``*-search*`` model)."""
    search, image = tools.get(SEARCH), tools.get(IMAGE)
    notes = list(chat.notes)
    if search is not None:
        notes += location_note(search.get("user_location") if search.get("user_location") != _US else None)
    if image is not None:
        notes += _image_note(image)
    return Hosted(search=chat.search or search is not None, force_search=chat.force_search or forced == SEARCH,
                  image=image is not None, code=CODE in tools, force_code=forced == CODE, notes=tuple(notes))


def _image_note(tool: dict) -> tuple[str, ...]:
    """Size and background have no field upstream: the prompt asks (platform-spec §4.5)."""
    wishes = []
    size = tool.get("size")
    if isinstance(size, str) and _SIZE.match(size):
        width, height = (int(n) for n in size.split("x"))
        shape = "square" if width == height else "landscape" if width > height else "portrait"
        wishes.append(f"a {shape} composition, {size}")
    if tool.get("background") == "transparent":
        wishes.append("a transparent background (PNG with alpha)")
    return (f"Images you generate: {'; '.join(wishes)}.",) if wishes else ()


def item_text(item: dict) -> str:
    """A hosted item sent back as input, as the text the upstream reads (never an image's bytes)."""
    kind = item.get("type")
    if kind == "web_search_call":
        action = item["action"] if isinstance(item.get("action"), dict) else {}
        what = action.get("query") or action.get("url") or ", ".join(
            q for q in action.get("queries") or () if isinstance(q, str))
        return f"[searched: {what}]" if isinstance(what, str) and what else "[searched the web]"
    if kind == "image_generation_call":
        prompt = item.get("revised_prompt")
        return f"[generated an image: {prompt}]" if isinstance(prompt, str) and prompt else "[generated an image]"
    code = item["code"] if isinstance(item.get("code"), str) else ""
    logs = "".join(o["logs"] for o in item.get("outputs") or ()
                   if isinstance(o, dict) and o.get("type") == "logs" and isinstance(o.get("logs"), str))
    text = f"[ran python]\n```python\n{code.rstrip()}\n```"
    return text + (f"\n[output]\n```\n{logs.rstrip()}\n```" if logs else "")
