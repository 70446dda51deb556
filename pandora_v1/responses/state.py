"""Stored responses and output items in the shared store (agents-spec B.6).

Keys, each with the configured TTL (``responses.store_ttl``):

    responses:<owner>:<resp_id>  {"request_items": [...], "output_items": [...], "response": {...}}
    items:<owner>:<item_id>      one output item

``owner`` is a hash of who asked (the upstream account behind the key, as
``Credentials.account_key`` names it): a response id is no capability, so one
account can never read, continue or delete another's responses.

``request_items`` is the whole conversation the response answered, earlier
responses and references already resolved, so ``previous_response_id`` is
one lookup however long the chain. Living in the store (SQLite or Redis),
it is shared by every worker and instance.
"""
from __future__ import annotations

import hashlib

from ..runtime.store import Store
from .input_items import with_ids


def owner_of(credentials) -> str:
    return hashlib.sha256(credentials.account_key().encode()).hexdigest()[:32]


class ResponseStore:
    def __init__(self, store: Store, ttl: float, owner: str = "-"):
        self.store = store
        self.ttl = ttl
        self.owner = owner

    def save(self, response: dict, request_items: list[dict] | tuple[dict, ...]) -> None:
        """Keep a finished response; its output items first, so a reference never dangles."""
        output = response["output"]
        for item in output:
            if item.get("id"):
                self.store.set_json(f"items:{self.owner}:{item['id']}", item, self.ttl)
        self.store.set_json(f"responses:{self.owner}:{response['id']}",
                            {"request_items": with_ids(request_items), "output_items": output,
                             "response": response}, self.ttl)

    def record(self, response_id: str) -> dict | None:
        return self.store.get_json(f"responses:{self.owner}:{response_id}")

    def response(self, response_id: str) -> dict | None:
        record = self.record(response_id)
        return None if record is None else record["response"]

    def item(self, item_id: str) -> dict | None:
        return self.store.get_json(f"items:{self.owner}:{item_id}")

    def delete(self, response_id: str) -> bool:
        """Forget a response and its output items; False when there was none."""
        record = self.record(response_id)
        if record is None:
            return False
        for item in record["output_items"]:
            if item.get("id"):
                self.store.delete(f"items:{self.owner}:{item['id']}")
        self.store.delete(f"responses:{self.owner}:{response_id}")
        return True
