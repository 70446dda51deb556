"""A usage limit the upstream reported in a turn: noted for the status page (metering/limits.py) and,
where the API answers with an error, the client's 429 with the reset when known.

The reset comes from ``limits_progress`` (``/backend-api/conversation/init``, asked once, and only
once a limit was hit) or else from the limit's own text ("… resets in 23 hours and 5 minutes").
"""
from __future__ import annotations

import logging
import time

from ..auth.credentials import Credentials
from ..errors import APIError
from ..metering import ledger
from ..metering import limits as noted
from ..services import Services
from ..upstream.limits import is_limit, limits_of, reset_in_text, reset_of

log = logging.getLogger(__name__)


def limit_error(services: Services, creds: Credentials, system_errors: list[tuple[str, str]],
                feature: str, account: str | None = None) -> APIError | None:
    """The first failed tool of ``system_errors`` ((name, text) pairs) that is a limit of ``feature``
    (``image_gen``, ``deep_research``, …), as a 429 ``rate_limit_exceeded``; None when none is."""
    for name, text in system_errors:
        if is_limit(name, text):
            break
    else:
        return None
    reset = reset_of(note(services, creds, feature, text, account), feature) or reset_in_text(text)
    return APIError(429, text or f"The upstream's {feature} limit was reached.", code="rate_limit_exceeded",
                    headers={"Retry-After": str(reset)} if reset else {})


def note(services: Services, creds: Credentials, feature: str, message: str, account: str | None = None) -> dict:
    """Note that the account reached ``feature``'s limit, with the resets conversation/init gives (it is
    asked here, once) and any other feature it reports used up; its answer ({} when it gave none)."""
    try:
        init = services.upstream.conversation_init(creds)
    except APIError as exc:
        log.info("conversation init for the %s limit's reset failed (%s)", feature, exc.upstream_status or exc.status)
        init = {}
    if account is None:
        caller = ledger.current().caller
        account = caller.account if caller is not None else "unknown"
    found = limits_of(init)
    reset = next((at for name, _, at in found if name == feature), None)
    if reset is None and (seconds := reset_in_text(message)):
        reset = time.time() + seconds
    noted.note(services.store, feature, message, reset, account)
    for name, remaining, at in found:
        if name != feature and remaining == 0:
            noted.note(services.store, name, "", at, account)
    return init
