"""Message snapshots -> the text pieces a client sees.

A small state machine. Each snapshot is routed through ``_ROWS`` by (author
role, content type, who, lane) to a handler that knows how much of that
message it has already rendered and returns only what is new. ``who`` is the
recipient of an assistant message (``all``, a tool with a row of its own,
``tool`` for the others, ``quiet`` for tools whose calls are never shown) or
the name class of a tool message; ``lane`` is ``final`` for no channel or the
final channel, ``aside`` for commentary/analysis:

  assistant text (final)       the answer, through the citation / sandbox-link rewriter
  assistant text (aside)       a preamble: reasoning_content
  assistant thoughts           reasoning_content (summaries and content, each character once)
  assistant code               a fenced block (python: shown; browser etc.: plugin chatter;
                               image, search and memory tools: never)
  assistant code to canmore.*  the canvas document as markdown (created, then as edited)
  tool execution_output        a fenced result block, then the charts it drew
  tool multimodal_text         images
  tool text / tether_*         plugin chatter
  tool system_error            its text (an image limit, …)

For the hosted tools a request listed (``RenderOptions.hosted``: Responses'
``web_search``, ``code_interpreter``, ``image_generation``) rows of
``_HOSTED_ROWS`` take over those tools' messages and emit typed steps instead
of text (hosted.py): a web.run call and its results, a python call, its
output and charts, the image tool's previews and picture. A call waiting for
its tool's result is closed (with what it has) when anything else is written.

Anything else renders nothing: user/system/developer echoes, saved memories
(``model_editable_context``), custom instructions, reasoning_recap, tool
results, messages hidden from the conversation, unknown kinds, and the
history we sent echoed back (``expect_history``: an assistant message with an
id we sent, or one that arrives already finished saying what an assistant
message we sent said). After the answer (the final-lane assistant message
with ``end_turn``) later assistant messages, such as a second paragen
variant, render nothing.

A fence opened for a code or output block is closed before anything else is
written and by ``close()`` at the end of the turn, so the client never gets an
unclosed block. Images and sandbox files go through a ``MediaResolver`` (see
media.py); the renderer itself does no I/O.

Pieces are ``(kind, text)`` with kind ``"content"`` or ``"reasoning"``, and
``(kind, HostedStep)`` for the hosted tools asked for.
"""
from __future__ import annotations

import base64
from dataclasses import dataclass, field
from typing import Any, Protocol

import orjson
import regex

from ..errors import APIError
from ..files.parts import ResolvedImage
from ..files.sniff import sniff_type
from . import hosted as tools
from .citations import Rewriter, clean
from .citations import special as _special
from .hosted import CODE, DELTA, DONE, IMAGE, PARTIAL, RUN, SEARCH, START, HostedStep

CONTENT = "content"
REASONING = "reasoning"

Piece = tuple[str, Any]     # (CONTENT | REASONING, str) or (a hosted kind, HostedStep)

_IMAGE_DISPLAYED = "<<ImageDisplayed>>"
_SIZE = regex.compile(r"^\d{2,5}x\d{2,5}$")

# Tools whose calls and notes are for the model only: their code is never shown.
_QUIET_TOOLS = ("dalle.", "t2uay3k.", "image_gen", "web.run", "web.", "bio", "canmore.",
                "research_kickoff_tool", "file_search", "myfiles_browser")

# Calls to these tools are upstream searches (counted per request: metering's ``searches``).
_SEARCH_TOOLS = ("web.run", "web.search", "browser")

