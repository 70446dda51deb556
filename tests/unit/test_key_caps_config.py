"""client_keys' object form (names and caps per key), mixed with the string form, and admin_key
(usage-spec.md, 1): what is read, and every bad value stopping the start with one line naming the
key by its masked id and the field, never the key itself."""
from __future__ import annotations

import hashlib
from datetime import datetime, timezone

import pytest

from pandora_v1.runtime import config
from pandora_v1.runtime.config import KeyPolicy

ALICE, BOT = "sk-alice-0123456789abcdef", "sk-qqbot-0123456789abcdef"
ACCOUNTS = {"main": {"access_token": "eyJ.a.b"}, "team": {"access_token": "eyJ.c.d", "account_id": "acc-1"}}


def masked(key: str) -> str:
    return "k-" + hashlib.sha256(key.encode()).hexdigest()[:12]


def parse(alice=None, **extra):
    alice = {"account": "main", "name": "alice"} if alice is None else alice
    return config.parse({"upstream_accounts": ACCOUNTS, "client_keys": {ALICE: alice, BOT: "team"}, **extra})


def problems(alice=None, **extra) -> list[str]:
    with pytest.raises(config.ConfigError) as info:
        parse(alice, **extra)
    text = str(info.value)
    assert ALICE not in text and BOT not in text
    return info.value.problems


def test_the_object_form_mixes_with_the_string_form():
    s = parse({"account": "main", "name": "alice", "rpm": 60, "concurrent": 2, "tokens_per_day": 200000,
               "images_per_day": 20, "models": ["gpt-4o", "gpt-4o-*"], "expires": "2027-06-30"},
              admin_key="sk-admin-0123456789abcdef")
    assert s.client_keys == ((ALICE, "main"), (BOT, "team"))
    end_of_day = datetime(2027, 7, 1, tzinfo=timezone.utc).timestamp()
    assert s.key_policies == (
        KeyPolicy(ALICE, "alice", "main", 60, 2, 200000, 20, ("gpt-4o", "gpt-4o-*"), "2027-06-30", end_of_day),
        KeyPolicy(BOT, masked(BOT), "team"))
    assert s.key_policies[0].capped and not s.key_policies[1].capped
    assert s.admin_key == "sk-admin-0123456789abcdef"
    # No name: the masked id; a date-time keeps its time (UTC unless it says otherwise).
    s = parse({"account": "main", "expires": "2027-06-30T12:00:00+02:00"})
    assert s.key_policies[0].name == masked(ALICE)
    assert s.key_policies[0].expires_at == datetime(2027, 6, 30, 10, tzinfo=timezone.utc).timestamp()
    assert parse({"account": "main", "expires": "2027-06-30T12:00:00"}).key_policies[0].expires_at == \
        datetime(2027, 6, 30, 12, tzinfo=timezone.utc).timestamp()


@pytest.mark.parametrize("field, value", [
    ("rpm", "60"), ("rpm", 0), ("concurrent", -1), ("tokens_per_day", 1.5), ("images_per_day", True),
    ("rpm", [60]), ("models", "gpt-4o"), ("models", []), ("models", ["gpt-4o", 3]),
    ("expires", "next june"), ("expires", 20270630), ("name", "has space"), ("name", "x" * 65),
    ("colour", "blue")])
def test_a_bad_field_stops_the_start_naming_the_key_and_the_field(field, value):
    found = problems({"account": "main", "name": "alice", field: value})
    assert len(found) == 1, found
    assert found[0].startswith(f"client_keys[{masked(ALICE)}].{field}: "), found


def test_a_model_allow_list_entry_must_match_a_model():
    found = problems({"account": "main", "models": ["gpt-4o", "gpt-9-turbo", "claude-*"]})
    assert found == [f'client_keys[{masked(ALICE)}].models: "gpt-9-turbo" matches no configured or listed model',
                     f'client_keys[{masked(ALICE)}].models: "claude-*" matches no configured or listed model']
    # Aliases of the models section and GPTs of gpts.json are models too; * and ? are globs.
    s = config.parse({"upstream_accounts": ACCOUNTS, "models": {"claude-sonnet-4": "gpt-4o"},
                      "client_keys": {ALICE: {"account": "main", "models": ["claude-*", "my-gp?"]}}},
                     (config.ModelEntry("my-gpt", "gpt-4-gizmo", True, "g-abc"),))
    assert s.key_policies[0].models == ("claude-*", "my-gp?")


def test_account_names_and_the_admin_key():
    assert problems({"name": "alice"}) == [
        f"client_keys[{masked(ALICE)}].account: required in the object form (an upstream_accounts name)"]
    assert problems({"account": "ghost"}) == [
        f'client_keys[{masked(ALICE)}].account: names "ghost", which is not in upstream_accounts']
    found = problems({"account": "main", "name": masked(BOT)})
    assert found == [f'client_keys[{masked(BOT)}].name: "{masked(BOT)}" is also the name of '
                     f"client_keys[{masked(ALICE)}]"]
    assert problems(admin_key=BOT) == [
        f"client_keys[{masked(BOT)}]: is the admin_key, which is never accepted as a client key"]
    assert problems(admin_key="sk admin") == ["admin_key: must be without spaces or commas"]


def test_check_config_masks_the_admin_key_and_the_client_keys():
    import dataclasses

    from pandora_v1.runtime.masking import masked_settings

    s = parse({"account": "main", "name": "alice", "rpm": 5}, admin_key="sk-admin-0123456789abcdef")
    shown = str(masked_settings(dataclasses.asdict(s)))
    assert "alice" in shown and "sk-admin-0123456789abcdef" not in shown and ALICE not in shown
