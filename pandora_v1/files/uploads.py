"""Files clients send -> files uploaded to the upstream (parts.py parses, fetch.py fetches URLs).

Before the conversation is sent, ``Uploader.upload`` gets an ``InputFile``'s
bytes (decoded already, or fetched from its URL through ``SafeFetcher``),
works out its type from the bytes, and runs the upstream's three-step upload
— or reuses an earlier upload of the same bytes by the same account after
checking it is still valid. ``big_paste`` does the same for a long message's
text, the way the web app offloads a big paste.
"""
from __future__ import annotations

import hashlib
import logging

from ..auth.credentials import Credentials
from ..errors import APIError, bad_request, upstream_error
from ..upstream import paths
from .fetch import SafeFetcher
from .parts import InputFile, UploadedFile
from .sniff import EXTENSIONS, IMAGE_TYPES, classify, image_size

log = logging.getLogger(__name__)

UPLOAD_CACHE_SECONDS = 7 * 86400
BIG_PASTE_NAME = "Pasted text.txt"     # what the web app names a long text it offloads


class Uploader:
    def __init__(self, upstream, fetcher: SafeFetcher, cache, max_bytes: int):
        self.upstream = upstream
        self.fetcher = fetcher
        self.cache = cache
        self.max_bytes = max_bytes

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
        mime, use_case = classify(data, declared)
        if mime in IMAGE_TYPES and not accepts_images:
            raise bad_request("This model does not accept images.", file.param, code="model_not_multimodal")
        width = height = None
        if mime in IMAGE_TYPES:
            width, height = image_size(data, file.param)
        digest = hashlib.sha256(data).hexdigest()
        name = f"{digest}{EXTENSIONS.get(mime, '.txt' if mime.startswith('text/') else '.bin')}"
        key = f"upload:{hashlib.sha256((credentials.account_key() + digest).encode()).hexdigest()}"
        cached = self.cache.get(key)
        if cached and self._still_valid(cached, credentials):
            file_id = cached
        else:
            file_id = self._upload(name, data, mime, use_case, credentials)
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

    def _process(self, file_id: str, name: str, use_case: str, credentials: Credentials) -> None:
        """Today's upstream makes a document readable by processing it (NDJSON progress events);
        an upstream without that step (404) or failing it still has the file: go on."""
        try:
            response = self.upstream.request("POST", paths.PROCESS_UPLOAD, credentials,
                                             json={"file_id": file_id, "file_name": name, "use_case": use_case,
                                                   "index_for_retrieval": True})
        except APIError as exc:
            log.info("processing upload %s was not possible (%s): sent as it is", file_id, exc.message)
            return
        with response:
            events = response.content[:65536].decode("utf-8", "replace")
        if "file.processing.completed" not in events:
            log.info("processing upload %s did not report completion", file_id)

    def _upload(self, name: str, data: bytes, mime: str, use_case: str, credentials: Credentials) -> str:
        body = self.upstream.get_json(paths.FILES, credentials, method="POST", what="upload answer",
                                      json={"file_name": name, "file_size": len(data), "use_case": use_case,
                                            "mime_type": mime})
        upload_url, file_id = body.get("upload_url"), body.get("file_id")
        if not isinstance(upload_url, str) or not isinstance(file_id, str):
            raise upstream_error("The upstream refused the upload (no upload URL).")
        self.upstream.put_blob(upload_url, data, mime)
        self._confirm(file_id, credentials)     # today it may answer without a download_url: fine
        if use_case == "my_files":
            self._process(file_id, name, use_case, credentials)
        log.info("uploaded a %s file of %d bytes as %s", mime, len(data), file_id)
        return file_id