# (author role, content type, who, lane) -> handler name. Grow this table, not branches.
_ROWS = {
    ("assistant", "text", "all", "final"): "_text",
    ("assistant", "multimodal_text", "all", "final"): "_text",
    ("assistant", "text", "all", "aside"): "_commentary",
    ("assistant", "multimodal_text", "all", "aside"): "_commentary",
    ("assistant", "thoughts", "all", "final"): "_thoughts",
    ("assistant", "thoughts", "all", "aside"): "_thoughts",
    ("assistant", "code", "python", "final"): "_code",
    ("assistant", "code", "python", "aside"): "_code",
    ("assistant", "code", "tool", "final"): "_plugin_code",
    ("assistant", "code", "tool", "aside"): "_plugin_code",
    ("assistant", "code", "canmore.create_textdoc", "final"): "_canvas_create",
    ("assistant", "code", "canmore.create_textdoc", "aside"): "_canvas_create",
    ("assistant", "code", "canmore.update_textdoc", "final"): "_canvas_update",
    ("assistant", "code", "canmore.update_textdoc", "aside"): "_canvas_update",
    ("tool", "execution_output", "tool", "final"): "_execution_output",
    ("tool", "multimodal_text", "tool", "final"): "_tool_images",
    ("tool", "multimodal_text", "quiet", "final"): "_tool_images",
    ("tool", "text", "tool", "final"): "_tool_note",
    ("tool", "tether_quote", "tool", "final"): "_tool_note",
    ("tool", "system_error", "tool", "final"): "_system_error",
    ("tool", "system_error", "quiet", "final"): "_system_error",
}
# The hosted tools a request listed take over their tools' messages (see the docstring).
_HOSTED_ROWS = {
    SEARCH: {
        ("assistant", "code", "web.run", "final"): "_search_call",
        ("assistant", "code", "web.run", "aside"): "_search_call",
        ("tool", "text", "web.run", "final"): "_search_results",
    },
    CODE: {
        ("assistant", "code", "python", "final"): "_code_call",
        ("assistant", "code", "python", "aside"): "_code_call",
        ("tool", "execution_output", "python", "final"): "_code_result",
        ("tool", "system_error", "python", "final"): "_code_result",
    },
    IMAGE: {
        ("assistant", "code", "image_gen", "final"): "_image_request",
        ("assistant", "code", "image_gen", "aside"): "_image_request",
        ("tool", "multimodal_text", "image_gen", "final"): "_image_call",
        ("tool", "system_error", "image_gen", "final"): "_image_error",
    },
}
# One name per tool, whatever the upstream calls it (recipient or author name prefix -> name).
_TOOL_NAMES = (("code_interpreter", "python"), ("t2uay3k.", "image_gen"), ("image_gen", "image_gen"),
               ("dalle.", "image_gen"))
_GENERIC = frozenset({"all", "tool", "quiet"})
_ASIDE = frozenset({"commentary", "analysis"})


def _tool_name(name: str) -> str:
    for prefix, canonical in _TOOL_NAMES:
        if name.startswith(prefix):
            return canonical
    return name


class MediaResolver(Protocol):
    def image(self, pointer: str, data: bool = False) -> ResolvedImage | None: ...
    def sandbox_file(self, message_id: str, path: str) -> str | None: ...


@dataclass(frozen=True)
class RenderOptions:
    show_code: bool = True             # python code and its output
    show_plugin_chatter: bool = False  # browser calls, tool notes
    citation_links: bool = True        # 【n†source】 and cite markers -> [[n](url)]; else dropped
    image_style: str = "markdown"      # "markdown" | "plain" | "none"
    collect_images: bool = False       # fetch images even when not shown (images endpoint)
    inline_citations: bool = False     # OpenAI's search style, ([site](url)), instead of [[n](url)]
    silent_citations: bool = False     # no link in the text: the annotations say where (the Messages API)
    hosted: frozenset[str] = frozenset()   # hosted tools rendered as typed steps (hosted.py)
    partial_images: int = 0            # image previews wanted per image (hosted image_generation)

    @classmethod
    def from_bot_mode(cls, bot) -> "RenderOptions":
        if not bot.enabled:
            return cls()
        style = "plain" if bot.plain_image_url_output else \
            "markdown" if bot.markdown_image_output else "none"
        return cls(show_code=bot.plugin_output, show_plugin_chatter=bot.plugin_output,
                   citation_links=bot.bing_reference_output, image_style=style)


def _joined_parts(content: dict) -> str:
    parts: list = content.get("parts") or []
    if len(parts) == 1 and isinstance(parts[0], str):
        return parts[0]
    return "".join(p for p in parts if isinstance(p, str))


def _partial(content: dict) -> bool:
    """A gpt-image preview: its generation is not yet as tall as the image will be."""
    for part in content.get("parts") or ():
        if isinstance(part, dict) and part.get("content_type") == "image_asset_pointer":
            generation = (part.get("metadata") or {}).get("generation")
            if isinstance(generation, dict) and isinstance(generation.get("height"), int) \
                    and isinstance(part.get("height"), int) and generation["height"] < part["height"]:
                return True
    return False


# (pointer, DALL·E's revised prompt, generation id: revisions of one image share it)
ImagePointer = tuple[str, str | None, str | None]


def _image_pointers(content: dict) -> list[ImagePointer]:
    pointers = []
    for part in content.get("parts") or ():
        if isinstance(part, dict) and part.get("content_type") == "image_asset_pointer":
            metadata = part.get("metadata") or {}
            dalle, generation = metadata.get("dalle") or {}, metadata.get("generation") or {}
            pointers.append((part.get("asset_pointer") or "", dalle.get("prompt"),
                             generation.get("gen_id") or dalle.get("gen_id")))
    return pointers


