"""The blocking upstream client: one pooled ``requests.Session`` per app.

It is the one owner of the transport: every call that leaves for the
upstream, its file storage or the token endpoint goes through a method here
(``request``, ``get_json``, ``download``, ``put_blob``, ``post_outside``,
``start_conversation`` and its side calls: ``prepare_conversation``,
``resume_conversation``, ``conversation_document``, ``conversation_init``),
so proxies, timeouts and pools are decided once.

The conversation POST, once per answer, goes out on pooled sockets of our
own (upstream_conn.py) and its body is read straight off them
(upstream_body.py): requests' per-call layers and then urllib3's were,
measured, a quarter of a request start's CPU each. Through a proxy it goes
to urllib3's ProxyManager directly, still without requests' layers.

Prefixes (``upstream_api_prefix`` as a list) are equivalent mirrors: each
request starts at the next one in turn, and a connection failure or a 5xx
before the answer starts moves on to the following one. A 429 is never
retried elsewhere: it goes back to the client as it is.
"""
from __future__ import annotations

import functools
import itertools
import logging
import threading
import time
import urllib.parse
import urllib.request
from collections.abc import Callable
from typing import Protocol

import orjson
import requests
import urllib3
from requests.adapters import HTTPAdapter

from ..errors import APIError, upstream_error
from ..runtime.config import Settings
from ..version import __version__
from . import paths
from . import pool as upstream_conn
from .body import UpstreamBody
from .errors import TimedOut, Unreachable, error_from_response, rejected_body, too_long

log = logging.getLogger(__name__)

USER_AGENT = f"pandora_v1/{__version__}"


class Credentials(Protocol):
    """Who a call goes as: the transport needs only its headers (auth/credentials.py has the value type)."""

    def headers(self) -> dict[str, str]: ...

