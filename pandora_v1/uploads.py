"""Images and documents in chat messages -> files uploaded to the upstream.

A content part (``image_url`` with a ``data:`` or ``http(s)`` URL, or OpenAI's
``file`` part) becomes an ``InputFile`` when the request is parsed. Before the
conversation is sent, ``Uploader.upload`` gets its bytes (decoding, or fetching
the URL through ``SafeFetcher``), works out its type from the bytes, and runs
the upstream's three-step upload — or reuses an earlier upload of the same
bytes by the same account after checking it is still valid.
"""
from __future__ import annotations

import base64
import binascii
import hashlib
import io
import ipaddress
import logging
import socket
import urllib.parse
import zipfile
from dataclasses import dataclass

import orjson
import requests
import urllib3
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

from .credentials import Credentials
from .errors import APIError, bad_request, upstream_error

log = logging.getLogger(__name__)

# The MIME types the reference products upload as they are; anything else
# with a known type goes as "ace_upload", and unknown bytes as text/plain.
IMAGE_TYPES = {"image/jpeg", "image/webp", "image/png", "image/gif"}
DOCUMENT_TYPES = {
    "text/x-php", "application/msword", "text/x-c", "text/html",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document", "application/json",
    "text/javascript", "application/pdf", "text/x-java", "text/x-tex", "text/x-typescript",
    "text/x-sh", "text/x-csharp", "application/vnd.openxmlformats-officedocument.presentationml.presentation",
    "text/x-c++", "application/x-latext", "text/markdown", "text/plain", "text/x-ruby",
    "text/x-script.python"}
EXTENSIONS = {
    "image/jpeg": ".jpg", "image/webp": ".webp", "image/png": ".png", "image/gif": ".gif",
    "application/pdf": ".pdf", "application/msword": ".doc", "text/plain": ".txt",
    "application/json": ".json", "text/markdown": ".md", "text/html": ".html",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document": ".docx",
    "application/vnd.openxmlformats-officedocument.presentationml.presentation": ".pptx",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": ".xlsx",
    "application/zip": ".zip", "application/octet-stream": ".bin",
}
MAX_REDIRECTS = 3
UPLOAD_CACHE_SECONDS = 7 * 86400


@dataclass(frozen=True)
class InputFile:
    """A file a client put in a message, as parsed (bytes not fetched yet for URLs)."""
    param: str                       # e.g. messages[0].content[1]
    data: bytes | None = None        # from a data: URL or file_data
    url: str | None = None           # an http(s) URL to fetch
    filename: str | None = None
    declared_type: str | None = None
    is_image_part: bool = False


@dataclass(frozen=True)
class UploadedFile:
    file_id: str
    name: str
    size: int
    mime_type: str
    width: int | None = None
    height: int | None = None

    @property
    def is_image(self) -> bool:
        return self.mime_type in IMAGE_TYPES

    def attachment(self) -> dict:
        item = {"id": self.file_id, "name": self.name, "size": self.size, "mime_type": self.mime_type}
        if self.is_image:
            item.update(width=self.width, height=self.height)
        return item

    def pointer(self) -> dict:
        return {"content_type": "image_asset_pointer", "asset_pointer": f"file-service://{self.file_id}",
                "size_bytes": self.size, "width": self.width, "height": self.height}


# ---------------------------------------------------------------- parsing

def decode_data_url(url: str, param: str) -> tuple[bytes, str | None]:
    header, comma, payload = url.partition(",")
    if not comma or not header.startswith("data:"):
        raise bad_request("A data URL must look like data:<mime>;base64,<data>.", param, code="invalid_file")
    mime = header[5:].split(";")[0].strip() or None
    if ";base64" in header:
        try:
            data = base64.b64decode(payload.strip(), validate=True)
        except (binascii.Error, ValueError):
            raise bad_request("The data URL's base64 is not valid.", param, code="invalid_base64") from None
    else:
        data = urllib.parse.unquote_to_bytes(payload)
    return data, mime


