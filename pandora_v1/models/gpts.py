"""GPT info: ``/backend-api/gizmos/{id}``, fetched once and shared through the store.

A GPT model name (from gpts.json, or ``gpt-4-gizmo-g-…`` / ``gizmo-g-…``) is
only sent upstream once its info could be fetched: with ``key_for_gpts_info``
(an access or refresh token) when configured, else with the request's own
credentials. Nothing is fetched at start-up in the request path: a GPT that
is unreachable then is fetched on its first use, by the start-up warm-up job,
or by the daily job.
"""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass

from ..auth.credentials import Credentials, is_jwt
from ..auth.exchange import CredentialService
from ..errors import APIError
from ..runtime.config import ModelEntry, Settings
from ..runtime.store import Store
from ..upstream import paths
from ..upstream.client import UpstreamClient

log = logging.getLogger(__name__)

INFO_TTL = 2 * 86400.0        # the daily job renews it long before


@dataclass(frozen=True)
class GptReport:
    updated: int = 0
    failed: int = 0
    skipped: bool = False     # no key_for_gpts_info: nothing to fetch with


class GptCatalog:
    def __init__(self, settings: Settings, store: Store, upstream: UpstreamClient,
                 credentials: CredentialService):
        self.settings = settings
        self.store = store
        self.upstream = upstream
        self.credentials = credentials
        self.key = settings.key_for_gpts_info
        token = self.key.partition(",")[0].strip()
        if token and not is_jwt(token) and not credentials.endpoint.configured:
            # An old config's key that can't work here: say so once, use the requests' keys.
            log.warning("key_for_gpts_info is not an access token and no refresh endpoint is "
                        "configured (refresh_ToAccess); GPT info is fetched with each request's key")
            self.key = ""

    def cached(self, gizmo_id: str) -> dict | None:
        return self.store.get_json(f"gizmo:{gizmo_id}")

    def info(self, entry: ModelEntry, creds: Credentials | None = None) -> dict:
        """The GPT's info, from the store or the upstream; 404 model_not_found if it can't be had."""
        gizmo_id = entry.gizmo_id or ""
        info = self.cached(gizmo_id)
        if info:
            return info
        try:
            return self._fetch(gizmo_id, self._credentials() or creds)
        except APIError as exc:
            if exc.status == 429 or exc.status >= 500:
                raise   # the upstream is down or busy: say so, not "no such GPT"
            raise APIError(404, f"The model `{entry.alias}` is the GPT {gizmo_id}, which could not be "
                                f"fetched from the upstream: {exc.message}", param="model",
                           code="model_not_found") from None

    def _credentials(self) -> Credentials | None:
        return self.credentials.for_key(self.key) if self.key else None

    def _fetch(self, gizmo_id: str, creds: Credentials | None) -> dict:
        if creds is None:
            raise APIError(401, "no key to fetch GPT info with (set key_for_gpts_info)")
        data = self.upstream.get_json(paths.gizmo(gizmo_id), creds, what="GPT answer")
        try:
            gizmo = data["gizmo"]
            display = gizmo.get("display") or {}
            info = {"id": gizmo.get("id") or gizmo_id, "name": display.get("name") or gizmo_id,
                    "description": display.get("description") or "", "fetched_at": time.time()}
        except (KeyError, TypeError, AttributeError):
            raise APIError(404, "the upstream's answer holds no GPT") from None
        self.store.set_json(f"gizmo:{gizmo_id}", info, INFO_TTL)
        log.info("GPT %s (%s) fetched", gizmo_id, info["name"])
        return info

    def refresh(self, gizmo_ids: list[str] | None = None) -> GptReport:
        """Fetch the configured GPTs (and every cached one) again; for the jobs."""
        if not self.key:
            return GptReport(skipped=True)
        ids = dict.fromkeys(entry.gizmo_id or "" for entry in self.settings.gpts)
        if gizmo_ids is None:
            ids.update(dict.fromkeys(key[len("gizmo:"):] for key in self.store.keys("gizmo:")))
        else:
            ids = dict.fromkeys(gizmo_ids)
        updated = failed = 0
        for gizmo_id in ids:
            try:
                self._fetch(gizmo_id, self._credentials())
                updated += 1
            except APIError as exc:
                log.warning("GPT %s could not be fetched (will retry later): %s", gizmo_id, exc.message)
                failed += 1
        return GptReport(updated, failed)
