"""Client-supplied URLs fetched safely: never loopback, private, link-local or metadata addresses.

The address is checked twice: the name's addresses before connecting, and
the address actually connected to before a byte is sent (a name that
resolves differently the second time, a redirect to a private host). The
second check sits in urllib3's private ``_new_conn``, reached in
``guarded_connection`` alone; should an upgrade move it, the check goes in
the public ``connect``: after a TLS handshake, still before the request.
"""
from __future__ import annotations

import ipaddress
import socket
import urllib.parse

import requests
import urllib3
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

from ..errors import APIError, bad_request

MAX_REDIRECTS = 3

def refused_address(address: str, allow_private: bool = False) -> bool:
    """Loopback, private, link-local (cloud metadata), reserved: never fetched unless allowed."""
    ip = ipaddress.ip_address(address.split("%")[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped:
        ip = ip.ipv4_mapped
    if allow_private:
        return ip.is_unspecified or ip.is_multicast
    return not ip.is_global or ip.is_multicast


def guarded_connection(base: type, refuse) -> type:
    """``base`` (urllib3's HTTPConnection or HTTPSConnection), checking the address it connected to.

    The only place that reaches into urllib3 (tests/test_private_reaches.py checks it): its
    private ``_new_conn`` makes the TCP connection before any TLS handshake, so the check comes
    before a single byte is sent. If an upgrade moved it, the public ``connect`` is checked
    instead, after the handshake but still before a byte of the request.
    """
    def check(sock) -> None:
        peer = sock.getpeername()[0]
        if refuse(peer):
            sock.close()
            raise _RefusedAddress(peer)

    def _new_conn(self):
        sock = super(guarded, self)._new_conn()
        check(sock)
        return sock

    def connect(self):
        super(guarded, self).connect()
        check(self.sock)

    hook = {"_new_conn": _new_conn} if callable(getattr(base, "_new_conn", None)) else {"connect": connect}
    guarded = type(f"Guarded{base.__name__}", (base,), hook)
    return guarded


class _RefusedAddress(urllib3.exceptions.HTTPError):
    pass


class SafeFetcher:
    """GETs client-supplied URLs without reaching loopback, private or metadata addresses."""

    def __init__(self, max_bytes: int, timeout: float, allow_private: bool, refuse=None):
        self.max_bytes = max_bytes
        self.timeout = timeout
        self.refuse = refuse or (lambda address: refused_address(address, allow_private))
        http_conn = guarded_connection(HTTPConnection, self.refuse)
        https_conn = guarded_connection(HTTPSConnection, self.refuse)
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