def input_file(part: dict, param: str) -> InputFile:
    """An ``image_url`` or ``file`` content part -> InputFile (400 naming the part if malformed)."""
    if part["type"] in ("image_url", "input_image"):
        image = part.get("image_url")
        url = image.get("url") if isinstance(image, dict) else image
        if not isinstance(url, str) or not url.strip():
            raise bad_request("An image_url part needs image_url.url.", f"{param}.image_url.url")
        url = url.strip()
        if url.startswith("data:"):
            data, mime = decode_data_url(url, f"{param}.image_url.url")
            return InputFile(param, data=data, declared_type=mime, is_image_part=True)
        if urllib.parse.urlsplit(url).scheme not in ("http", "https"):
            raise bad_request("Only data:, http: and https: URLs can be sent.", f"{param}.image_url.url",
                              code="invalid_url")
        return InputFile(param, url=url, is_image_part=True)
    file = part.get("file")
    if not isinstance(file, dict) or not isinstance(file.get("file_data"), str):
        raise bad_request("A file part needs file.file_data (a data: URL or plain base64).",
                          f"{param}.file.file_data")
    name = file.get("filename") if isinstance(file.get("filename"), str) else None
    raw = file["file_data"].strip()
    if raw.startswith("data:"):
        data, mime = decode_data_url(raw, f"{param}.file.file_data")
    else:
        try:
            data, mime = base64.b64decode(raw, validate=True), None
        except (binascii.Error, ValueError):
            raise bad_request("file.file_data is not valid base64.", f"{param}.file.file_data",
                              code="invalid_base64") from None
    return InputFile(param, data=data, filename=name, declared_type=mime)


# ---------------------------------------------------------------- types

