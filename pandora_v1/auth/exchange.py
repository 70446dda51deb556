"""Keys -> upstream credentials: refresh tokens exchanged once for everyone, gateway keys.

- An access token (a JWT) goes upstream as it is (credentials.py).
- Anything else is a refresh token. It is exchanged for an access token at the
  configured endpoint (proxy style or OAuth2 style, upstream-protocol.md
  "Token refresh"), and the access token is cached in the store under the
  SHA-256 of the refresh token until shortly before its ``exp``. A lock in the
  store makes concurrent first requests (in any worker or instance) cause one
  exchange; the others wait for its result. A refresh token the endpoint
  rotates is kept and used for the next exchange.
- Gateway mode: with ``client_keys`` configured, the key is one of ours
  (compared in constant time) and names an upstream account of the config.
  The operator decides accounts: the whole bearer value must be exactly a
  client key (``<key>,<account id>`` and ``<key>,`` are refused), so no
  client-supplied account id ever reaches the upstream.
- Every request is a ``Caller`` (``identify``): a client key's name and caps
  (the ``on_caller`` hook, the meter, sees it before any exchange), or in
  direct mode the masked id of the credential sent (seen once it passed). The
  admin key is never a client key.

Store keys (all under the store's namespace; ``<h>`` is the SHA-256 of the
refresh token the client sends):

    at:<h>        {"access_token", "expires_at"}     until shortly before exp
    rt:<h>        {"refresh_token"}                   the current (maybe rotated) token
    seen:<h>      last use, refreshed once a day      30 days: idle tokens are dropped
    fail:<h>      {"status", "message"}               a recent failed exchange
    lock:rt:<h>   the exchange lock
"""
from __future__ import annotations

import hashlib
import hmac
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

import orjson
import requests

from ..errors import APIError
from ..metering.ledger import Caller
from ..runtime import store as store_module
from ..runtime.config import KeyPolicy
from ..runtime.masking import key_id, mask, scrub
from ..upstream.client import UpstreamClient
from .credentials import NOT_CONFIGURED, Credentials, is_jwt, jwt_claims, parse_authorization, token_hash

log = logging.getLogger(__name__)

REFRESH_MARGIN = 600.0        # seconds before exp at which a cached access token is renewed
DEFAULT_LIFETIME = 3600.0     # when neither exp nor expires_in says how long a token lives
IDLE_AFTER = 30 * 86400.0     # a refresh token nobody used for this long is forgotten
SEEN_EVERY = 86400.0          # how often a use is written down
REFUSED_TTL = 60.0            # a refused refresh token is answered from memory this long
UNAVAILABLE_TTL = 5.0         # so is an unreachable endpoint, briefly
POLL = 0.05                   # seconds between looks while another process exchanges


# ------------------------------------------------------------ the exchange

class ExchangeRefused(Exception):
    """The endpoint answered and said no (4xx, or no access token in the answer)."""


class ExchangeUnavailable(Exception):
    """The endpoint could not be reached, timed out or failed (5xx)."""


@dataclass(frozen=True)
class Exchanged:
    access_token: str
    expires_at: float
    refresh_token: str | None = None   # a rotated refresh token, when the endpoint sent one


class TokenEndpoint:
    """POSTs a refresh token to the configured URL (proxy: form; OAuth2: JSON)."""

    def __init__(self, settings, clock=time.time, transport=None):
        self.exchange_settings = settings.token_exchange
        self.style = self.exchange_settings.style
        self.url = self.exchange_settings.url
        self.timeout = (settings.connect_timeout, min(settings.read_timeout, 60.0))
        self.clock = clock
        self.transport = transport or UpstreamClient(settings)   # the one owner of proxies and pools

    @property
    def configured(self) -> bool:
        return bool(self.style and self.url)

    def exchange(self, refresh_token: str) -> Exchanged:
        try:
            if self.style == "oauth":
                status, body = self.transport.post_outside(self.url, timeout=self.timeout, json={
                    "grant_type": "refresh_token", "client_id": self.exchange_settings.client_id,
                    "refresh_token": refresh_token})
            else:
                status, body = self.transport.post_outside(self.url, form={"refresh_token": refresh_token},
                                                           timeout=self.timeout)
        except requests.exceptions.Timeout:
            raise ExchangeUnavailable("no answer in time") from None
        except requests.exceptions.RequestException as exc:
            raise ExchangeUnavailable(f"unreachable ({type(exc).__name__})") from None
        text = scrub(body.decode("utf-8", "replace").strip(), refresh_token)
        if status >= 500:
            raise ExchangeUnavailable(f"HTTP {status}: {text[:300]}")
        try:
            data = orjson.loads(body)
        except orjson.JSONDecodeError:
            data = None
        if status >= 400 or not isinstance(data, dict):
            raise ExchangeRefused(f"HTTP {status}: {text[:300] or 'no detail'}")
        access = data.get("access_token")
        if not isinstance(access, str) or not is_jwt(access):
            raise ExchangeRefused(f"HTTP {status} without an access token: {text[:300]}")
        now = self.clock()
        expires_at = jwt_claims(access).get("exp")
        if not isinstance(expires_at, (int, float)) or isinstance(expires_at, bool):
            expires_in = data.get("expires_in")
            lifetime = expires_in if isinstance(expires_in, (int, float)) and expires_in > 0 \
                else DEFAULT_LIFETIME
            expires_at = now + lifetime
        rotated = data.get("refresh_token")
        rotated = rotated if isinstance(rotated, str) and rotated and rotated != refresh_token else None
        return Exchanged(access, float(expires_at), rotated)


