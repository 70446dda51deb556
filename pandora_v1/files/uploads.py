"""Files clients send -> files uploaded to the upstream (parts.py parses, fetch.py fetches URLs).

Before the conversation is sent, ``Uploader.upload`` gets an ``InputFile``'s
bytes (decoded already, or fetched from its URL through ``SafeFetcher``),
works out its type from the bytes, and runs the upstream's three-step upload
— or reuses an earlier upload of the same bytes by the same account after
checking it is still valid. A document is then processed so the model can
read it (``DocumentProcessing``). ``big_paste`` does the same for a long
message's text, the way the web app offloads a big paste.
"""
from __future__ import annotations

import hashlib
import logging
import os
import time
from dataclasses import dataclass

import orjson
import requests

from ..auth.credentials import Credentials
from ..errors import APIError, bad_request, upstream_error
from ..upstream import paths
from .fetch import SafeFetcher
from .media import safe_file_name
from .parts import InputFile, UploadedFile
from .sniff import EXTENSIONS, IMAGE_TYPES, classify, image_size

log = logging.getLogger(__name__)

UPLOAD_CACHE_SECONDS = 7 * 86400
BIG_PASTE_NAME = "Pasted text.txt"     # what the web app names a long text it offloads


class Uploader:
    def __init__(self, upstream, fetcher: SafeFetcher, cache, max_bytes: int, processing_seconds: float = 60.0):
        self.upstream = upstream
        self.fetcher = fetcher
        self.cache = cache
        self.max_bytes = max_bytes
        self.processing_seconds = processing_seconds

    def upload_all(self, messages, credentials: Credentials, accepts_images: bool) -> dict[str, UploadedFile]:
        """Every file of the request, by its part's param; the first failure stops them all."""
        return {f.param: self.upload(f, credentials, accepts_images) for m in messages for f in m.files}

    def upload(self, file: InputFile, credentials: Credentials, accepts_images: bool) -> UploadedFile:
        data, declared = (file.data, file.declared_type) if file.url is None \
            else self.fetcher.fetch(file.url, f"{file.param}.image_url.url")
        if not data:
            raise bad_request("The file is empty.", file.param, code="empty_file")
        if len(data) > self.max_bytes:
            raise APIError(413, f"The file is larger than {self.max_bytes} bytes.", param=file.param,
                           code="file_too_large")
        mime, use_case = classify(data, declared, file.name)
        if mime in IMAGE_TYPES and not accepts_images:
            raise bad_request("This model does not accept images.", file.param, code="model_not_multimodal")
        width = height = None
        if mime in IMAGE_TYPES:
            width, height = image_size(data, file.param)
        digest = hashlib.sha256(data).hexdigest()
        extension = EXTENSIONS.get(mime, ".txt" if mime.startswith("text/") else ".bin")
        name = f"{digest}{extension}"
        if use_case == "my_files" and file.name:
            # A document keeps its name (the model cites it by name), with the extension its bytes have.
            name = f"{os.path.splitext(safe_file_name(file.name))[0] or digest}{extension}"
        key = f"upload:{hashlib.sha256((credentials.account_key() + digest).encode()).hexdigest()}"
        cached = self.cache.get(key)
        if cached and self._still_valid(cached, credentials):
            file_id = cached
        else:
            upload = Upload(name, data, mime, use_case, width, height)
            file_id = self._upload(upload, credentials, file.param)
            self.cache.set(key, file_id, UPLOAD_CACHE_SECONDS)
        return UploadedFile(file_id, name, len(data), mime, width, height)

    def big_paste(self, text: str, credentials: Credentials) -> dict:
        """A long text uploaded as the web app's big paste (upstream-protocol.md, "Continuation,
        branching and long inputs"), or the earlier upload of the same text; its message attachment."""
        data = text.encode("utf-8", "surrogatepass")
        digest = hashlib.sha256(data).hexdigest()
        key = f"upload:{hashlib.sha256((credentials.account_key() + 'big-paste:' + digest).encode()).hexdigest()}"
        cached = self.cache.get(key)
        if cached and self._still_valid(cached, credentials):
            file_id = cached
        else:
            body = self.upstream.get_json(paths.FILES, credentials, method="POST", what="upload answer", json={
                "file_name": BIG_PASTE_NAME, "file_size": len(data), "use_case": "my_files",
                "mime_type": "text/plain", "selection_method": "generated_big_paste",
                "entry_surface": "chat_composer", "store_in_library": True,
                "library_persistence_mode": "opportunistic"})
            upload_url, file_id = body.get("upload_url"), body.get("file_id")
            if not isinstance(upload_url, str) or not isinstance(file_id, str):
                raise upstream_error("The upstream refused the upload of a long message (no upload URL).")
            self.upstream.put_blob(upload_url, data, "text/plain")
            self._confirm(file_id, credentials)
            self.cache.set(key, file_id, UPLOAD_CACHE_SECONDS)
            log.info("uploaded a long message of %d bytes as %s (big paste)", len(data), file_id)
        return {"id": file_id, "size": len(data), "name": BIG_PASTE_NAME, "mime_type": "text/plain",
                "source": "local", "non_library_my_files_injest_upload": True, "is_big_paste": True}

    def _still_valid(self, file_id: str, credentials: Credentials) -> bool:
        try:
            self._confirm(file_id, credentials)
            return True
        except APIError:
            return False

    def _confirm(self, file_id: str, credentials: Credentials) -> None:
        body = self.upstream.get_json(paths.file_uploaded(file_id),
                                      credentials, method="POST", json={}, what="upload confirmation")
        if body.get("status") != "success":
            raise upstream_error("The upstream did not confirm the upload.")

    def _upload(self, upload: "Upload", credentials: Credentials, param: str) -> str:
        create = {"file_name": upload.name, "file_size": len(upload.data), "use_case": upload.use_case,
                  "mime_type": upload.mime}
        if upload.width is not None:
            create.update(width=upload.width, height=upload.height)   # images: as the web app sends them
        body = self.upstream.get_json(paths.FILES, credentials, method="POST", what="upload answer", json=create)
        upload_url, file_id = body.get("upload_url"), body.get("file_id")
        if not isinstance(upload_url, str) or not isinstance(file_id, str):
            raise upstream_error("The upstream refused the upload (no upload URL).")
        self.upstream.put_blob(upload_url, upload.data, upload.mime)
        self._confirm(file_id, credentials)     # today it may answer without a download_url: fine
        if upload.use_case == "my_files":
            DocumentProcessing(self.upstream, credentials, self.processing_seconds).run(file_id, upload.name, param)
        log.info("uploaded a %s file of %d bytes as %s", upload.mime, len(upload.data), file_id)
        return file_id


