"""Images and sandbox files: fetched from the upstream, kept under unique names, served by us.

``MediaStore`` owns the two folders (``images_dir``, ``files_dir``) and the
clean-up of old files; ``RequestMedia`` is what one answer's renderer uses to
turn an image pointer or a ``sandbox:`` path into a URL the client can open.
"""
from __future__ import annotations

import logging
import mimetypes
import os
import re
import secrets
import time
import urllib.parse
from collections.abc import Callable
from pathlib import Path

from ..auth.credentials import Credentials
from ..errors import APIError, upstream_error
from ..runtime.config import Settings
from ..upstream import paths
from ..upstream.client import UpstreamClient
from .parts import ResolvedImage
from .sniff import EXTENSIONS, IMAGE_TYPES, sniff_type

log = logging.getLogger(__name__)

_UNSAFE = re.compile(r"[^\w.\-]+")


def _image_extension(data: bytes, content_type: str) -> str:
    mime = sniff_type(data)
    if mime in IMAGE_TYPES:
        return EXTENSIONS[mime]
    return mimetypes.guess_extension(content_type.split(";")[0].strip()) or ".png"


def safe_file_name(name: str) -> str:
    """A file name that stays inside its folder: letters (any script), digits, . _ -"""
    base = _UNSAFE.sub("_", os.path.basename(name.replace("\\", "/"))).strip("._")
    return base[:120] or "file"


class MediaStore:
    def __init__(self, settings: Settings, upstream: UpstreamClient):
        self.settings = settings
        self.upstream = upstream
        self.folders = {"images": Path(settings.images_dir).resolve(),
                        "files": Path(settings.files_dir).resolve()}

    def for_request(self, credentials: Credentials, base_url: str,
                    conversation_id: Callable[[], str | None], keep_local: bool = False) -> "RequestMedia":
        return RequestMedia(self, credentials, self.settings.backend_container_url or base_url,
                            conversation_id, keep_local)

    def save(self, kind: str, name: str, data: bytes) -> Path | None:
        """Write ``data`` under ``name``; None (one warning logged) when the disk refuses.

        A failed write (full disk, read-only folder, quota) leaves no partial
        file: callers then link the upstream's own URL instead.
        """
        folder = self.folders[kind]
        path = folder / name
        temporary = path.with_name(f".{name}.part")
        try:
            folder.mkdir(parents=True, exist_ok=True)
            temporary.write_bytes(data)
            os.replace(temporary, path)   # a reader never sees half a file
        except OSError as exc:
            try:
                temporary.unlink(missing_ok=True)
            except OSError:
                pass
            log.warning("could not save %s (%d bytes) in %s: %s; linking the upstream's URL instead",
                        name, len(data), kind, exc.strerror or exc)
            return None
        return path

    def delete_older_than(self, days: float) -> int:
        """Delete saved media older than ``days``; returns how many files went."""
        cutoff = time.time() - days * 86400
        removed = 0
        for folder in self.folders.values():
            if not folder.is_dir():
                continue
            for path in folder.iterdir():
                try:
                    if path.is_file() and path.stat().st_mtime < cutoff:
                        path.unlink()
                        removed += 1
                except OSError as exc:
                    log.warning("could not delete old media %s: %s", path.name, exc)
        if removed:
            log.info("deleted %d media files older than %s days", removed, days)
        return removed

    def download_url(self, path: str, credentials: Credentials) -> str:
        body = self.upstream.get_json(path, credentials, what="download answer")
        url = body.get("download_url")
        # Today's upstream may answer a path (/backend-api/estuary/content?id=…): the upstream's own.
        if not isinstance(url, str) or not url.startswith(("http://", "https://", "/")) or url.startswith("//"):
            raise upstream_error("The upstream gave no download URL for a file.")
        return url

    def fetch(self, url: str, credentials: Credentials | None = None) -> tuple[bytes, str]:
        """The bytes behind a download URL: a signed one without Authorization, a path
        relative to the upstream with the request's credentials."""
        return self.upstream.download(url, self.settings.max_media_bytes, credentials)


class RequestMedia:
    """The media of one answer: knows the request's credentials and public base URL."""

    def __init__(self, store: MediaStore, credentials: Credentials, base_url: str,
                 conversation_id: Callable[[], str | None], keep_local: bool):
        self.store = store
        self.credentials = credentials
        self.base_url = base_url.rstrip("/")
        self.conversation_id = conversation_id
        self.keep_local = keep_local

    def image(self, pointer: str, data: bool = False) -> ResolvedImage | None:
        """The image behind ``pointer``: saved here and linked, or with ``data`` (and for b64_json
        answers) its bytes kept in memory instead; None when it can't be had."""
        scheme, _, file_id = pointer.rpartition("://")
        try:
            url = self._image_url(scheme, file_id)
            if self.keep_local or data:   # the bytes are kept in memory; no disk needed
                body, _ = self.store.fetch(url, self.credentials)
                return ResolvedImage(url, data=body)
            if self.store.settings.use_oaiusercontent_url and not url.startswith("/"):
                return ResolvedImage(url)
            body, content_type = self.store.fetch(url, self.credentials)
            name = f"image_{time.strftime('%Y%m%d%H%M%S')}_{secrets.token_hex(6)}" \
                   f"{_image_extension(body, content_type)}"
            if self.store.save("images", name, body) is None:
                # The disk refused: the upstream's own link, when it is one a client can open.
                return None if url.startswith("/") else ResolvedImage(url)
            return ResolvedImage(f"{self.base_url}/images/{name}")
        except APIError as exc:
            log.warning("image %s could not be fetched: %s", file_id, exc.message)
            return None

    def _image_url(self, scheme: str, file_id: str) -> str:
        """gpt-image's sediment:// files are the conversation's attachments; file-service://
        (DALL·E, charts) the old files endpoint."""
        conversation_id = self.conversation_id() if scheme == "sediment" else None
        if not conversation_id:
            return self.store.download_url(paths.file_download(file_id), self.credentials)
        try:
            return self.store.download_url(paths.attachment_download(conversation_id, file_id),
                                           self.credentials)
        except APIError as exc:
            log.info("attachment download of %s failed (%s); trying the files endpoint", file_id, exc.message)
            return self.store.download_url(paths.files_download(file_id, conversation_id),
                                           self.credentials)

    def sandbox_file(self, message_id: str, path: str) -> str | None:
        conversation_id = self.conversation_id()
        if not conversation_id:
            return None
        try:
            url = self.store.download_url(paths.interpreter_download(conversation_id, message_id, path),
                                          self.credentials)
            if self.store.settings.use_oaiusercontent_url and not url.startswith("/"):
                return url
            data, _ = self.store.fetch(url, self.credentials)
            name = f"{secrets.token_hex(6)}_{safe_file_name(path)}"
            if self.store.save("files", name, data) is None:
                return None if url.startswith("/") else url   # the disk refused: the upstream's link
            return f"{self.base_url}/files/{urllib.parse.quote(name)}"
        except APIError as exc:
            log.warning("sandbox file %s could not be fetched: %s", safe_file_name(path), exc.message)
            return None


def content_type_for(name: str) -> str:
    return mimetypes.guess_type(name)[0] or "application/octet-stream"
