"""A usage limit the upstream reported in a turn, as the client's 429 with the reset when known.

The reset comes from ``limits_progress`` (``/backend-api/conversation/init``, asked only once a
limit was hit) or else from the limit's own text ("… resets in 23 hours and 5 minutes").
"""
from __future__ import annotations

import logging

from ..auth.credentials import Credentials
from ..errors import APIError
from ..services import Services
from ..upstream.limits import is_limit, reset_in_text, reset_of

log = logging.getLogger(__name__)


def limit_error(services: Services, creds: Credentials, system_errors: list[tuple[str, str]],
                feature: str) -> APIError | None:
    """The first failed tool of ``system_errors`` ((name, text) pairs) that is a limit of ``feature``
    (``image_gen``, ``deep_research``, …), as a 429 ``rate_limit_exceeded``; None when none is."""
    for name, text in system_errors:
        if is_limit(name, text):
            break
    else:
        return None
    reset = None
    try:
        reset = reset_of(services.upstream.conversation_init(creds), feature)
    except APIError as exc:
        log.info("conversation init for the %s limit's reset failed (%s)", feature, exc.upstream_status or exc.status)
    reset = reset or reset_in_text(text)
    return APIError(429, text or f"The upstream's {feature} limit was reached.", code="rate_limit_exceeded",
                    headers={"Retry-After": str(reset)} if reset else {})