@dataclass
class _TextState:
    """One stream of text: characters seen, and text held back as a possible mark."""
    seen: int = 0
    held: str = ""
    message: dict | None = None    # the latest snapshot, to resolve held marks against
    answer: bool = True            # False: reasoning text (a preamble, a thought)
    started: bool = False          # something of it was sent


@dataclass
class _BlockState:
    seen: int = 0
    done: bool = False


@dataclass
class _Call:
    """A hosted tool call the renderer is following (search or python)."""
    kind: str
    code: str = ""                 # the call's text so far (search JSON, python code)
    ran: bool = False              # RUN went out (the code is whole)
    done: bool = False


@dataclass
class _Picture:
    """An image tool message: which images were started, which previews went out."""
    started: set[str] = field(default_factory=set)
    previews: dict[str, list[str]] = field(default_factory=dict)   # image key -> preview pointers sent
    done: bool = False


@dataclass
class _Thought:
    summary: _TextState = field(default_factory=_TextState)
    content: _TextState = field(default_factory=_TextState)
    last: str = ""                 # "summary" | "content": what this thought wrote last


class Renderer:
    def __init__(self, options: RenderOptions | None = None, media: MediaResolver | None = None):
        self.options = options or RenderOptions()
        self.media = media
        self.finish_reason = "stop"
        self.conversation_id: str | None = None
        self.images: list[ResolvedImage] = []   # every image shown, for /v1/images/generations
        self.answered = False                   # the final-lane answer ended the turn (end_turn)
        self.pending_images: set[str] = set()   # image tool messages not finished yet
        self.previews: list[str] = []           # pointers of their partial previews (collect_images)
        self.lost_images = 0                    # images shown that could not be fetched
        self.routed = False                     # some message of the turn was for the client
        self.system_errors: list[tuple[str, str]] = []   # (name, text) of failed tools
        self.searches = 0                       # upstream search calls the turn made
        self.citations = Rewriter(self.options.citation_links, self._sandbox_link,
                                  inline=self.options.inline_citations, files=CODE in self.options.hosted,
                                  silent=self.options.silent_citations)
        self._states: dict[str, Any] = {}
        self._open: str | None = None           # id of the message whose fence is open
        self._open_text: str | None = None      # id of the message still holding text back
        self._tail = ""                         # last two characters of content sent
        self._sent = 0                          # characters of content sent
        self._reasoning_started = False
        self._answer_id: str | None = None      # the message that ended the turn
        self.last_text_id: str | None = None    # the latest answer-text message (a turn closed early ends there)
        self._variants = False                  # the user message announced paragen variants
        self._document: dict | None = None      # the canvas document, as created and edited
        self._call: tuple[str, str] | None = None   # (tool, message id) of a call awaiting its result
        self._image_asked: dict = {}          # the image tool call's JSON (prompt, size)
        self._own: dict[str, frozenset[str]] = {}   # role -> tool names with rows of their own
        self._handlers = self._handler_table()
        self._routes: dict[str, Any] = {}   # message id -> its route (a tuple), or False
        self._sent_ids: frozenset[str] = frozenset()     # the messages we sent (expect_history)
        self._sent_texts: frozenset[str] = frozenset()   # what the assistant messages we sent said

    @property
    def answer_id(self) -> str | None:
        """The message that ended the turn (``end_turn``): the next turn of the conversation follows it."""
        return self._answer_id

    @property
    def annotations(self) -> list[dict]:
        """``url_citation`` annotations for the links in the content sent so far."""
        return self.citations.annotations

    # -- entry points -------------------------------------------------------

    def feed(self, root: dict) -> list[Piece]:
        message = root["message"]
        if root.get("conversation_id"):
            self.conversation_id = root["conversation_id"]
        message_id = str(message.get("id"))
        route = self._routes.get(message_id)   # who a message is for does not change as it grows
        if route is None:
            route = self._routes[message_id] = self._route(message)
        if not route:
            return []
        handler, is_answer, role, who = route
        if self._answer_id is not None and role == "assistant" and message_id != self._answer_id:
            return []     # the turn is answered: a second variant or anything later is not
        finished = message.get("status") not in (None, "in_progress")
        if finished and is_answer:
            if ((message.get("metadata") or {}).get("finish_details") or {}).get("type") == "max_tokens":
                self.finish_reason = "length"
            if message.get("end_turn") or self._variants:
                self._answer_id, self.answered = message_id, True
        if self._open is None and self._open_text is None and self._call is None:
            return handler(message_id, message, finished)      # the usual case: nothing to close first
        pieces: list[Piece] = []
        call = self._call
        if call is not None and message_id != call[1] and not (role == "tool" and who == call[0]):
            pieces.extend(self._close_call())
        if self._open is not None and self._open != message_id:
            pieces.extend(self._close_fence())
        if self._open_text is not None and self._open_text != message_id:
            pieces.extend(self._release_held(self._open_text))
        pieces.extend(handler(message_id, message, finished))
        return pieces

    def close(self) -> list[Piece]:
        """The turn is over (or broke): close a call, release held text, close an open block."""
        pieces = self._close_call()
        if self._open_text is not None:
            pieces.extend(self._release_held(self._open_text))
        pieces.extend(self._close_fence())
        return pieces

    def block(self) -> None:
        """A moderation verdict blocked the answer."""
        self.finish_reason = "content_filter"

    def expect_history(self, sent: list[dict]) -> None:
        """The upstream messages we sent: replayed back before the real answer, they are not it."""
        self._sent_ids = frozenset(str(m.get("id")) for m in sent)
        self._sent_texts = frozenset(text for m in sent if (m.get("author") or {}).get("role") == "assistant"
                                     if (text := _joined_parts(m.get("content") or {}).strip()))

    def _replayed(self, message: dict) -> bool:
        if str(message.get("id")) in self._sent_ids:
            return True
        # a new id, but already finished when first seen, with the text of a turn we sent
        return bool(self._sent_texts) and message.get("status") not in (None, "in_progress") \
            and _joined_parts(message.get("content") or {}).strip() in self._sent_texts

    # -- routing ------------------------------------------------------------

    def _handler_table(self) -> dict:
        opts, table = self.options, {}
        rows = dict(_ROWS)
        for kind in opts.hosted:
            rows.update(_HOSTED_ROWS[kind])
        for key, name in rows.items():
            if name == "_code" and not opts.show_code:
                continue
            if name in ("_plugin_code", "_tool_note") and not opts.show_plugin_chatter:
                continue
            table[key] = getattr(self, name)
        for role in ("assistant", "tool"):
            self._own[role] = frozenset(who for r, _, who, _ in table if r == role) - _GENERIC
        return table

    def _who(self, role: str, recipient: str, name: str | None) -> str:
        """``all``, a tool with rows of its own, ``quiet`` (never shown) or ``tool``."""
        if role == "assistant" and recipient == "all":
            return "all"
        tool = recipient if role == "assistant" else (name or "")
        own = _tool_name(tool)
        if own in self._own[role]:
            return own
        return "quiet" if tool.startswith(_QUIET_TOOLS) else "tool"

    def _route(self, message: dict):
        """(handler, is it the answer's text, role, who) for a message, or False: not for the client."""
        author = message.get("author") or {}
        role = author.get("role")
        if role != "assistant" and role != "tool":
            if role == "user":
                self._note_user(message)
            return False
        if role == "assistant" and (message.get("recipient") or "").startswith(_SEARCH_TOOLS):
            self.searches += 1     # seen once: a message is routed once
        if (message.get("metadata") or {}).get("is_visually_hidden_from_conversation"):
            return False
        if role == "assistant" and (self._sent_ids or self._sent_texts) and self._replayed(message):
            return False
        content = message.get("content") or {}
        lane = "aside" if role == "assistant" and message.get("channel") in _ASIDE else "final"
        who = self._who(role, message.get("recipient") or "all", author.get("name"))
        handler = self._handlers.get((role, content.get("content_type"), who, lane))
        if handler is None:
            return False
        self.routed = True
        return handler, handler == self._text, role, who

    def _note_user(self, message: dict) -> None:
        info = (message.get("metadata") or {}).get("paragen_variants_info")
        if isinstance(info, dict) and (info.get("num_variants_in_stream") or 0) > 1:
            self._variants = True

    # -- output helpers -----------------------------------------------------

    def _content(self, text: str) -> list[Piece]:
        if not text:
            return []
        self._tail = text[-2:] if len(text) >= 2 else (self._tail + text)[-2:]
        self._sent += len(text)
        return [(CONTENT, text)]

    def _paragraph(self) -> str:
        """What to write so the next block starts on a line of its own after a blank line."""
        if not self._tail or self._tail == "\n\n":
            return ""
        return "\n" if self._tail.endswith("\n") else "\n\n"

    def _block(self, text: str) -> list[Piece]:
        return self._content(self._paragraph() + text)

    def _open_fence(self, message_id: str, language: str) -> list[Piece]:
        self._open = message_id
        return self._content(f"{self._paragraph()}```{language}\n")

    def _close_fence(self) -> list[Piece]:
        if self._open is None:
            return []
        self._open = None
        return self._content(("" if self._tail.endswith("\n") else "\n") + "```\n\n")

    def _reasoning(self, text: str, lead: bool) -> list[Piece]:
        """Reasoning text; ``lead``: it starts a new part, after a blank line if others came before."""
        if not text:
            return []
        if lead and self._reasoning_started:
            text = "\n\n" + text
        self._reasoning_started = True
        return [(REASONING, text)]

    # -- handlers -----------------------------------------------------------

    def _text(self, message_id: str, message: dict, finished: bool) -> list[Piece]:
        text = _joined_parts(message.get("content") or {})
        state = self._states.get(message_id)
        if state is None:
            state = self._states[message_id] = _TextState()
            self.last_text_id = message_id
        state.message = message
        pieces: list[Piece] = []
        if len(text) > state.seen:
            new = text[state.seen:]
            if state.seen == 0 and self._tail:
                pieces.extend(self._content(self._paragraph()))  # a later answer starts a paragraph
            state.seen = len(text)
            if not state.held and not _special(new):
                return self._content(new) if not pieces else pieces + self._content(new)   # plain text
            pieces.extend(self._content(self._rewrite(state, new, finished)))
        elif state.held:     # a held mark may have become resolvable (or the message ended)
            pieces.extend(self._content(self._rewrite(state, "", finished)))
        self._open_text = message_id if state.held else None
        return pieces

    def _rewrite(self, state: _TextState, new: str, final: bool) -> str:
        buffer = state.held + new
        if not buffer:
            return ""
        text, state.held = self.citations.rewrite(buffer, state.message or {}, final, self._sent,
                                                  before=self._tail[-1:])
        return text

    def _release_held(self, message_id: str) -> list[Piece]:
        """Another message started (or the turn ended): held text is resolved as it stands."""
        state = self._states.get(message_id)
        self._open_text = None
        if isinstance(state, _TextState) and state.held:
            if state.answer:
                return self._content(self._rewrite(state, "", True))
            return self._reasoning(self._grown(state, "", True), not state.started)
        if isinstance(state, list):          # thoughts
            return [piece for thought in state for part in (thought.summary, thought.content)
                    if part.held for piece in self._reasoning(self._grown(part, "", True), False)]
        return []

    def _sandbox_link(self, message_id: str, path: str) -> str | None:
        return self.media.sandbox_file(message_id, path) if self.media else None

    def _grown(self, state: _TextState, text: str, final: bool) -> str:
        """Reasoning text past what was sent, markers resolved to names or nothing."""
        new = state.held + text[state.seen:]
        state.seen = max(state.seen, len(text))
        if not new:
            return ""
        out, state.held = self.citations.rewrite(new, state.message or {}, final, None, markers_only=True)
        return out

    def _commentary(self, message_id: str, message: dict, finished: bool) -> list[Piece]:
        """A preamble on the commentary/analysis channel: the model thinking aloud."""
        state = self._states.get(message_id)
        if state is None:
            state = self._states[message_id] = _TextState(answer=False)
        state.message = message
        text = self._grown(state, _joined_parts(message.get("content") or {}), finished)
        pieces = self._reasoning(text, not state.started)
        state.started = state.started or bool(text)
        self._open_text = message_id if state.held else None
        return pieces

    def _thoughts(self, message_id: str, message: dict, finished: bool) -> list[Piece]:
        """Per thought: a summary that came with it as a bold heading (2024), else the
        summary as it streams; then the content. Each character once."""
        thoughts = (message.get("content") or {}).get("thoughts") or []
        states = self._states.setdefault(message_id, [])
        pieces: list[Piece] = []
        for index, thought in enumerate(thoughts):
            if not isinstance(thought, dict):
                continue
            summary, body = thought.get("summary") or "", thought.get("content") or ""
            if index >= len(states):
                state = _Thought()
                states.append(state)
                if summary and isinstance(summary, str):
                    state.summary.seen, state.last = len(summary), "content"
                    pieces.extend(self._reasoning(f"**{clean(summary)}**\n\n", True))
            state = states[index]
            state.summary.message = state.content.message = message
            for part, text in (("summary", summary), ("content", body)):
                stream = getattr(state, part)
                if not isinstance(text, str) or len(text) <= stream.seen and not stream.held:
                    continue
                new = self._grown(stream, text, finished)
                if not new:
                    continue
                if not state.last:          # this thought's first words
                    pieces.extend(self._reasoning(new, True))
                else:                       # summary, then content: a blank line between
                    pieces.extend(self._reasoning(("\n\n" if state.last != part else "") + new, False))
                state.last = part
        if any(part.held for t in states for part in (t.summary, t.content)):
            self._open_text = message_id
        return pieces

    def _code(self, message_id: str, message: dict, finished: bool) -> list[Piece]:
        content = message.get("content") or {}
        state = self._states.setdefault(message_id, _BlockState())
        if state.done:
            return []
        text = content.get("text") or ""
        pieces = []
        if self._open != message_id and (text or finished):
            language = content.get("language") or ""
            pieces.extend(self._open_fence(message_id, "" if language == "unknown" else language))
        if len(text) > state.seen:
            pieces.extend(self._content(text[state.seen:]))
            state.seen = len(text)
        if finished and self._open == message_id:
            state.done = True
            pieces.extend(self._close_fence())
        return pieces

    _plugin_code = _code

    def _canvas_create(self, message_id: str, message: dict, finished: bool) -> list[Piece]:
        """canmore.create_textdoc: the document exists only in this call; show it whole."""
        document = self._call_arguments(message_id, message, finished)
        if not isinstance(document, dict) or not isinstance(document.get("content"), str):
            return []
        self._document = {"name": str(document.get("name") or "Document"),
                          "type": str(document.get("type") or "document"), "content": document["content"]}
        return self._show_document()

    def _canvas_update(self, message_id: str, message: dict, finished: bool) -> list[Piece]:
        """canmore.update_textdoc: apply the edits to the document of this turn, show it again."""
        call = self._call_arguments(message_id, message, finished)
        if not isinstance(call, dict) or self._document is None:
            return []
        content = self._document["content"]
        for update in call.get("updates") or ():
            if not isinstance(update, dict) or not isinstance(update.get("pattern"), str):
                continue
            replacement = str(update.get("replacement") or "")
            try:
                content = regex.sub(update["pattern"], lambda _, text=replacement: text, content,
                                    count=0 if update.get("multiple") else 1, timeout=1.0)
            except (regex.error, TimeoutError):
                continue                      # an edit we cannot apply leaves the text as it was
        self._document["content"] = content
        return self._show_document()

    def _call_arguments(self, message_id: str, message: dict, finished: bool):
        """The JSON a finished tool call carries, once; None before that or if it is not JSON."""
        state = self._states.setdefault(message_id, _BlockState())
        if state.done or not finished:
            return None
        state.done = True
        try:
            return orjson.loads((message.get("content") or {}).get("text") or "")
        except orjson.JSONDecodeError:
            return None

    def _show_document(self) -> list[Piece]:
        document = self._document
        assert document is not None
        body = clean(document["content"]).rstrip("\n")
        kind = document["type"]
        if kind.startswith("code/"):
            language = kind[len("code/"):]
            body = f"```{'' if language == 'other' else language}\n{body}\n```"
        return self._block(f"## {clean(document['name'])}\n\n{body}\n\n")

    def _execution_output(self, message_id: str, message: dict, finished: bool) -> list[Piece]:
        state = self._states.setdefault(message_id, _BlockState())
        if state.done:
            return []
        pieces = []
        if self.options.show_code:
            text = ((message.get("content") or {}).get("text") or "").replace(_IMAGE_DISPLAYED, "")
            if len(text) > state.seen and (text.strip() or self._open == message_id):
                if self._open != message_id:
                    pieces.extend(self._open_fence(message_id, ""))
                pieces.extend(self._content(text[state.seen:]))
                state.seen = len(text)
            if finished:
                pieces.extend(self._close_fence() if self._open == message_id else [])
        if finished:
            state.done = True
            result = (message.get("metadata") or {}).get("aggregate_result") or {}
            charts: list[ImagePointer] = [(m.get("image_url") or "", None, None) for m in result.get("messages") or ()
                                          if isinstance(m, dict) and m.get("message_type") == "image"]
            pieces.extend(self._images(charts))
        return pieces

    def _tool_images(self, message_id: str, message: dict, finished: bool) -> list[Piece]:
        state = self._states.setdefault(message_id, _BlockState())
        if state.done:
            return []
        content = message.get("content") or {}
        if not finished or _partial(content):
            self.pending_images.add(message_id)   # shown once complete: never a partial preview
            if self.options.collect_images:       # ... but the images API streams them when asked
                self.previews.extend(p for p, _, _ in _image_pointers(content) if p and p not in self.previews)
            return []
        state.done = True
        self.pending_images.discard(message_id)
        return self._images(_image_pointers(content))

    def unfinished_images(self) -> list[Piece]:
        """The turn is over with images still rendering: say so instead of showing previews
        (a hosted image_generation call fails: its item can't be given without its image)."""
        count, self.pending_images = len(self.pending_images), set()
        if count and IMAGE in self.options.hosted:
            raise APIError(504, "The image was not finished in time.", code="upstream_timeout")
        if not count or self.options.image_style == "none":
            return []
        return self._block("(the image was not finished in time)\n\n")

    def _tool_note(self, message_id: str, message: dict, finished: bool) -> list[Piece]:
        state = self._states.setdefault(message_id, _BlockState())
        if state.done or not finished:
            return []
        state.done = True
        content = message.get("content") or {}
        if content.get("content_type") == "tether_quote":
            note = f"> [{content.get('title') or content.get('url')}]({content.get('url')})"
        else:
            note = clean(_joined_parts(content)).strip()
        return self._block(f"{note}\n\n") if note else []

    def _system_error(self, message_id: str, message: dict, finished: bool) -> list[Piece]:
        """A tool failed (the image limit, …): its text is what the user needs to read."""
        state = self._states.setdefault(message_id, _BlockState())
        if state.done:
            return []
        state.done = True
        content = message.get("content") or {}
        text = clean(str(content.get("text") or "")).strip()
        self.system_errors.append((str(content.get("name") or ""), text))
        return self._block(f"{text}\n\n") if text else []

    def _images(self, pointers: list[ImagePointer]) -> list[Piece]:
        pieces: list[Piece] = []
        if self.options.image_style == "none" and not self.options.collect_images:
            return pieces
        for pointer, prompt, gen_id in pointers:
            image = self.media.image(pointer) if self.media and pointer else None
            if image is None:
                self.lost_images += 1
                if self.options.image_style != "none":
                    pieces.extend(self._block("(the image could not be loaded)\n\n"))
                continue
            image.revised_prompt = image.revised_prompt or prompt
            image.gen_id = image.gen_id or gen_id
            self.images.append(image)
            style = self.options.image_style
            if style == "markdown":
                text = f"![image]({image.url})\n\n[Download image]({image.url})\n\n"
            elif style == "plain":
                text = f"{image.url}\n\n"
            else:
                continue
            pieces.extend(self._block(text))
        return pieces

    # -- hosted tools (hosted.py): typed steps instead of text ------------------

    def _follow(self, tool: str, kind: str, message_id: str, message: dict) -> tuple[_Call, list[Piece]]:
        """The call ``message_id`` is, started (START) at its first snapshot."""
        state = self._states.get(message_id)
        pieces: list[Piece] = []
        if state is None:
            state = self._states[message_id] = _Call(kind)
            self._call = (tool, message_id)
            pieces.append((kind, HostedStep(message_id, START)))
        if not state.done:
            state.code = (message.get("content") or {}).get("text") or ""
        return state, pieces

    def _search_call(self, message_id: str, message: dict, finished: bool) -> list[Piece]:
        return self._follow("web.run", SEARCH, message_id, message)[1]

    def _search_results(self, message_id: str, message: dict, finished: bool) -> list[Piece]:
        """web.run's results finish the call: its action, and the pages found."""
        if not finished or self._call is None or self._call[0] != "web.run":
            return []
        return self._close_call(results=tools.search_results(message.get("metadata") or {}))

    def _code_call(self, message_id: str, message: dict, finished: bool) -> list[Piece]:
        state = self._states.get(message_id)
        seen = len(state.code) if isinstance(state, _Call) else 0
        state, pieces = self._follow("python", CODE, message_id, message)
        if state.done:
            return pieces
        if len(state.code) > seen:
            pieces.append((CODE, HostedStep(message_id, DELTA, state.code[seen:])))
        if finished and not state.ran:
            state.ran = True
            pieces.append((CODE, HostedStep(message_id, RUN, data={"code": state.code})))
        return pieces

    def _code_result(self, message_id: str, message: dict, finished: bool) -> list[Piece]:
        """python's output finishes the call: what it printed, and its charts as links of ours."""
        if not finished or self._call is None or self._call[0] != "python":
            return []
        content = message.get("content") or {}
        if content.get("content_type") == "system_error":
            logs, failed = clean(str(content.get("text") or "")), True
        else:
            logs, failed = tools.code_logs(message), False
        charts = [self.media.image(pointer) if self.media else None for pointer in tools.chart_pointers(message)]
        return self._close_call(outputs={"logs": logs, "images": [c.url for c in charts if c is not None],
                                         "failed": failed})

    def _close_call(self, results: list[dict] | None = None, outputs: dict | None = None) -> list[Piece]:
        """The followed call is over: DONE with what it has (RUN first if the code never finished)."""
        if self._call is None:
            return []
        _, key = self._call
        self._call = None
        state = self._states[key]
        if state.done:
            return []
        state.done = True
        if state.kind == SEARCH:
            found = results or []      # the pages, and (OpenAI's) their URLs as sources
            return [(SEARCH, HostedStep(key, DONE, data={
                "action": tools.search_action(state.code), "results": found,
                "sources": [{"type": "url", "url": page["url"]} for page in found]}))]
        pieces: list[Piece] = [] if state.ran else [(CODE, HostedStep(key, RUN, data={"code": state.code}))]
        done = {"code": state.code, "logs": "", "images": [], "failed": False, **(outputs or {})}
        return pieces + [(CODE, HostedStep(key, DONE, data=done))]

    def _image_request(self, message_id: str, message: dict, finished: bool) -> list[Piece]:
        if finished:
            self._image_asked = tools.image_call((message.get("content") or {}).get("text") or "")
        return []

    def _image_call(self, message_id: str, message: dict, finished: bool) -> list[Piece]:
        """The image tool's message: previews while it renders (when asked), then the picture.
        Nothing starts before there are bytes to give, so a refusal leaves no item behind."""
        state = self._states.setdefault(message_id, _Picture())
        if state.done:
            return []
        content = message.get("content") or {}
        if not finished or _partial(content):
            self.pending_images.add(message_id)
            return self._previews(message_id, state, content) if self.options.partial_images else []
        state.done = True
        self.pending_images.discard(message_id)
        pieces: list[Piece] = []
        for key, part in _pictures(message_id, content):
            image = self.media.image(part.get("asset_pointer") or "", data=True) if self.media else None
            if image is None or image.data is None:
                raise APIError(502, "The generated image could not be downloaded from the upstream.",
                               code="upstream_error")
            if key not in state.started:
                pieces.append((IMAGE, HostedStep(key, START)))
            pieces.append((IMAGE, HostedStep(key, DONE, data=self._picture(part, image.data))))
        return pieces

    def _picture(self, part: dict, data: bytes) -> dict:
        """The picture's fields, with what the model's tool call asked for (prompt, size)."""
        asked = self._image_asked
        fields = _picture_fields(part, data)
        if isinstance(asked.get("size"), str) and _SIZE.match(asked["size"]):
            fields["size"] = asked["size"]            # the size the tool call chose
        prompt = asked.get("prompt")
        fields["revised_prompt"] = prompt if isinstance(prompt, str) \
            else ((part.get("metadata") or {}).get("dalle") or {}).get("prompt")
        return fields

    def _previews(self, message_id: str, state: _Picture, content: dict) -> list[Piece]:
        pieces: list[Piece] = []
        for key, part in _pictures(message_id, content):
            pointer = part.get("asset_pointer") or ""
            sent = state.previews.setdefault(key, [])
            if not pointer or pointer in sent or len(sent) >= self.options.partial_images or not self.media:
                continue
            image = self.media.image(pointer, data=True)
            if image is None or image.data is None:
                continue                          # a preview is a nicety: the picture is what counts
            sent.append(pointer)
            if key not in state.started:
                state.started.add(key)
                pieces.append((IMAGE, HostedStep(key, START)))
            pieces.append((IMAGE, HostedStep(key, PARTIAL, data={**_picture_fields(part, image.data),
                                                                 "index": len(sent) - 1})))
        return pieces

    def _image_error(self, message_id: str, message: dict, finished: bool) -> list[Piece]:
        """The image tool failed: its limit is a rate limit, anything else the upstream's failure."""
        content = message.get("content") or {}
        name, text = str(content.get("name") or ""), clean(str(content.get("text") or "")).strip()
        self.system_errors.append((name, text))
        if "ratelimit" in name.lower() or "limit" in text.lower():
            raise APIError(429, text or "The image generation limit was reached.", code="rate_limit_exceeded")
        raise APIError(502, f"Image generation failed: {text or name or 'no reason given'}", code="upstream_error")


