"""Who a request is, upstream: the ``Credentials`` value type and what reads it from a key.

A leaf: it imports nothing of pandora_v1 but ``errors``. Turning refresh
tokens and gateway keys into credentials is ``exchange.py``'s job.

- A JWT is an access token and goes upstream as it is.
- ``Bearer <token>,<account_id>`` names a Team workspace (``ChatGPT-Account-ID``).
"""
from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass

import orjson

from ..errors import APIError


@dataclass(frozen=True)
class Credentials:
    access_token: str
    account_id: str | None = None

    def account_key(self) -> str:
        """Who this is, for caches (the user id claim, not the token), plus the workspace."""
        claims = jwt_claims(self.access_token)
        user = claims.get("sub") or (claims.get("https://api.openai.com/auth") or {}).get("user_id") \
            or hashlib.sha256(self.access_token.encode()).hexdigest()
        return f"{user}|{self.account_id or ''}"

    def headers(self) -> dict[str, str]:
        headers = {"Authorization": f"Bearer {self.access_token}"}
        if self.account_id:
            headers["ChatGPT-Account-ID"] = self.account_id
        return headers


def token_hash(refresh_token: str) -> str:
    """The store key of a refresh token: never the token itself."""
    return hashlib.sha256(refresh_token.encode()).hexdigest()


def is_jwt(token: str) -> bool:
    parts = token.split(".")
    return len(parts) == 3 and token.startswith("eyJ") and all(parts)


def jwt_claims(token: str) -> dict:
    """The unverified payload of a JWT (we only read ``exp``); {} if unreadable."""
    try:
        payload = token.split(".")[1]
        claims = orjson.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    except (IndexError, ValueError):
        return {}
    return claims if isinstance(claims, dict) else {}


def parse_authorization(header: str | None) -> tuple[str, str | None]:
    """``Bearer <token>[,<account_id>]`` -> (token, account_id)."""
    if not header:
        raise APIError(401, "You didn't provide an API key. Send your access token as "
                            "'Authorization: Bearer <token>'.", code="invalid_api_key")
    scheme, _, value = header.strip().partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        raise APIError(401, "The Authorization header must be 'Bearer <token>' or "
                            "'Bearer <token>,<account_id>'.", code="invalid_api_key")
    token, _, account = value.strip().partition(",")
    return token.strip(), (account.strip() or None)


NOT_CONFIGURED = ("The key is not an access token, and refresh tokens are not configured on this "
                  "server.")


def from_header(header: str | None) -> Credentials:
    """The credentials a header names by itself: an access token (and account id), no exchange."""
    token, account = parse_authorization(header)
    if not is_jwt(token):
        raise APIError(401, NOT_CONFIGURED, code="invalid_api_key")
    return Credentials(token, account)
