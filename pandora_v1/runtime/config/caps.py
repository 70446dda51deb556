"""Per-key names and caps (the object form of ``client_keys``) and the admin key (usage-spec.md, 1).

    "client_keys": {"sk-alice-…": {"account": "main", "name": "alice", "rpm": 60, "concurrent": 2,
                                   "tokens_per_day": 200000, "images_per_day": 20,
                                   "models": ["gpt-4o", "claude-*"], "expires": "2027-06-30"},
                    "sk-qqbot-…": "team"},
    "admin_key": "sk-admin-…"

access.py reads which account a key uses; this reads the rest. Every problem
names the key by its masked id and the field, never the key itself.
"""
from __future__ import annotations

import json
import re
from datetime import datetime, timedelta, timezone
from fnmatch import fnmatchcase

from ..masking import key_id
from .reader import Reader
from .settings import KeyPolicy

FIELDS = ("account", "name", "rpm", "concurrent", "tokens_per_day", "images_per_day", "models", "expires")
CAPS = ("rpm", "concurrent", "tokens_per_day", "images_per_day")
NAME = re.compile(r"[A-Za-z0-9_.-]{1,64}")


def admin_key(reader: Reader) -> str:
    key = reader.string("admin_key")
    if key and ("," in key or any(c.isspace() for c in key)):
        reader.problems.append("admin_key: must be without spaces or commas")
    return key


def key_policies(reader: Reader, keys: tuple[tuple[str, str], ...], model_names: list[str],
                 admin: str) -> tuple[KeyPolicy, ...]:
    """One ``KeyPolicy`` per valid client key (``keys``: access.py's (key, account) pairs)."""
    section = reader.section("client_keys")
    policies: list[KeyPolicy] = []
    owners: dict[str, str] = {}          # name -> the masked id of the key that has it
    for key, account in keys:
        where = f"client_keys[{key_id(key)}]"
        if admin and key == admin:
            reader.problems.append(f"{where}: is the admin_key, which is never accepted as a client key")
        spec = section[key] if isinstance(section[key], dict) else {}
        for field in sorted(set(spec) - set(FIELDS)):
            reader.problems.append(f"{where}.{field}: unknown field (expected {', '.join(FIELDS)})")
        name = _name(reader, spec.get("name"), key, where)
        if name in owners:
            reader.problems.append(f"{where}.name: {json.dumps(name)} is also the name of "
                                   f"client_keys[{owners[name]}]")
        owners.setdefault(name, key_id(key))
        caps = {cap: _cap(reader, spec.get(cap), f"{where}.{cap}") for cap in CAPS}
        expires, expires_at = _expires(reader, spec.get("expires"), f"{where}.expires")
        policies.append(KeyPolicy(key, name, account, **caps,
                                  models=_models(reader, spec.get("models"), model_names, f"{where}.models"),
                                  expires=expires, expires_at=expires_at))
    return tuple(policies)


def _name(reader: Reader, value, key: str, where: str) -> str:
    if value is None:
        return key_id(key)
    if not isinstance(value, str) or not NAME.fullmatch(value):
        reader.problems.append(f"{where}.name: expected 1 to 64 of A-Z a-z 0-9 _ . -, got {json.dumps(value)}")
        return key_id(key)
    return value


def _cap(reader: Reader, value, where: str) -> int | None:
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
        reader.problems.append(f"{where}: expected a positive integer, got {json.dumps(value)}")
        return None
    return value


def _models(reader: Reader, value, model_names: list[str], where: str) -> tuple[str, ...] | None:
    if value is None:
        return None
    if not isinstance(value, list) or not value or not all(isinstance(m, str) and m.strip() for m in value):
        reader.problems.append(f"{where}: expected a non-empty list of model names (* is a glob), "
                               f"got {json.dumps(value)}")
        return None
    for pattern in value:
        if not any(fnmatchcase(name, pattern) for name in model_names):
            reader.problems.append(f"{where}: {json.dumps(pattern)} matches no configured or listed model")
    return tuple(value)


def _expires(reader: Reader, value, where: str) -> tuple[str | None, float | None]:
    """An ISO 8601 date (valid to the end of that UTC day) or date-time (UTC unless it says otherwise)."""
    if value is None:
        return None, None
    try:
        if not isinstance(value, str):
            raise ValueError
        text = value.strip()
        if len(text) == 10:
            day = datetime.fromisoformat(text).replace(tzinfo=timezone.utc)
            return value, (day + timedelta(days=1)).timestamp()
        moment = datetime.fromisoformat(text)
        return value, (moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)).timestamp()
    except ValueError:
        reader.problems.append(f"{where}: expected an ISO 8601 date (2027-06-30) or date-time "
                               f"(2027-06-30T12:00:00Z), got {json.dumps(value)}")
        return None, None
