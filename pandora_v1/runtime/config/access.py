"""Who may call, and with which upstream account: refresh-token exchange, upstream accounts, client keys."""
from __future__ import annotations

import json

from ..masking import key_id
from .reader import Reader, http_url
from .settings import TokenExchange, UpstreamAccount


def token_exchange(reader: Reader, refresh: dict) -> TokenExchange:
    """enableOai -> OAuth2 at a configured token URL; else a proxy-style refresh URL, if any."""
    prefix = "refresh_ToAccess."
    oauth = reader.boolean("enableOai", False, refresh, prefix + "enableOai")
    token_url = http_url(reader, "oai_token_url", refresh, prefix + "oai_token_url")
    client_id = reader.string("oai_client_id", "", refresh, prefix + "oai_client_id")
    proxy_url = (http_url(reader, "oaifree_refreshToAccess_Url", refresh, prefix + "oaifree_refreshToAccess_Url")
                 or http_url(reader, "xyhelper_refreshToAccess_Url", refresh,
                              prefix + "xyhelper_refreshToAccess_Url"))
    if oauth and token_url and client_id:
        return TokenExchange("oauth", token_url, client_id)
    if oauth:
        # The reference products' enableOai meant a vendor endpoint built in; we build none in.
        # An old config still starts: it says what is missing and uses the proxy URL, if any.
        reader.notes.append(f"{prefix}enableOai is true but {prefix}oai_token_url and {prefix}oai_client_id "
                            "are not both set (no OAuth2 endpoint is built in); "
                            + ("using the proxy-style refresh URL instead" if proxy_url
                               else "refresh tokens cannot be exchanged"))
    if proxy_url:
        return TokenExchange("proxy", proxy_url)
    return TokenExchange()


def gateway(reader: Reader, exchange: TokenExchange):
    """upstream_accounts + client_keys: clients hold our keys, never an upstream token."""
    accounts: dict[str, UpstreamAccount] = {}
    for name, spec in reader.section("upstream_accounts").items():
        key = f"upstream_accounts.{name}"
        if not isinstance(spec, dict):
            reader.problems.append(f"{key}: expected {{\"access_token\" or \"refresh_token\": ..., "
                                   f"\"account_id\": ...}}")
            continue
        access = reader.string("access_token", "", spec, f"{key}.access_token")
        refresh = reader.string("refresh_token", "", spec, f"{key}.refresh_token")
        account_id = reader.string("account_id", "", spec, f"{key}.account_id")
        if bool(access) == bool(refresh):
            reader.problems.append(f"{key}: give exactly one of access_token and refresh_token")
        elif refresh and not exchange.style:
            reader.problems.append(f"{key}.refresh_token: refresh tokens need refresh_ToAccess."
                                   "oaifree_refreshToAccess_Url (or xyhelper_refreshToAccess_Url, or "
                                   "enableOai with oai_token_url)")
        accounts[name] = UpstreamAccount(name, access, refresh, account_id)
    keys = []
    for client_key, spec in reader.section("client_keys").items():
        # "key": "account", or {"account": ..., caps...} (the caps: caps.py)
        key = f"client_keys[{key_id(client_key)}]"
        field, name = (f"{key}.account", spec.get("account")) if isinstance(spec, dict) else (key, spec)
        if not client_key.strip() or "," in client_key or any(c.isspace() for c in client_key):
            reader.problems.append(f"{key}: a client key must be non-empty, without spaces or commas")
        elif name is None and isinstance(spec, dict):
            reader.problems.append(f"{field}: required in the object form (an upstream_accounts name)")
        elif not isinstance(name, str) or name not in accounts:
            reader.problems.append(f"{field}: names {json.dumps(name)}, which is not in upstream_accounts")
        else:
            keys.append((client_key, name))
    return tuple(accounts.values()), tuple(keys)