class UpstreamClient:
    def __init__(self, settings: Settings):
        self.base_url = settings.upstream_base_url
        self.prefixes = settings.upstream_prefixes
        self.conversation_path = settings.conversation_path
        self.timeout = (settings.connect_timeout, settings.read_timeout)
        self._turn = itertools.count()
        self.on_error: Callable[[str], None] = lambda status: None   # metrics hook
        self._health: tuple[float, dict] | None = None
        self._health_lock = threading.Lock()
        self._lock = threading.Lock()
        self.session = requests.Session()
        pool = max(settings.worker_connections, settings.process_threads, 10)
        adapter = HTTPAdapter(pool_connections=4, pool_maxsize=pool, max_retries=0)
        self.session.mount("http://", adapter)
        self.session.mount("https://", adapter)
        self.session.headers["User-Agent"] = USER_AGENT
        # Reading proxy variables and ~/.netrc on every request costs ~1 ms each
        # time: read the environment once here, and the config's proxy wins.
        self.session.trust_env = False
        proxies = {k: v for k, v in urllib.request.getproxies().items() if k in ("http", "https")}
        if settings.proxy:
            proxies = {"http": settings.proxy, "https": settings.proxy}
        self.outside_proxies = proxies   # for URLs outside the upstream (the token endpoint)
        if proxies and not urllib.request.proxy_bypass(urllib.parse.urlsplit(self.base_url).hostname or ""):
            self.session.proxies = proxies
        proxy = self.session.proxies.get(urllib.parse.urlsplit(self.base_url).scheme)
        # The conversation POST: our own pooled sockets (upstream_conn.py), or urllib3's ProxyManager
        # when a proxy is in the way.
        self._conversations: upstream_conn.ConnectionPool | None = None
        if proxy:
            self._pools = adapter.proxy_manager_for(proxy)
            self._pool_timeout = urllib3.Timeout(connect=settings.connect_timeout, read=settings.read_timeout)
            self._send_stream = self._via_urllib3
        else:
            self._conversations = upstream_conn.ConnectionPool(
                pool, settings.connect_timeout, settings.read_timeout,
                tls=_tls_context() if self.base_url.startswith("https:") else None)
            self._send_stream = self._via_own_pool

    def close(self) -> None:
        self.session.close()
        if self._conversations is not None:
            self._conversations.close()

    def _prefix_order(self) -> list[str]:
        with self._lock:
            start = next(self._turn) % len(self.prefixes)
        return list(self.prefixes[start:] + self.prefixes[:start])

    def url(self, prefix: str, path: str) -> str:
        return f"{self.base_url}/{prefix}{path}" if prefix else f"{self.base_url}{path}"

    def request(self, method: str, path: str, credentials: Credentials | None, *,
                json: dict | None = None, stream: bool = False,
                headers: dict | None = None, read_timeout: float | None = None) -> requests.Response:
        """Send to the first prefix that answers; non-2xx answers raise APIError.
        ``read_timeout`` shortens the wait for a call the answer does not depend on."""
        send = self._via_requests
        if read_timeout is not None:
            timeout = (self.timeout[0], min(self.timeout[1], read_timeout))
            send = functools.partial(self._via_requests, timeout=timeout)
        return self._failover(send, method, path, credentials, json, stream, headers)

    def _failover(self, send, method, path, credentials, json, stream, headers):
        sent_headers = {"Accept": "text/event-stream" if stream else "application/json"}
        if stream:
            sent_headers["Accept-Encoding"] = "identity"   # an event stream gains nothing from gzip
        if credentials:
            sent_headers.update(credentials.headers())
        sent_headers.update(headers or {})
        data = orjson.dumps(json) if json is not None else None
        if data is not None:
            sent_headers["Content-Type"] = "application/json"
        failure: APIError | None = None
        for prefix in self._prefix_order():
            try:
                response, status, response_headers = send(method, self.url(prefix, path), data,
                                                          sent_headers, stream)
            except Unreachable as exc:
                if exc.why != "connect timeout":
                    log.warning("upstream %s %s unreachable: %s", method, _route_of(path), exc.why)
                suffix = " (connect timeout)" if exc.why == "connect timeout" else ""
                failure = APIError(502, f"The upstream could not be reached{suffix}.",
                                   code="upstream_unreachable", upstream_status="unreachable")
            except TimedOut:
                self.on_error("timeout")
                raise APIError(504, "The upstream did not answer in time.",
                               code="upstream_timeout", upstream_status="timeout") from None
            else:
                if 200 <= status < 300:
                    return response
                failure = error_from_response(status, response_headers, _error_body(response))
                log.info("upstream %s %s answered %d", method, _route_of(path), status)
                if status < 500:
                    self.on_error(str(status))
                    raise failure
            self.on_error(str(failure.upstream_status))
            if len(self.prefixes) > 1:
                log.info("trying the next upstream prefix after: %s", failure.message)
        raise failure

    def _via_requests(self, method, url, data, headers, stream, timeout=None):
        try:
            response = self.session.request(method, url, data=data, headers=headers, stream=stream,
                                            timeout=timeout or self.timeout, allow_redirects=False)
        except requests.exceptions.ConnectTimeout:
            raise Unreachable("connect timeout") from None
        except requests.exceptions.Timeout:
            raise TimedOut() from None
        except requests.exceptions.RequestException as exc:
            raise Unreachable(type(exc).__name__) from None
        return response, response.status_code, response.headers

    def _via_urllib3(self, method, url, data, headers, stream):
        try:
            response = self._pools.urlopen(
                method, url, body=data, headers={"User-Agent": USER_AGENT, **headers},
                redirect=False, retries=False, preload_content=not stream, timeout=self._pool_timeout)
        except urllib3.exceptions.NewConnectionError as exc:
            raise Unreachable(type(exc).__name__) from None
        except urllib3.exceptions.ConnectTimeoutError:
            raise Unreachable("connect timeout") from None
        except urllib3.exceptions.ReadTimeoutError:
            raise TimedOut() from None
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            raise Unreachable(type(exc).__name__) from None
        return response, response.status, response.headers

    def _via_own_pool(self, method, url, data, headers, stream):
        assert self._conversations is not None and method == "POST"
        response = self._conversations.post(url, data or b"", {"User-Agent": USER_AGENT, **headers})
        return response, response.status, response.headers

    def get_json(self, path: str, credentials: Credentials | None, *, method: str = "GET",
                 json: dict | None = None, what: str = "answer", read_timeout: float | None = None) -> dict:
        """An upstream JSON object, or a clean 502 naming ``what`` was not one."""
        response = self.request(method, path, credentials, json=json, read_timeout=read_timeout)
        try:
            body = orjson.loads(response.content)
        except (orjson.JSONDecodeError, requests.RequestException):
            body = None
        finally:
            response.close()
        if not isinstance(body, dict):
            raise upstream_error(f"The upstream's {what} is not a JSON object.")
        return body

    def download(self, url: str, limit: int, credentials: Credentials | None = None) -> tuple[bytes, str]:
        """The bytes behind ``url`` (at most ``limit``) and their Content-Type.

        A full URL is a signed one and goes without credentials; a path
        (``/backend-api/...``) is the upstream's own and goes with them.
        """
        headers = {}
        if url.startswith("/"):
            url = self.url(self._prefix_order()[0], url)
            headers = credentials.headers() if credentials else {}
        try:
            with self.session.get(url, stream=True, timeout=self.timeout, headers=headers) as response:
                if response.status_code != 200:
                    raise upstream_error(f"A file download failed ({response.status_code}).",
                                         response.status_code)
                chunks, size = [], 0
                for chunk in response.iter_content(65536):
                    size += len(chunk)
                    if size > limit:
                        raise upstream_error(f"A file from the upstream is larger than {limit} bytes.")
                    chunks.append(chunk)
                return b"".join(chunks), response.headers.get("Content-Type", "")
        except requests.RequestException as exc:
            raise upstream_error(f"A file download failed ({type(exc).__name__}).") from None

    def put_blob(self, url: str, data: bytes, content_type: str) -> None:
        """Step 2 of an upload: the bytes to the signed storage URL the upstream handed out."""
        try:
            response = self.session.put(url, data=data, timeout=self.timeout,
                                        headers={"x-ms-blob-type": "BlockBlob", "Content-Type": content_type})
        except requests.RequestException as exc:
            raise upstream_error(f"Uploading the file failed ({type(exc).__name__}).") from None
        with response:
            if response.status_code not in (200, 201):
                raise upstream_error(f"The upstream's file storage refused the upload "
                                     f"({response.status_code}).", response.status_code)

    def post_outside(self, url: str, *, form: dict | None = None, json: dict | None = None,
                     timeout: tuple[float, float] | None = None) -> tuple[int, bytes]:
        """POST to a URL outside the upstream (the token endpoint): (status, first 4 KB of the body).

        Connection failures raise ``requests.RequestException`` for the caller to word.
        """
        with self.session.post(url, data=form, json=json, timeout=timeout or self.timeout,
                               proxies=self.outside_proxies) as response:
            return response.status_code, response.content[:4096]

    def health(self, max_age: float = 5.0) -> dict:
        """Can the upstream be reached? Any HTTP answer counts (a 401 is the usual one).

        Checked at most every ``max_age`` seconds per worker, one check at a
        time; the result holds only our own words, never the upstream's text
        or the prefix.
        """
        with self._health_lock:
            cached = self._health
            if cached and time.monotonic() - cached[0] < max_age:
                return cached[1]
            started = time.monotonic()
            try:
                response = self.session.get(self.url(self.prefixes[0], paths.MODELS),
                                            timeout=(min(self.timeout[0], 3), 3))
                response.close()
                result: dict = {"reachable": True, "status": response.status_code, "error": None}
            except requests.RequestException as exc:
                result = {"reachable": False, "status": None,
                          "error": f"The upstream could not be reached ({type(exc).__name__})."}
            result.update(latency_ms=round((time.monotonic() - started) * 1000, 1), checked_at=int(time.time()))
            self._health = (time.monotonic(), result)
            return result

    def start_conversation(self, payload: dict, credentials: Credentials, conduit_token: str | None = None
                           ) -> upstream_conn.Response | urllib3.BaseHTTPResponse:
        """The answer's event stream (our own response, urllib3's through a proxy: read it with open_body).

        ``conduit_token``: what the prepare step gave, sent as ``x-conduit-token``.
        """
        headers = {"x-conduit-token": conduit_token} if conduit_token else None
        try:
            response = self._failover(self._send_stream, "POST", self.conversation_path, credentials,
                                      payload, True, headers)
        except APIError as exc:
            if exc.upstream_status == 422:       # "Invalid conversation body": say what we sent
                raise rejected_body(exc, payload, self.conversation_path) from None
            if exc.upstream_status == 413 and exc.code != "context_length_exceeded":
                raise too_long("request too large") from None
            raise
        kind = response.headers.get("Content-Type", "")
        if "text/event-stream" not in kind:
            # A 200 that is not a stream: a proxy's page or an error body.
            error = error_from_response(response.status, response.headers, _error_body(response))
            raise upstream_error(f"The upstream answered without an event stream ({kind or 'no type'}): "
                                 f"{error.message}")
        return response

    def prepare_conversation(self, body: dict, credentials: Credentials) -> str | None:
        """``POST /backend-api/f/conversation/prepare``: its conduit token, or None. Never required:
        a failure is logged and the answer is asked for without it."""
        try:
            answer = self.get_json(paths.PREPARE, credentials, method="POST", json=body, what="prepare answer",
                                   read_timeout=SIDE_CALL_SECONDS)
        except APIError as exc:
            log.info("the conversation prepare step failed (%s); sending without a conduit token",
                     exc.upstream_status or exc.status)
            return None
        token = answer.get("conduit_token")
        return token if isinstance(token, str) and token else None

    def conversation_init(self, credentials: Credentials) -> dict:
        """``/backend-api/conversation/init``: the account's ``limits_progress`` (GET, or POST where GET is refused)."""
        try:
            return self.get_json(paths.CONVERSATION_INIT, credentials, what="conversation init",
                                 read_timeout=SIDE_CALL_SECONDS)
        except APIError as exc:
            if exc.upstream_status not in (404, 405):
                raise
        return self.get_json(paths.CONVERSATION_INIT, credentials, method="POST", what="conversation init",
                             json={"requested_default_model": None}, read_timeout=SIDE_CALL_SECONDS)

    def resume_conversation(self, conversation_id: str, token: str,
                            credentials: Credentials) -> upstream_conn.Response | urllib3.BaseHTTPResponse:
        """A handed-off answer's event stream, replayed from the start (offset 0)."""
        response = self._failover(self._send_stream, "POST", paths.RESUME, credentials,
                                  {"conversation_id": conversation_id, "offset": 0}, True,
                                  {"x-conduit-token": token})
        if "text/event-stream" not in response.headers.get("Content-Type", ""):
            response.close()
            raise upstream_error("The upstream's resume answer is not an event stream.")
        return response

    def conversation_document(self, conversation_id: str, credentials: Credentials) -> dict:
        """GET /backend-api/conversation/{id}: its messages as a mapping, and current_node."""
        return self.get_json(paths.conversation(conversation_id),
                             credentials, what="conversation")

    def hide_conversation(self, conversation_id: str, credentials: Credentials) -> None:
        response = self.request("PATCH", paths.conversation(conversation_id),
                                credentials, json={"is_visible": False})
        response.close()