# ------------------------------------------------------------- the service

@dataclass(frozen=True)
class RefreshReport:
    renewed: int = 0
    failed: int = 0
    forgotten: int = 0


class CredentialService:
    """Keys -> Credentials, with refresh tokens exchanged once and shared through the store."""

    def __init__(self, settings, store: store_module.Store, endpoint: TokenEndpoint | None = None,
                 clock=time.time, transport=None):
        self.settings = settings
        self.store = store
        self.endpoint = endpoint or TokenEndpoint(settings, clock, transport)
        self.on_exchange: Callable[[str], None] = lambda outcome: None   # metrics hook
        self.on_caller: Callable[[Caller], None] = lambda caller: None   # the meter's hook (may refuse)
        self.clock = clock
        self.accounts = {account.name: account for account in settings.upstream_accounts}
        # Client keys are compared as SHA-256 digests: equal lengths, constant time.
        policies = {policy.key: policy for policy in settings.key_policies}
        self._client_keys = [(hashlib.sha256(key.encode()).digest(),
                              policies.get(key) or KeyPolicy(key, key_id(key), name))
                             for key, name in settings.client_keys]
        self._admin = hashlib.sha256(settings.admin_key.encode()).digest() if settings.admin_key else None
        # Deadlines: an exchange holds its lock at most this long; waiters give up after.
        connect, read = self.endpoint.timeout
        self.lock_ttl = connect + read + 5.0
        self.wait_timeout = self.lock_ttl + 1.0

    # ----- keys -> credentials

    def resolve(self, header: str | None) -> Credentials:
        caller = self.identify(header)
        if caller.policy is not None:     # one of our keys: its caps apply before any exchange
            self.on_caller(caller)
            return self._gateway(caller.policy)
        token, account = parse_authorization(header)
        credentials = self.for_token(token, account)
        self.on_caller(caller)            # direct mode: a credential that passed is someone
        return credentials

    def identify(self, header: str | None) -> Caller:
        """Who ``header`` is, without any exchange: 401 for a key that is none of ours."""
        token, _ = parse_authorization(header)
        value = (header or "").strip().partition(" ")[2].strip()
        if self.is_admin(header):
            raise APIError(401, "This is the admin key: it opens the admin view and the admin API, "
                                "and is not accepted as a client key.", code="invalid_api_key")
        if self._client_keys:
            # The whole value, comma and all: only an exact client key matches.
            policy = self._match(value)
            return Caller(policy.name, policy.account, policy)
        return Caller(key_id(token), key_id(token))

    def is_admin(self, header: str | None) -> bool:
        if self._admin is None or not header:
            return False
        scheme, _, value = header.strip().partition(" ")
        if scheme.lower() != "bearer":
            return False
        value = value.strip()
        return hmac.compare_digest(hashlib.sha256(value.encode()).digest(), self._admin)

    def for_token(self, token: str, account_id: str | None = None) -> Credentials:
        """An access token as it is; a refresh token exchanged (or from the cache)."""
        if is_jwt(token):
            return Credentials(token, account_id)
        if not self.endpoint.configured:
            raise APIError(401, NOT_CONFIGURED, code="invalid_api_key")
        return Credentials(self.access_token(token), account_id)

    def for_key(self, key: str) -> Credentials:
        """A configured key such as ``key_for_gpts_info``: ``token[,account_id]``."""
        token, _, account = key.partition(",")
        return self.for_token(token.strip(), account.strip() or None)

    def _match(self, key: str) -> KeyPolicy:
        digest = hashlib.sha256(key.encode()).digest()
        found = None
        for candidate, policy in self._client_keys:   # every key, no early exit
            if hmac.compare_digest(candidate, digest):
                found = policy
        if found is None:
            raise APIError(401, f"Incorrect API key provided: {mask(key)}.", code="invalid_api_key")
        return found

    def _gateway(self, policy: KeyPolicy) -> Credentials:
        upstream = self.accounts[policy.account]
        account_id = upstream.account_id or None
        if upstream.access_token:
            return Credentials(upstream.access_token, account_id)
        return Credentials(self.access_token(upstream.refresh_token), account_id)

    # ----- refresh tokens

    def access_token(self, refresh_token: str) -> str:
        """The access token for ``refresh_token``: cached, or exchanged once for everyone."""
        digest = token_hash(refresh_token)
        cached = self.store.get_json(f"at:{digest}")
        if cached:
            self._seen(digest)
            return cached["access_token"]
        token = self._exchange(digest, refresh_token, force=False)
        self._seen(digest)
        return token

    def _seen(self, digest: str) -> None:
        last = self.store.get(f"seen:{digest}")
        now = self.clock()
        try:
            fresh = last is not None and now - float(last) < SEEN_EVERY
        except ValueError:
            fresh = False
        if not fresh:
            self.store.set(f"seen:{digest}", str(now), IDLE_AFTER)

    def _exchange(self, digest: str, refresh_token: str | None, force: bool) -> str:
        """Exchange under the store lock, or wait for whoever holds it.

        ``force`` (the daily job) exchanges even while a cached token is valid.
        """
        deadline = time.monotonic() + self.wait_timeout
        first = True
        while True:
            if not (force and first):
                cached = self.store.get_json(f"at:{digest}")
                if cached:
                    return cached["access_token"]
                failure = None if force else self.store.get_json(f"fail:{digest}")
                if failure:
                    raise APIError(failure["status"], failure["message"], code=failure.get("code"))
            first = False
            owner = store_module.acquire(self.store, f"rt:{digest}", self.lock_ttl)
            if owner:
                try:
                    return self._exchange_locked(digest, refresh_token, force)
                finally:
                    store_module.release(self.store, f"rt:{digest}", owner)
            if time.monotonic() > deadline:
                raise APIError(504, "Timed out waiting for the refresh token exchange.",
                               code="token_exchange_timeout")
            time.sleep(POLL)

    def _exchange_locked(self, digest: str, refresh_token: str | None, force: bool) -> str:
        if not force:   # someone may have finished between our look and our lock
            cached = self.store.get_json(f"at:{digest}")
            if cached:
                return cached["access_token"]
            failure = self.store.get_json(f"fail:{digest}")
            if failure:
                raise APIError(failure["status"], failure["message"], code=failure.get("code"))
        record = self.store.get_json(f"rt:{digest}") or {}
        current = record.get("refresh_token") or refresh_token
        if not current:
            raise APIError(401, "This refresh token is no longer known.", code="invalid_api_key")
        try:
            result = self.endpoint.exchange(current)
        except ExchangeRefused as exc:
            self.on_exchange("refused")
            log.warning("token endpoint refused refresh token %s: %s", mask(current), exc)
            self.store.delete(f"rt:{digest}")
            self.store.delete(f"seen:{digest}")
            return self._failed(digest, 401, "The refresh token was refused by the token endpoint "
                                             f"({exc}).", "invalid_api_key", REFUSED_TTL)
        except ExchangeUnavailable as exc:
            self.on_exchange("unavailable")
            log.warning("token endpoint failed for refresh token %s: %s", mask(current), exc)
            return self._failed(digest, 502, f"The token endpoint could not exchange the refresh "
                                             f"token ({exc}).", "token_endpoint_unavailable",
                                UNAVAILABLE_TTL)
        self.on_exchange("ok")
        now = self.clock()
        lifetime = result.expires_at - now
        ttl = lifetime - min(REFRESH_MARGIN, lifetime * 0.1)
        self.store.set_json(f"rt:{digest}", {"refresh_token": result.refresh_token or current})
        self.store.delete(f"fail:{digest}")
        if ttl >= 1:
            self.store.set_json(f"at:{digest}", {"access_token": result.access_token,
                                                 "expires_at": result.expires_at}, ttl)
        log.info("refresh token %s exchanged%s; access token valid for %.0f s", mask(current),
                 " (rotated)" if result.refresh_token else "", lifetime)
        return result.access_token

    def _failed(self, digest: str, status: int, message: str, code: str, ttl: float):
        self.store.set_json(f"fail:{digest}", {"status": status, "message": message, "code": code}, ttl)
        raise APIError(status, message, code=code)

    def configured_refresh_tokens(self) -> list[str]:
        tokens = [a.refresh_token for a in self.settings.upstream_accounts if a.refresh_token]
        gpts_key = self.settings.key_for_gpts_info.partition(",")[0].strip()
        if gpts_key and not is_jwt(gpts_key):
            tokens.append(gpts_key)
        return tokens

    def refresh_all(self) -> RefreshReport:
        """The daily job: re-exchange every known refresh token; forget idle ones."""
        if not self.endpoint.configured:
            return RefreshReport()
        known: dict[str, str | None] = {token_hash(t): t for t in self.configured_refresh_tokens()}
        for key in self.store.keys("rt:"):
            known.setdefault(key[len("rt:"):], None)
        renewed = failed = forgotten = 0
        for digest, configured in known.items():
            if configured is None and self.store.get(f"seen:{digest}") is None:
                for prefix in ("rt", "at", "fail"):
                    self.store.delete(f"{prefix}:{digest}")
                forgotten += 1
                continue
            try:
                self._exchange(digest, configured, force=True)
                renewed += 1
            except APIError as exc:
                log.info("daily refresh of %s… failed: %s", digest[:8], exc.message)
                failed += 1
        return RefreshReport(renewed, failed, forgotten)