def sniff_type(data: bytes) -> str | None:
    """The MIME type the bytes themselves show, or None when they show none."""
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if data.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if data[:6] in (b"GIF87a", b"GIF89a"):
        return "image/gif"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    if data.startswith(b"%PDF-"):
        return "application/pdf"
    if data.startswith(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"):
        return "application/msword"
    if data.startswith(b"PK\x03\x04"):
        try:
            names = zipfile.ZipFile(io.BytesIO(data)).namelist()
        except zipfile.BadZipFile:
            return "application/zip"
        for folder, mime in (("word/", "application/vnd.openxmlformats-officedocument.wordprocessingml.document"),
                             ("ppt/", "application/vnd.openxmlformats-officedocument.presentationml.presentation"),
                             ("xl/", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")):
            if any(n.startswith(folder) for n in names):
                return mime
        return "application/zip"
    if b"\x00" in data[:4096]:
        return None
    try:
        data[:65536].decode("utf-8")
    except UnicodeDecodeError as exc:
        if exc.start < 65532:          # a character cut by the 64 KB window is still text
            return None
    return "text/plain"


def classify(data: bytes, declared: str | None) -> tuple[str, str]:
    """(mime type, use_case). The bytes decide; a declared text type refines plain text."""
    mime = sniff_type(data)
    if mime == "text/plain" and declared in DOCUMENT_TYPES and declared.startswith(("text/", "application/json")):
        mime = declared
    if mime is None:
        mime = "text/plain"            # as the reference products do with unknown bytes
    if mime in IMAGE_TYPES:
        return mime, "multimodal"
    if mime in DOCUMENT_TYPES:
        return mime, "my_files"
    return mime, "ace_upload"


def image_size(data: bytes, param: str) -> tuple[int, int]:
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(data)) as image:
            return image.size
    except (UnidentifiedImageError, OSError, ValueError):
        raise bad_request("The image could not be read.", param, code="invalid_image") from None


# ---------------------------------------------------------------- fetching

def refused_address(address: str, allow_private: bool = False) -> bool:
    """Loopback, private, link-local (cloud metadata), reserved: never fetched unless allowed."""
    ip = ipaddress.ip_address(address.split("%")[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped:
        ip = ip.ipv4_mapped
    if allow_private:
        return ip.is_unspecified or ip.is_multicast
    return not ip.is_global or ip.is_multicast


class _GuardedMixin:
    """Checks the address actually connected to before a single byte is sent."""

    def _new_conn(self):
        sock = super()._new_conn()
        peer = sock.getpeername()[0]
        if self.refuse(peer):
            sock.close()
            raise _RefusedAddress(peer)
        return sock


class _RefusedAddress(urllib3.exceptions.HTTPError):
    pass


class SafeFetcher:
    """GETs client-supplied URLs without reaching loopback, private or metadata addresses."""

    def __init__(self, max_bytes: int, timeout: float, allow_private: bool, refuse=None):
        self.max_bytes = max_bytes
        self.timeout = timeout
        self.refuse = refuse or (lambda address: refused_address(address, allow_private))
        guard = {"refuse": staticmethod(self.refuse)}
        http_conn = type("GuardedHTTPConnection", (_GuardedMixin, HTTPConnection), guard)
        https_conn = type("GuardedHTTPSConnection", (_GuardedMixin, HTTPSConnection), guard)
        pools = {"http": type("GuardedHTTPPool", (HTTPConnectionPool,), {"ConnectionCls": http_conn}),
                 "https": type("GuardedHTTPSPool", (HTTPSConnectionPool,), {"ConnectionCls": https_conn})}

        class GuardedAdapter(HTTPAdapter):
            def init_poolmanager(self, *args, **kwargs):
                super().init_poolmanager(*args, **kwargs)
                self.poolmanager.pool_classes_by_scheme = pools

        self.session = requests.Session()
        self.session.trust_env = False          # never through a proxy: the proxy is the peer then
        self.session.max_redirects = MAX_REDIRECTS
        adapter = GuardedAdapter(max_retries=0)
        self.session.mount("http://", adapter)
        self.session.mount("https://", adapter)

    def fetch(self, url: str, param: str) -> tuple[bytes, str | None]:
        host = urllib.parse.urlsplit(url).hostname or ""
        self._check_host(host, param)
        try:
            with self.session.get(url, stream=True, timeout=self.timeout,
                                  headers={"Accept": "*/*"}) as response:
                if response.status_code != 200:
                    raise bad_request(f"Fetching the URL gave HTTP {response.status_code}.", param,
                                      code="invalid_url")
                declared = response.headers.get("Content-Length")
                if declared and declared.isdigit() and int(declared) > self.max_bytes:
                    raise self._too_large(param)
                chunks, size = [], 0
                for chunk in response.iter_content(65536):
                    size += len(chunk)
                    if size > self.max_bytes:
                        raise self._too_large(param)
                    chunks.append(chunk)
                mime = (response.headers.get("Content-Type") or "").split(";")[0].strip() or None
                return b"".join(chunks), mime
        except _RefusedAddress:
            raise self._private(param) from None
        except requests.TooManyRedirects:
            raise bad_request(f"The URL redirects more than {MAX_REDIRECTS} times.", param,
                              code="invalid_url") from None
        except requests.ConnectionError as exc:
            if _refused_cause(exc):
                raise self._private(param) from None
            raise bad_request("The URL could not be fetched (connection failed).", param,
                              code="invalid_url") from None
        except requests.Timeout:
            raise bad_request("The URL could not be fetched in time.", param, code="invalid_url") from None
        except requests.RequestException as exc:
            raise bad_request(f"The URL could not be fetched ({type(exc).__name__}).", param,
                              code="invalid_url") from None

    def _check_host(self, host: str, param: str) -> None:
        """Refuse before connecting when the name itself resolves somewhere we never go."""
        try:
            addresses = {info[4][0] for info in socket.getaddrinfo(host, None)}
        except (socket.gaierror, UnicodeError):
            raise bad_request("The URL's host name does not resolve.", param, code="invalid_url") from None
        if any(self.refuse(a) for a in addresses):
            raise self._private(param)

    def _private(self, param: str) -> APIError:
        return bad_request("The URL points to a private, loopback or link-local address, which this "
                           "server does not fetch.", param, code="url_not_allowed")

    def _too_large(self, param: str) -> APIError:
        return APIError(413, f"The file is larger than {self.max_bytes} bytes.", param=param,
                        code="file_too_large")


def _refused_cause(exc: BaseException) -> bool:
    seen = exc
    while seen is not None:
        if isinstance(seen, _RefusedAddress):
            return True
        args = getattr(seen, "args", ())
        if any(isinstance(a, _RefusedAddress) for a in args) or \
                isinstance(getattr(seen, "reason", None), _RefusedAddress):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


# ---------------------------------------------------------------- uploading

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

    def _still_valid(self, file_id: str, credentials: Credentials) -> bool:
        try:
            self._confirm(file_id, credentials)
            return True
        except APIError:
            return False

    def _confirm(self, file_id: str, credentials: Credentials) -> None:
        body = self.upstream.get_json(f"/backend-api/files/{urllib.parse.quote(file_id)}/uploaded",
                                      credentials, method="POST", json={}, what="upload confirmation")
        if body.get("status") != "success":
            raise upstream_error("The upstream did not confirm the upload.")

    def _upload(self, name: str, data: bytes, mime: str, use_case: str, credentials: Credentials) -> str:
        body = self.upstream.get_json("/backend-api/files", credentials, method="POST", what="upload answer",
                                      json={"file_name": name, "file_size": len(data), "use_case": use_case})
        upload_url, file_id = body.get("upload_url"), body.get("file_id")
        if not isinstance(upload_url, str) or not isinstance(file_id, str):
            raise upstream_error("The upstream refused the upload (no upload URL).")
        self.upstream.put_blob(upload_url, data, mime)
        self._confirm(file_id, credentials)
        log.info("uploaded a %s file of %d bytes as %s", mime, len(data), file_id)
        return file_id
