"""Secrets made fit for logs and screens, in one format: ``abcdef…(26)``.

A few first characters (at most a quarter of the secret, so short ones give
nothing away) and the length: enough to tell two keys apart, never enough to
use one.

- ``mask``: one secret we know is a secret.
- ``scrub``: an answer we log (a token endpoint's body): named secrets, JWTs and
  ``"…token": "…"``-style fields masked.
- ``redact``: the log formatter's last line of defence, for whatever a log call
  was given: bearer tokens, JWTs and long ``Bearer`` values.
- ``masked_settings``: the effective settings for ``check-config``.
- ``key_id``: the stable stand-in for a key in usage, metrics and the admin view
  (``k-`` and 12 hex digits of its SHA-256: the same key, the same id, everywhere).
"""
from __future__ import annotations

import hashlib
import re

SECRET_SETTING_WORDS = ("token", "password", "secret", "key", "prefixes")

# A JWT, also one cut short (a log line keeps only the start of an event): header, payload, signature.
_JWT = re.compile(r"eyJ[A-Za-z0-9_-]{8,}(?:\.[A-Za-z0-9_-]*){0,2}")
_TOKEN_FIELD = re.compile(r'("[A-Za-z_]*(?:token|secret|password|key)[A-Za-z_]*"\s*:\s*")([^"]*)(")', re.I)
_BEARER = re.compile(r"(Bearer\s+)(\S{16,})")


def mask(secret: str | None, keep: int = 6) -> str:
    """A loggable stand-in for a secret: a few first characters and its length."""
    if not secret:
        return "<none>"
    return f"{secret[:min(keep, len(secret) // 4)]}…({len(secret)})"


def key_id(secret: str) -> str:
    """``k-`` + the first 12 hex digits of the SHA-256 of ``secret`` (usage-spec.md, 1)."""
    return "k-" + hashlib.sha256(secret.encode()).hexdigest()[:12]


def scrub(text: str, *secrets: str | None) -> str:
    """``text`` (an endpoint's answer) fit for a log: secrets, JWTs and token fields masked."""
    for secret in secrets:
        if secret and len(secret) >= 4:
            text = text.replace(secret, mask(secret))
    text = _TOKEN_FIELD.sub(lambda m: m.group(1) + mask(m.group(2)) + m.group(3), text)
    return _JWT.sub(lambda m: mask(m.group(0)), text)


def redact(text: str) -> str:
    """Any JWT, and any long value after ``Bearer``, masked."""
    if "eyJ" in text:
        text = _JWT.sub(lambda m: mask(m.group(0)), text)
    if "Bearer" in text:
        text = _BEARER.sub(lambda m: m.group(1) + (m.group(2) if "…(" in m.group(2) else mask(m.group(2))),
                           text)
    return text


def masked_settings(value, name: str = ""):
    """Settings as plain data with every value under a secret-sounding key masked."""
    if isinstance(value, dict):
        return {k: masked_settings(v, k) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [masked_settings(v, name) for v in value]
    if isinstance(value, str) and value and any(w in name.lower() for w in SECRET_SETTING_WORDS):
        return mask(value)
    return value
