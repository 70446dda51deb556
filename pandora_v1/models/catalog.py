"""What the upstream offers an account (``GET /backend-api/models``), cached in the store, and
which slugs take a ``thinking_effort``.

The list differs by plan, so it is kept per account (``upstream_models:<owner>``,
``upstream_models.ttl``); a failed fetch is remembered for a minute, so a down
upstream is not asked again on every request. The 2026 shape
(upstream-protocol "Reasoning effort and model slugs") says per slug which
efforts it takes (``thinking_efforts``) or that it has none
(``reasoning_type: "none"``); older lists say neither.

Whether a slug reasons, first match wins: the alias's own ``reasoning`` in
the config, the upstream's list, the ``reasoning_slugs`` patterns.
"""
from __future__ import annotations

import fnmatch
import hashlib
import logging
from dataclasses import dataclass

from ..auth.credentials import Credentials
from ..errors import APIError
from ..runtime.config import ModelEntry, Settings
from ..runtime.store import Store, StoreUnavailable
from ..upstream import paths
from ..upstream.client import UpstreamClient
from .effort import UPSTREAM_EFFORTS, thinking_effort

log = logging.getLogger(__name__)

FAILURE_TTL = 60.0     # seconds a failed fetch is remembered


@dataclass(frozen=True)
class UpstreamModel:
    slug: str
    title: str = ""
    efforts: tuple[str, ...] | None = None   # its thinking_efforts; () none; None: the list does not say


def parse_models(body: dict) -> list[UpstreamModel]:
    """The upstream's model list, either shape; entries without a slug are skipped."""
    found: list[UpstreamModel] = []
    for item in body.get("models") or () if isinstance(body, dict) else ():
        if not isinstance(item, dict) or not isinstance(item.get("slug"), str) or not item["slug"].strip():
            continue
        listed = item.get("thinking_efforts")
        efforts: tuple[str, ...] | None = None
        if isinstance(listed, list) and listed:
            names = [e.get("thinking_effort") if isinstance(e, dict) else e for e in listed]
            efforts = tuple(n for n in names if isinstance(n, str))
        elif item.get("reasoning_type") == "none":
            efforts = ()
        title = item["title"] if isinstance(item.get("title"), str) else ""
        found.append(UpstreamModel(item["slug"].strip(), title, efforts))
    return found


def _owner(creds: Credentials) -> str:
    return hashlib.sha256(creds.account_key().encode()).hexdigest()[:32]


class ModelCatalog:
    def __init__(self, settings: Settings, store: Store, upstream: UpstreamClient):
        self.settings = settings.model_settings
        self.store = store
        self.upstream = upstream

    def listed(self, creds: Credentials, fetch: bool = True) -> list[UpstreamModel] | None:
        """The account's upstream models, from the store or (``fetch``) the upstream; None when
        unavailable."""
        key = f"upstream_models:{_owner(creds)}"
        try:
            cached = self.store.get_json(key)
        except StoreUnavailable:
            cached = None
        if isinstance(cached, dict):
            return [UpstreamModel(m["slug"], m.get("title", ""),
                                  tuple(m["efforts"]) if m.get("efforts") is not None else None)
                    for m in cached.get("models") or ()] if cached.get("ok") else None
        if not fetch:
            return None
        try:
            body = self.upstream.get_json(paths.models(), creds, what="model list")
            models, ok = parse_models(body), True
        except APIError as exc:
            log.info("the upstream's model list is unavailable: %s", exc.message)
            models, ok = [], False
        value = {"ok": ok, "models": [{"slug": m.slug, "title": m.title,
                                       "efforts": list(m.efforts) if m.efforts is not None else None}
                                      for m in models]}
        try:
            self.store.set_json(key, value, self.settings.upstream_ttl if ok else FAILURE_TTL)
        except StoreUnavailable:
            pass
        return models if ok else None

    def find(self, slug: str, creds: Credentials, fetch: bool = True) -> UpstreamModel | None:
        return next((m for m in self.listed(creds, fetch) or () if m.slug == slug), None)

    def efforts(self, entry: ModelEntry, creds: Credentials, fetch: bool = True) -> tuple[str, ...]:
        """The efforts ``entry``'s slug takes; () when it takes none (``fetch``: may ask the upstream
        for its list when none is cached)."""
        if entry.reasoning is False:
            return ()
        listed = self.find(entry.slug, creds, fetch)
        if listed is not None and listed.efforts:        # the upstream names them
            return listed.efforts
        if entry.reasoning:
            return UPSTREAM_EFFORTS
        if listed is not None and listed.efforts == ():   # the upstream says it has none
            return ()
        return UPSTREAM_EFFORTS if any(fnmatch.fnmatchcase(entry.slug, p)
                                       for p in self.settings.reasoning_slugs) else ()

    def thinking_effort(self, entry: ModelEntry, effort: str | None, creds: Credentials) -> str | None:
        """What to send as ``thinking_effort`` for ``effort`` on ``entry``; None: send none."""
        if not effort or effort in ("none", "minimal"):
            return None            # nothing to look up
        return thinking_effort(effort, self.efforts(entry, creds))
