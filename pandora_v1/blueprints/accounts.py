"""POST /getAccountID: which accounts (Plus, Team workspaces) a token can use."""
from __future__ import annotations

from flask import Blueprint, jsonify

from ..errors import upstream_error
from ..services import current_services
from ..upstream import paths
from .common import request_credentials

bp = Blueprint("accounts", __name__)

def plans(answer) -> dict[str, list[str]]:
    """The accounts-check answer -> ``{"plus": [ids], "team": [ids]}`` (other plans left out)."""
    accounts = answer.get("accounts") if isinstance(answer, dict) else None
    if not isinstance(accounts, dict):
        raise upstream_error("The upstream's accounts answer holds no accounts.")
    result: dict[str, list[str]] = {"plus": [], "team": []}
    for account_id, info in accounts.items():
        if account_id == "default" or not isinstance(info, dict):
            continue   # "default" repeats one of the others
        account: dict = info["account"] if isinstance(info.get("account"), dict) else {}
        plan = account.get("plan_type")
        if plan in result:
            result[plan].append(account.get("account_id") or account_id)
    return result


@bp.post("/getAccountID")
def get_account_id():
    creds = request_credentials()
    answer = current_services().upstream.get_json(paths.ACCOUNTS_CHECK, creds, what="accounts answer")
    return jsonify(plans(answer))