def _route_of(path: str) -> str:
    """A path for logs: ids and queries dropped (they can name files and conversations)."""
    return path.split("?")[0]


SIDE_CALL_SECONDS = 15.0   # the longest wait for a side call the answer does not need (prepare, init)
ERROR_BODY = 65536
ERROR_BODY_SECONDS = 10.0     # an error page that trickles is not worth a longer wait


def _error_body(response) -> bytes:
    """The start of an error answer's body (requests', urllib3's or our own response), then closed."""
    try:
        if isinstance(response, requests.Response):
            return response.content[:ERROR_BODY]
        if isinstance(response, upstream_conn.Response):
            return _own_error_body(response)
        return response.read(ERROR_BODY)
    except (requests.RequestException, urllib3.exceptions.HTTPError, OSError):
        return b""
    finally:
        response.close()


def _own_error_body(response: upstream_conn.Response) -> bytes:
    body = UpstreamBody(response, ERROR_BODY_SECONDS)
    data = b""
    try:
        while not body.complete and len(data) < ERROR_BODY:
            piece = body.read()
            if not piece:
                break
            data += piece
    except APIError:              # cut or stalled: what came is what we have
        pass
    finally:
        body.close()
    return data[:ERROR_BODY]


def _tls_context():
    """What requests verifies upstream certificates with: certifi's CA bundle, HTTP/1.1."""
    import ssl

    import certifi

    context = ssl.create_default_context(cafile=certifi.where())
    context.set_alpn_protocols(["http/1.1"])
    return context
