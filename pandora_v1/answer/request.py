"""What one answer is asked: the model a client named, the messages, streaming, the tool fields, and
the upstream capabilities the turn switches on (search, image generation, python, effort)."""
from __future__ import annotations

from dataclasses import dataclass

from ..tools.definitions import NO_TOOLS, ToolFields
from ..translate.request import ChatMessage

# No switch makes the upstream run python (upstream-protocol "Code interpreter"): the prompt asks.
CODE_STEER = ("You have a python tool that runs code in a sandbox. When the request needs computing, "
              "data analysis, files or charts, write and run Python code with it.")
CODE_FORCE = "Answer this request by writing and running Python code with the python tool."


@dataclass(frozen=True)
class Hosted:
    """The upstream tools a turn asks for (OpenAI's hosted tools, ``web_search_options``, a search
    model; platform-spec §1.6, §2.4) and the prompt lines for what has no switch upstream."""
    search: bool = False
    force_search: bool = False
    image: bool = False
    code: bool = False
    force_code: bool = False
    notes: tuple[str, ...] = ()        # "The user is in London, GB.", image size wishes, …

    def system_hints(self) -> tuple[str, ...]:
        return (("search",) if self.search else ()) + (("picture_v2",) if self.image else ())

    def instructions(self) -> str:
        """The system lines the upstream gets for this turn ("" for none)."""
        lines = [CODE_FORCE if self.force_code else CODE_STEER] if self.code else []
        return "\n\n".join([*lines, *self.notes])


NO_HOSTED = Hosted()


def location_note(place: dict | None) -> tuple[str, ...]:
    """A search's ``user_location`` as the prompt line the upstream gets (it has no field for it)."""
    if not isinstance(place, dict):
        return ()
    where = ", ".join(place[k].strip() for k in ("city", "region", "country")
                      if isinstance(place.get(k), str) and place[k].strip())
    zone = place.get("timezone")
    zone = zone.strip() if isinstance(zone, str) else ""
    if not where and not zone:
        return ()
    text = f"The user's approximate location: {where or 'unknown'}"
    return (text + (f" (time zone {zone})." if zone else "."),)


@dataclass(frozen=True)
class ChatRequest:
    model: str
    messages: tuple[ChatMessage, ...]
    stream: bool = False
    include_usage: bool = False
    tools: ToolFields = NO_TOOLS
    effort: str | None = None          # OpenAI's reasoning effort (models/effort.py maps it)
    hosted: Hosted = NO_HOSTED
    temporary: bool = False        # the client asked that nothing be kept (Responses ``store: false``)