def _pictures(message_id: str, content: dict) -> list[tuple[str, dict]]:
    """(key, part) per image of a tool message: revisions of one image (its gen_id) are one, the last."""
    found: dict[str, dict] = {}
    for index, part in enumerate(content.get("parts") or ()):
        if isinstance(part, dict) and part.get("content_type") == "image_asset_pointer":
            meta = part.get("metadata") or {}
            gen_id = (meta.get("generation") or {}).get("gen_id") or (meta.get("dalle") or {}).get("gen_id") \
                if isinstance(meta, dict) else None
            found[f"{message_id}/{gen_id or index}"] = part
    return list(found.items())


def _picture_fields(part: dict, data: bytes) -> dict:
    """What an image_generation_call says about its picture, from the bytes and the pointer."""
    generation = (part.get("metadata") or {}).get("generation") or {}
    kind = sniff_type(data) or "image/png"
    width, height = part.get("width"), part.get("height")
    return {"b64": base64.b64encode(data).decode(),
            "output_format": {"image/jpeg": "jpeg", "image/webp": "webp", "image/gif": "gif"}.get(kind, "png"),
            "background": "transparent" if generation.get("transparent_background") else "opaque",
            "size": f"{width}x{height}" if isinstance(width, int) and isinstance(height, int) else "auto"}
