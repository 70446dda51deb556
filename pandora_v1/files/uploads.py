"""Files clients send -> files uploaded to the upstream (the network side; files.py parses).

Before the conversation is sent, ``Uploader.upload`` gets an ``InputFile``'s
bytes (decoded already, or fetched from its URL through ``SafeFetcher``),
works out its type from the bytes, and runs the upstream's three-step upload
— or reuses an earlier upload of the same bytes by the same account after
checking it is still valid.
"""
from __future__ import annotations

import hashlib
import ipaddress
import logging
import socket
import urllib.parse

import requests
import urllib3
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

from ..auth.credentials import Credentials
from ..errors import APIError, bad_request, upstream_error
from ..upstream import paths
from .parts import EXTENSIONS, IMAGE_TYPES, InputFile, UploadedFile, classify, image_size

log = logging.getLogger(__name__)

MAX_REDIRECTS = 3
UPLOAD_CACHE_SECONDS = 7 * 86400


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
    seen: BaseException | None = exc
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