@dataclass(frozen=True)
class Upload:
    name: str
    data: bytes
    mime: str
    use_case: str
    width: int | None = None
    height: int | None = None


class DocumentProcessing:
    """Today's upstream makes a document readable by processing it: ``process_upload_stream`` answers
    NDJSON events up to ``file.processing.completed`` (upstream-protocol.md, "Documents"); without it the
    model says it cannot see the file. The wait is bounded by ``seconds`` in all. An upstream without
    the step (404) is asked for the file's ``retrieval_index_status`` instead, the older way; one that
    has neither has the file as it is. ``file.processing.error`` is the client's 400."""

    POLL_SECONDS = 1.0

    def __init__(self, upstream, credentials: Credentials, seconds: float):
        self.upstream, self.credentials, self.seconds = upstream, credentials, seconds
        self.failure = ""          # what file.processing.error said

    def run(self, file_id: str, name: str, param: str) -> None:
        deadline = time.monotonic() + self.seconds
        try:
            response = self.upstream.request(
                "POST", paths.PROCESS_UPLOAD, self.credentials, stream=True, read_timeout=max(self.seconds, 0.1),
                headers={"Accept": "application/x-ndjson, */*"},
                json={"file_id": file_id, "file_name": name, "use_case": "my_files", "index_for_retrieval": True,
                      "entry_surface": "chat_composer"})
        except APIError as exc:
            if exc.upstream_status == 404:
                return self._poll_index(file_id, deadline)
            log.info("processing upload %s was not possible (%s): sent as it is", file_id, exc.message)
            return
        with response:
            outcome = self._read_events(response, deadline)
        if outcome == "error":
            raise bad_request(f"The upstream could not read the file {name}: {self.failure}", param,
                              code="file_processing_failed")
        if outcome != "completed":
            log.warning("processing upload %s did not complete (%s); sent as it is", file_id, outcome)

    def _read_events(self, response, deadline: float) -> str:
        try:
            for line in response.iter_lines():
                if time.monotonic() > deadline:
                    return "timed out"
                event = _ndjson(line)
                kind = str(event.get("event") or event.get("type") or "")
                if kind == "file.processing.completed":
                    return "completed"
                if kind == "file.processing.error":
                    self.failure = str(event.get("message") or event.get("error") or "processing failed")[:300]
                    return "error"
        except requests.RequestException as exc:
            return type(exc).__name__
        return "no completion event"

    def _poll_index(self, file_id: str, deadline: float) -> None:
        while True:
            try:
                status = self.upstream.get_json(paths.file_info(file_id), self.credentials,
                                                what="file").get("retrieval_index_status")
            except APIError:
                return                       # neither way exists here: the file goes as it is
            if status in (None, "success") or time.monotonic() + self.POLL_SECONDS > deadline:
                return
            if status == "failed":
                log.warning("the upstream could not index upload %s; sent as it is", file_id)
                return
            time.sleep(self.POLL_SECONDS)


def _ndjson(line: bytes) -> dict:
    try:
        event = orjson.loads(line) if line.strip() else {}
    except orjson.JSONDecodeError:
        return {}
    return event if isinstance(event, dict) else {}
