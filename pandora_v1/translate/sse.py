"""Upstream bytes -> server-sent events.

The framing itself is sseclient-py's; this module feeds it bytes as they
arrive (``read1``, so a close-delimited body streams too), refuses a line
longer than the configured limit before it can fill memory, and turns
transport failures into ``APIError``s a client can be shown.
"""
from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator

import requests
import sseclient
import urllib3.exceptions

from ..errors import APIError

log = logging.getLogger(__name__)

READ_SIZE = 64 * 1024


def read_chunks(response: requests.Response) -> Iterator[bytes]:
    """The body as it arrives, in whatever pieces the network gives."""
    raw = response.raw
    try:
        while True:
            chunk = raw.read1(READ_SIZE)
            if not chunk:
                return
            yield chunk
    except (urllib3.exceptions.ReadTimeoutError, TimeoutError):
        raise APIError(504, "The upstream stopped sending the answer (read timeout).",
                       code="upstream_timeout") from None
    except (urllib3.exceptions.HTTPError, requests.RequestException, OSError, ValueError) as exc:
        # ValueError: urllib3 reading a response another thread just closed.
        log.info("upstream stream broke: %s", type(exc).__name__)
        raise APIError(502, "The upstream connection dropped in the middle of the answer.",
                       code="upstream_error") from None


def limit_line_length(chunks: Iterable[bytes], max_bytes: int) -> Iterator[bytes]:
    """Pass chunks through, failing once a single line grows past max_bytes."""
    pending = 0  # bytes since the last line break
    for chunk in chunks:
        cut = max(chunk.rfind(b"\n"), chunk.rfind(b"\r"))
        pending = len(chunk) - cut - 1 if cut >= 0 else pending + len(chunk)
        if pending > max_bytes:
            raise APIError(502, f"The upstream sent an event larger than {max_bytes} bytes.",
                           code="upstream_error")
        yield chunk


def events(chunks: Iterable[bytes]) -> Iterator[tuple[str, str]]:
    """(event name, data) for each dispatched event; comments and pings included as sent."""
    client = sseclient.SSEClient(chunks)
    try:
        for event in client.events():
            yield event.event, event.data
    except UnicodeDecodeError:
        raise APIError(502, "The upstream sent an event that is not valid UTF-8.",
                       code="upstream_error") from None
