"""Drawing: one upstream conversation per image (picture_v2), ``n`` of them at once within a limit.

The upstream has no ``n`` (upstream-protocol.md, "Image generation and
editing"): each image is its own turn, as the public clients do it. A turn
is the usual answer pipeline asked for the image tool; what it showed is in
its renderer (``images``, and ``previews`` for partial images). A turn
gives its distinct images (a DALL·E turn may draw several; revisions of one
gpt-image picture share a gen_id and count once); the request takes the
first ``n`` in turn order. A turn that
shows no image failed: the image tool's error (its limit is a 429), or the
model answered in words instead, which OpenAI calls a moderation block.

The turns run on threads (greenlets under gevent) and report through one
queue, so a stream can write each event as it comes and keep the client's
connection alive meanwhile; each watches the client (watch.py), and ``stop``
ends them all at their next read when the client leaves.
"""
from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from ..answer import watch as client_watch
from ..answer.limits import limit_error
from ..answer.pipeline import Answer, start_answer
from ..answer.request import ChatRequest
from ..auth.credentials import Credentials
from ..errors import APIError, ClientGone, upstream_error
from ..files.parts import ResolvedImage
from ..runtime.config import ModelEntry
from ..services import Services
from ..translate.render import RenderOptions

log = logging.getLogger(__name__)

PICTURE_HINTS = ("picture_v2",)      # today's upstream: use the image tool
OPTIONS = RenderOptions(show_code=False, image_style="none", collect_images=True)


@dataclass(frozen=True)
class Order:
    """What every turn of one request shares."""
    services: Services
    chat: ChatRequest
    entry: ModelEntry
    creds: Credentials
    public_url: str
    started: float | None
    environ: dict | None             # the client's connection, watched while a turn waits
    partial_images: int = 0
    account: str | None = None       # whose upstream limits a turn notes (metering/limits.py)


class Turn:
    """One image: the conversation that draws it."""

    def __init__(self, order: Order, index: int):
        self.order, self.index = order, index
        self.answer: Answer | None = None
        self.stopped = False
        self.started = threading.Event()          # the upstream took the turn, or refused it
        self.refused: APIError | None = None      # how it refused it, before any answer

    def run(self, partial: Callable[[int, bytes], None]) -> list[ResolvedImage]:
        order = self.order
        try:
            # picture_v2 asks today's upstream for its image tool; older ones ignore the hint.
            answer = self.answer = start_answer(order.services, order.chat, order.entry, order.creds, OPTIONS,
                                                public_url=order.public_url, started=order.started,
                                                keep_media_local=True, system_hints=PICTURE_HINTS)
        except APIError as exc:
            self.refused = exc
            raise
        finally:
            self.started.set()
        answer.limit_answered = True     # an image limit is this route's 429 (failure() notes it)
        if order.environ is not None:
            client_watch.watch(answer, order.environ, stream=False)
        try:
            sent = 0
            for _ in answer.batches(order.services.settings.keepalive_interval):
                if self.stopped:
                    raise ClientGone()
                previews = answer.renderer.previews
                while sent < min(len(previews), order.partial_images):
                    preview = answer.renderer.media.image(previews[sent]) if answer.renderer.media else None
                    if preview is not None and preview.data:
                        partial(sent, preview.data)
                    sent += 1
        finally:
            answer.finish()
        images = distinct(answer.renderer.images)
        if not images:
            raise failure(answer, order)
        return images

    def stop(self) -> None:
        """The client left: the turn ends at its next read (its own greenlet closes the upstream)."""
        self.stopped = True


def distinct(images: list[ResolvedImage]) -> list[ResolvedImage]:
    """One per generation: revisions of one image share a gen_id, and the last is the finished one."""
    kept: dict[object, ResolvedImage] = {}
    for index, image in enumerate(images):
        kept[image.gen_id or index] = image
    return list(kept.values())


def failure(answer: Answer, order: Order) -> APIError:
    """Why a turn shows no image: the tool's own error, an image the upstream drew but did not give
    (or did not finish), else a refusal in words."""
    renderer = answer.renderer
    if renderer.lost_images:
        return upstream_error("The upstream drew the image, but it could not be fetched.")
    if renderer.previews:
        return APIError(504, "The upstream did not finish the image in time (async_wait_seconds).",
                        code="upstream_timeout")
    if renderer.system_errors:
        # The image tool's limit is a 429 with its reset (noted for the status page); any other failure a 400.
        limit = limit_error(order.services, order.creds, renderer.system_errors, "image_gen", order.account)
        if limit is not None:
            return limit
        name, text = renderer.system_errors[0]
        return APIError(400, f"No image was generated: {text or name}", code="image_generation_failed",
                        param="prompt")
    said = "".join(answer.content).strip()[:500] or "(nothing)"
    return APIError(400, f"Your request was rejected by the safety system. No image was generated; the "
                         f"upstream said: {said}", type="image_generation_user_error", param="prompt",
                    code="moderation_blocked")


class Drawing:
    """``n`` turns, at most ``limit`` at once. ``events`` yields, as they happen,
    ``("partial", index, partial_index, bytes)``, ``("done", index, [ResolvedImage])`` and
    ``("failed", index, APIError)``, one of the last two per turn; None when ``keepalive``
    seconds passed without any."""

    def __init__(self, order: Order, n: int, limit: int):
        self.turns = [Turn(order, index) for index in range(n)]
        self._queue: queue.Queue = queue.Queue()
        self._slots = threading.BoundedSemaphore(max(1, limit))
        for turn in self.turns:
            threading.Thread(target=self._run, args=(turn,), name=f"image-turn-{turn.index}", daemon=True).start()

    def _run(self, turn: Turn) -> None:
        with self._slots:
            try:
                if turn.stopped:
                    raise ClientGone()
                image = turn.run(lambda index, data: self._queue.put(("partial", turn.index, index, data)))
                self._queue.put(("done", turn.index, image))
            except APIError as exc:
                self._queue.put(("failed", turn.index, exc))
            except Exception:  # noqa: BLE001 - a turn's bug is that turn's failure, never a lost request
                log.exception("an image turn failed")
                self._queue.put(("failed", turn.index, APIError(500, "The server failed while drawing the image.")))
            finally:
                turn.started.set()

    def first_start(self) -> APIError | None:
        """Wait until the upstream took the first turn; the error if it refused it (a 429, a bad key),
        which a stream can still answer with its own HTTP status."""
        first = self.turns[0]
        first.started.wait()
        return first.refused

    def events(self, keepalive: float | None = None) -> Iterator[tuple | None]:
        left = len(self.turns)
        while left:
            try:
                event = self._queue.get(timeout=keepalive)
            except queue.Empty:
                yield None
                continue
            if event[0] != "partial":
                left -= 1
            yield event

    def stop(self) -> None:
        for turn in self.turns:
            turn.stop()
