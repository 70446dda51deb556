"""Every ``/backend-api/…`` path pandora_v1 calls, in one place (upstream-protocol.md names them).

Ids are quoted whole (``safe=""``): an id can never add a path segment.
"""
from __future__ import annotations

from urllib.parse import quote, urlencode

CONVERSATION = "/backend-api/conversation"        # the default; the config may choose /f/conversation
RESUME = "/backend-api/f/conversation/resume"     # where a handed-off answer streams from
PREPARE = "/backend-api/f/conversation/prepare"   # optional, before a POST to /f/conversation: a conduit token
CONVERSATION_INIT = "/backend-api/conversation/init"   # limits_progress: usage limits and their resets
MODELS = "/backend-api/models"
ACCOUNTS_CHECK = "/backend-api/accounts/check/v4-2023-04-27"
FILES = "/backend-api/files"                      # upload, step 1
PROCESS_UPLOAD = "/backend-api/files/process_upload_stream"


def _id(value: str) -> str:
    return quote(value, safe="")


def conversation(conversation_id: str) -> str:
    """GET: the conversation document; PATCH: hide it."""
    return f"/backend-api/conversation/{_id(conversation_id)}"


def file_uploaded(file_id: str) -> str:
    return f"/backend-api/files/{_id(file_id)}/uploaded"


def file_download(file_id: str) -> str:
    """A ``file-service://`` file."""
    return f"/backend-api/files/{_id(file_id)}/download"


def attachment_download(conversation_id: str, file_id: str) -> str:
    """A ``sediment://`` file (gpt-image): the conversation's attachment."""
    return f"/backend-api/conversation/{_id(conversation_id)}/attachment/{_id(file_id)}/download"


def files_download(file_id: str, conversation_id: str) -> str:
    """The other way to a ``sediment://`` file."""
    return f"/backend-api/files/download/{_id(file_id)}?{urlencode({'conversation_id': conversation_id})}"


def interpreter_download(conversation_id: str, message_id: str, sandbox_path: str) -> str:
    """A file the code interpreter wrote (``sandbox:/mnt/data/…``)."""
    query = urlencode({"message_id": message_id, "sandbox_path": sandbox_path})
    return f"/backend-api/conversation/{_id(conversation_id)}/interpreter/download?{query}"


def gizmo(gizmo_id: str) -> str:
    return f"/backend-api/gizmos/{_id(gizmo_id)}"
