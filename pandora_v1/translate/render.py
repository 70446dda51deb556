"""Message snapshots -> the text pieces a client sees.

A small state machine. Each snapshot is routed by (author role, content
type, recipient) to a handler that knows how much of that message it has
already rendered and returns only what is new:

  assistant text          the answer, through the citation / sandbox-link rewriter
  assistant thoughts      reasoning_content
  assistant code          a fenced block (python: shown; browser etc.: plugin chatter;
                          dalle.text2im: never, it is the prompt JSON)
  tool execution_output   a fenced result block, then the charts it drew
  tool multimodal_text    DALL·E images
  tool text / tether_*    plugin chatter

Anything else (user/system echoes, reasoning_recap, unknown tools) renders
nothing. A fence opened for a code or output block is closed before anything
else is written and by ``close()`` at the end of the turn, so the client
never gets an unclosed block. Images and sandbox files go through a
``MediaResolver`` (see media.py); the renderer itself does no I/O.

Pieces are ``(kind, text)`` with kind ``"content"`` or ``"reasoning"``.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import regex

CONTENT = "content"
REASONING = "reasoning"

Piece = tuple[str, str]

# 【3†source】, 【3†来源】, 【4:0†source】 and [name](sandbox:/mnt/data/name). Bounded
# lengths, so text that merely starts like one is held back only briefly.
_MARKS = regex.compile(
    r"(?P<cite>【(?P<n>\d{1,4})(?::\d{1,4})?†[^】\n]{0,40}】)"
    r"|(?P<link>\[(?P<label>[^\]\n]{1,200})\]\((?P<path>sandbox:/mnt/data/[^)\s]{1,300})\))")
_IMAGE_DISPLAYED = "<<ImageDisplayed>>"


class MediaResolver(Protocol):
    def image(self, pointer: str) -> "ResolvedImage | None": ...
    def sandbox_file(self, message_id: str, path: str) -> str | None: ...


@dataclass
class ResolvedImage:
    url: str
    data: bytes | None = None          # the bytes, when they were fetched (b64_json needs no disk)
    revised_prompt: str | None = None


@dataclass(frozen=True)
class RenderOptions:
    show_code: bool = True             # python code and its output
    show_plugin_chatter: bool = False  # browser calls, tool notes
    citation_links: bool = True        # 【n†source】 -> [[n](url)]; else dropped
    image_style: str = "markdown"      # "markdown" | "plain" | "none"
    collect_images: bool = False       # fetch images even when not shown (images endpoint)

    @classmethod
    def from_bot_mode(cls, bot) -> "RenderOptions":
        if not bot.enabled:
            return cls()
        style = "plain" if bot.plain_image_url_output else \
            "markdown" if bot.markdown_image_output else "none"
        return cls(show_code=bot.plugin_output, show_plugin_chatter=bot.plugin_output,
                   citation_links=bot.bing_reference_output, image_style=style)


def _joined_parts(content: dict) -> str:
    parts = content.get("parts") or ()
    if len(parts) == 1 and isinstance(parts[0], str):
        return parts[0]
    return "".join(p for p in parts if isinstance(p, str))


def _image_pointers(content: dict) -> list[tuple[str, str | None]]:
    pointers = []
    for part in content.get("parts") or ():
        if isinstance(part, dict) and part.get("content_type") == "image_asset_pointer":
            prompt = ((part.get("metadata") or {}).get("dalle") or {}).get("prompt")
            pointers.append((part.get("asset_pointer") or "", prompt))
    return pointers


@dataclass
class _TextState:
    """One assistant text message: characters seen, and text held back as a possible mark."""
    seen: int = 0
    held: str = ""


@dataclass
class _BlockState:
    seen: int = 0
    done: bool = False


class Renderer:
    def __init__(self, options: RenderOptions | None = None, media: MediaResolver | None = None):
        self.options = options or RenderOptions()
        self.media = media
        self.finish_reason = "stop"
        self.conversation_id: str | None = None
        self.images: list[ResolvedImage] = []   # every image shown, for /v1/images/generations
        self._states: dict[str, object] = {}
        self._open: str | None = None           # id of the message whose fence is open
        self._open_text: str | None = None      # id of the text message still holding text back
        self._tail = ""                         # last two characters of content sent
        self._reasoning_started = False

    # -- entry points -------------------------------------------------------

    def feed(self, root: dict) -> list[Piece]:
        message = root["message"]
        if root.get("conversation_id"):
            self.conversation_id = root["conversation_id"]
        author = message.get("author") or {}
        content = message.get("content") or {}
        role, recipient = author.get("role"), message.get("recipient") or "all"
        handler = self._route(role, content.get("content_type"), recipient, author.get("name"))
        if handler is None:
            return []
        message_id = str(message.get("id"))
        finished = message.get("status") not in (None, "in_progress")
        if finished and role == "assistant":
            details = (message.get("metadata") or {}).get("finish_details") or {}
            if details.get("type") == "max_tokens":
                self.finish_reason = "length"
        pieces: list[Piece] = []
        if self._open is not None and self._open != message_id:
            pieces.extend(self._close_fence())
        if self._open_text is not None and self._open_text != message_id:
            pieces.extend(self._release_held(self._open_text))
        pieces.extend(handler(message_id, message, finished))
        return pieces

    def close(self) -> list[Piece]:
        """The turn is over (or broke): release held text, close an open block."""
        pieces = []
        if self._open_text is not None:
            pieces.extend(self._release_held(self._open_text))
        pieces.extend(self._close_fence())
        return pieces

    def block(self) -> None:
        """A moderation verdict blocked the answer."""
        self.finish_reason = "content_filter"

    # -- routing ------------------------------------------------------------

    def _route(self, role, content_type, recipient, name):
        opts = self.options
        if role == "assistant":
            if recipient == "all":
                if content_type == "text" or content_type == "multimodal_text":
                    return self._text
                return self._thoughts if content_type == "thoughts" else None
            if content_type != "code" or recipient.startswith("dalle"):
                return None
            if recipient == "python":
                return self._code if opts.show_code else None
            return self._code if opts.show_plugin_chatter else None
        if role == "tool":
            if content_type == "execution_output":
                return self._execution_output
            if content_type == "multimodal_text":
                return self._tool_images
            if content_type in ("text", "tether_quote") and opts.show_plugin_chatter:
                return self._tool_note
        return None

    # -- output helpers -----------------------------------------------------

    def _content(self, text: str) -> list[Piece]:
        if not text:
            return []
        self._tail = (self._tail + text)[-2:]
        return [(CONTENT, text)]

    def _paragraph(self) -> str:
        """What to write so the next block starts on a line of its own after a blank line."""
        if not self._tail or self._tail == "\n\n":
            return ""
        return "\n" if self._tail.endswith("\n") else "\n\n"

    def _open_fence(self, message_id: str, language: str) -> list[Piece]:
        self._open = message_id
        return self._content(f"{self._paragraph()}```{language}\n")

    def _close_fence(self) -> list[Piece]:
        if self._open is None:
            return []
        self._open = None
        return self._content(("" if self._tail.endswith("\n") else "\n") + "```\n\n")

    # -- handlers -----------------------------------------------------------

    def _text(self, message_id: str, message: dict, finished: bool) -> list[Piece]:
        text = _joined_parts(message.get("content") or {})
        state = self._states.get(message_id)
        if state is None:
            state = self._states[message_id] = _TextState()
        pieces: list[Piece] = []
        if len(text) > state.seen:
            new = text[state.seen:]
            if state.seen == 0 and self._tail:
                pieces.extend(self._content(self._paragraph()))  # a later answer starts a paragraph
            state.seen = len(text)
            pieces.extend(self._content(self._rewrite(state, new, message, final=finished)))
        elif finished and state.held:
            pieces.extend(self._content(self._rewrite(state, "", message, final=True)))
        self._open_text = message_id if state.held else None
        return pieces

    def _release_held(self, message_id: str) -> list[Piece]:
        """Another message started (or the turn ended): held text is plain text after all."""
        state = self._states.get(message_id)
        self._open_text = None
        if not isinstance(state, _TextState) or not state.held:
            return []
        text, state.held = state.held, ""
        return self._content(text)

    def _rewrite(self, state: _TextState, new: str, message: dict, final: bool) -> str:
        """Turn citation marks and sandbox links into links; hold back a possible partial one."""
        buffer = state.held + new
        state.held = ""
        if "【" not in buffer and "[" not in buffer:
            return buffer                       # the hot path: plain text
        out, pos = [], 0
        while True:
            match = _MARKS.search(buffer, pos, partial=not final)
            if match is None:
                out.append(buffer[pos:])
                break
            out.append(buffer[pos:match.start()])
            if match.partial:
                state.held = buffer[match.start():]
                break
            out.append(self._replacement(match, message))
            pos = match.end()
        return "".join(out)

    def _replacement(self, match, message: dict) -> str:
        if match.group("cite"):
            if not self.options.citation_links:
                return ""
            url = _citation_url(message, int(match.group("n")))
            return f"[[{match.group('n')}]({url})]" if url else ""
        url = self.media.sandbox_file(str(message.get("id")), match.group("path")[len("sandbox:"):]) \
            if self.media else None
        return f"[{match.group('label')}]({url})" if url else match.group(0)

    def _thoughts(self, message_id: str, message: dict, finished: bool) -> list[Piece]:
        """Thoughts grow one at a time: per thought, its summary once, then its content."""
        thoughts = (message.get("content") or {}).get("thoughts") or []
        state = self._states.setdefault(message_id, [])   # per thought: chars of content sent
        pieces = []
        for index, thought in enumerate(thoughts):
            if not isinstance(thought, dict):
                continue
            body = thought.get("content") or ""
            if index >= len(state):
                state.append(0)
                summary = thought.get("summary") or ""
                lead = "\n\n" if self._reasoning_started else ""
                if summary:
                    pieces.append((REASONING, f"{lead}**{summary}**\n\n"))
                elif lead and body:
                    pieces.append((REASONING, lead))
                self._reasoning_started = True
            if len(body) > state[index]:
                pieces.append((REASONING, body[state[index]:]))
                state[index] = len(body)
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
            charts = [(m.get("image_url") or "", None) for m in result.get("messages") or ()
                      if isinstance(m, dict) and m.get("message_type") == "image"]
            pieces.extend(self._images(charts))
        return pieces

    def _tool_images(self, message_id: str, message: dict, finished: bool) -> list[Piece]:
        state = self._states.setdefault(message_id, _BlockState())
        if state.done or not finished:
            return []      # images are shown once the tool message is complete
        state.done = True
        return self._images(_image_pointers(message.get("content") or {}))

    def _tool_note(self, message_id: str, message: dict, finished: bool) -> list[Piece]:
        state = self._states.setdefault(message_id, _BlockState())
        if state.done or not finished:
            return []
        state.done = True
        content = message.get("content") or {}
        if content.get("content_type") == "tether_quote":
            note = f"> [{content.get('title') or content.get('url')}]({content.get('url')})"
        else:
            note = _joined_parts(content).strip()
        return self._content(f"{self._paragraph()}{note}\n\n") if note else []

    def _images(self, pointers: list[tuple[str, str | None]]) -> list[Piece]:
        pieces: list[Piece] = []
        if self.options.image_style == "none" and not self.options.collect_images:
            return pieces
        for pointer, prompt in pointers:
            image = self.media.image(pointer) if self.media and pointer else None
            if image is None:
                if self.options.image_style != "none":
                    pieces.extend(self._content(f"{self._paragraph()}(the image could not be loaded)\n\n"))
                continue
            image.revised_prompt = image.revised_prompt or prompt
            self.images.append(image)
            style = self.options.image_style
            if style == "markdown":
                text = f"![image]({image.url})\n\n[Download image]({image.url})\n\n"
            elif style == "plain":
                text = f"{image.url}\n\n"
            else:
                continue
            pieces.extend(self._content(self._paragraph() + text))
        return pieces


def _citation_url(message: dict, index: int) -> str | None:
    for citation in (message.get("metadata") or {}).get("citations") or ():
        meta = citation.get("metadata") if isinstance(citation, dict) else None
        if isinstance(meta, dict) and (meta.get("extra") or {}).get("cited_message_idx") == index:
            return meta.get("url")
    return None
