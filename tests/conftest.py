"""Shared fixtures: the fake upstream (in this process) and real pandora_v1
servers (gunicorn subprocesses on loopback) configured to talk to it."""
from __future__ import annotations

import base64
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from tests.fake_upstream import FakeUpstream

ROOT = Path(__file__).resolve().parent.parent


def _b64(obj) -> str:
    return base64.urlsafe_b64encode(json.dumps(obj).encode()).rstrip(b"=").decode()


def make_jwt(**claims) -> str:
    claims = {"exp": int(time.time()) + 86400 * 10, "sub": "user-test", **claims}
    return f"{_b64({'alg': 'RS256', 'typ': 'JWT'})}.{_b64(claims)}.c2lnbmF0dXJl"


ACCESS_TOKEN = make_jwt()


def npm_project(folder: Path, installed: Path, what: str, timeout: float = 300) -> Path:
    """A Node project of the tests (package.json + lock), installed with ``npm ci`` on first use;
    the test skips, saying why, where node/npm are missing or the install fails."""
    if shutil.which("node") is None or shutil.which("npm") is None:
        pytest.skip(f"node and npm are needed for {what}")
    if not installed.exists():
        result = subprocess.run(["npm", "ci", "--no-audit", "--no-fund"], cwd=folder, capture_output=True,
                                text=True, timeout=timeout)
        if result.returncode != 0 or not installed.exists():
            pytest.skip(f"{what} did not install here (npm ci): {result.stderr[-500:]}")
    return folder


def node_scenarios(folder: Path, base_url: str, script: str = "run.mjs", env: dict | None = None) -> list:
    """Run a Node project's ``script`` against ``base_url`` (``env`` added to its environment); its
    last line is a JSON list of scenarios."""
    result = subprocess.run(["node", script], cwd=folder, capture_output=True, text=True, timeout=120,
                            env={**os.environ, "BASE_URL": base_url, "API_KEY": ACCESS_TOKEN, **(env or {})})
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# Every server the suite starts, and every secret its traffic used: at the end
# of the session no log line of any of them may hold one (see no_secret_in_any_log).
ALL_SERVERS: list["Server"] = []
IN_PROCESS_LOGS: list[Path] = []      # what apps built in the test process (make_app) logged
SECRETS_USED: set[str] = {ACCESS_TOKEN}


def gunicorn_children(master: int) -> tuple[list[int], int | None]:
    """A gunicorn master's workers, and its token server (pandora_v1/token_server.py) if any."""
    workers, token_server = [], None
    for pid in Path(f"/proc/{master}/task/{master}/children").read_text().split():
        try:
            command = Path(f"/proc/{pid}/cmdline").read_bytes()
        except FileNotFoundError:
            continue    # gone while we looked
        if b"pandora_v1.usage.server" in command:
            token_server = int(pid)
        else:
            workers.append(int(pid))
    return workers, token_server


class Server:
    """A real pandora_v1 under gunicorn, started from a config dict."""

    def __init__(self, directory: Path, config: dict, gpts: dict | None = None,
                 env: dict | None = None):
        ALL_SERVERS.append(self)
        _collect_secrets(config)
        self.directory = directory
        directory.mkdir(parents=True, exist_ok=True)
        self.config_path = directory / "config.json"
        self.config_path.write_text(json.dumps(config))
        (directory / "gpts.json").write_text(json.dumps(gpts or {}))
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = directory / "server.log"
        self._log = open(self.log_path, "wb")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "-c", str(ROOT / "gunicorn.conf.py"),
             "--bind", f"127.0.0.1:{self.port}"],
            cwd=directory, stdout=self._log, stderr=subprocess.STDOUT,
            env={**os.environ, "PANDORA_V1_CONFIG": str(self.config_path), **(env or {})})

    def wait_ready(self, timeout: float = 30.0) -> "Server":
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"server exited {self.process.returncode}:\n{self.log()}")
            try:
                if requests.get(self.url + "/healthz", timeout=1).ok:
                    return self
            except requests.RequestException:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"server did not start:\n{self.log()}")

    def worker_pids(self) -> list[int]:
        return gunicorn_children(self.process.pid)[0]

    def token_server_pid(self) -> int | None:
        return gunicorn_children(self.process.pid)[1]

    def log(self) -> str:
        if not self._log.closed:
            self._log.flush()
        return self.log_path.read_text(errors="replace")

    def stop(self, graceful: bool = False) -> None:
        """Quick shutdown (SIGQUIT: gunicorn stops its workers at once) unless ``graceful``
        (SIGTERM: streams in flight get ``graceful_timeout`` to finish), for the tests
        about graceful shutdown. A test server has nothing to finish: waiting out the
        graceful timeout for idle keep-alive connections only made the suite slower."""
        self.signal(signal.SIGTERM if graceful else signal.SIGQUIT)
        self.wait_stopped()

    def signal(self, signum: int) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signum)

    def wait_stopped(self) -> None:
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self._log.close()


def base_config(upstream_url: str, **overrides) -> dict:
    config = {
        "log_level": "DEBUG",      # the whole suite's traffic is logged at DEBUG, and scanned for secrets
        "process_workers": 1,
        "upstream_base_url": upstream_url,
        "upstream_api_prefix": "",
        "keepalive_interval": 5,
        "graceful_timeout": 2,
        "models": {"reasoner": "o1", "text-only": {"slug": "o1-mini", "images": False}},
    }
    config.update(overrides)
    return config


@pytest.fixture(scope="session")
def upstream():
    fake = FakeUpstream().start()
    yield fake
    fake.stop()


@pytest.fixture
def fake(upstream):
    """The session's fake upstream, with this test's slate wiped clean."""
    upstream.reset()
    yield upstream
    SECRETS_USED.update(upstream.issued)
    SECRETS_USED.update(e.refresh_token for e in upstream.exchanges)
    for record in upstream.requests:
        auth = record.headers.get("authorization", "")
        if auth.startswith("Bearer "):
            SECRETS_USED.add(auth[7:])
    upstream.reset()


def _collect_secrets(config: dict) -> None:
    """The secrets a test config holds: GPT key, admin key, client keys, the operator's upstream tokens."""
    for secret in ("key_for_gpts_info", "admin_key"):
        if isinstance(config.get(secret), str):
            SECRETS_USED.add(config[secret])
    if isinstance(config.get("client_keys"), dict):
        SECRETS_USED.update(k for k in config["client_keys"] if isinstance(k, str))
    for account in (config.get("upstream_accounts") or {}).values() if isinstance(
            config.get("upstream_accounts"), dict) else ():
        if isinstance(account, dict):
            SECRETS_USED.update(v for k, v in account.items() if k != "account_id" and isinstance(v, str))


@pytest.fixture(scope="session", autouse=True)
def no_secret_in_any_log():
    """The whole suite's traffic runs at log level DEBUG; afterwards, no log line holds a secret."""
    yield
    secrets = {s for s in SECRETS_USED if len(s) >= 12}
    leaks = []
    for srv in ALL_SERVERS:
        files = [srv.log_path, *srv.directory.glob("log/access.log*")]
        for path in files:
            if not path.is_file():
                continue
            text = path.read_text(errors="replace")
            leaks += [f"{path}: {secret[:8]}…" for secret in secrets if secret in text]
    for path in IN_PROCESS_LOGS:
        text = path.read_text(errors="replace") if path.is_file() else ""
        leaks += [f"{path}: {secret[:8]}…" for secret in secrets if secret in text]
    assert not leaks, f"secrets in logs: {leaks[:10]}"


@pytest.fixture(scope="session")
def server(upstream, tmp_path_factory):
    """The default pandora_v1 (format B requested, no deletion) shared by many tests."""
    srv = Server(tmp_path_factory.mktemp("server"), base_config(upstream.url)).wait_ready()
    yield srv
    srv.stop()


@pytest.fixture
def make_server(upstream, tmp_path):
    """Start a pandora_v1 with config overrides; stopped after the test."""
    started = []

    def start(gpts=None, env=None, **overrides) -> Server:
        srv = Server(tmp_path / f"server{len(started)}", base_config(upstream.url, **overrides),
                     gpts=gpts, env=env)
        started.append(srv)
        return srv.wait_ready()

    yield start
    for srv in started:          # all at once: each quick stop still takes a moment
        srv.signal(signal.SIGQUIT)
    for srv in started:
        srv.wait_stopped()


class RedisServer:
    """A private redis-server on a free loopback port, nothing kept on disk."""

    def __init__(self, directory: Path, port: int | None = None):
        binary = shutil.which("redis-server")
        if not binary:
            pytest.fail("redis-server is not installed (Debian package redis-server): the Redis "
                        "backend tests start their own")
        self.binary, self.directory = binary, directory
        directory.mkdir(parents=True, exist_ok=True)
        self.port = port or free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process: subprocess.Popen | None = None

    def start(self) -> "RedisServer":
        self.process = subprocess.Popen(
            [self.binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--dir", str(self.directory)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as sock:
                    sock.sendall(b"PING\r\n")
                    if sock.recv(64).startswith(b"+PONG"):
                        return self
            except OSError:
                time.sleep(0.05)
        raise RuntimeError(f"redis-server did not start on port {self.port}")

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=10)
        self.process = None

    def client(self):
        import redis

        return redis.Redis.from_url(self.url, decode_responses=True)


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory):
    """One redis-server for the session; tests that use it get it flushed (``redis_db``)."""
    srv = RedisServer(tmp_path_factory.mktemp("redis")).start()
    yield srv
    srv.stop()


@pytest.fixture
def redis_db(redis_server):
    redis_server.client().flushall()
    return redis_server


@pytest.fixture
def own_redis(tmp_path):
    """A redis-server of this test alone, to stop and start again."""
    srv = RedisServer(tmp_path / "redis").start()
    yield srv
    srv.stop()


@pytest.fixture(params=["sqlite", "redis"])
def store(request, tmp_path):
    """Each store test runs against both backends."""
    from pandora_v1.runtime.store import RedisStore, SQLiteStore

    if request.param == "sqlite":
        backend = SQLiteStore(tmp_path / "data" / "store.sqlite3")
    else:
        backend = RedisStore(url=request.getfixturevalue("redis_db").url)
    yield backend
    backend.close()


@pytest.fixture
def client(server, fake):
    import openai

    return openai.OpenAI(base_url=server.url + "/v1", api_key=ACCESS_TOKEN, max_retries=0,
                         timeout=30)


# --- The Flask app in this process (no server): ``app``, ``make_app`` and its test client ``web``.

@pytest.fixture
def make_app(upstream, tmp_path):
    """Build a pandora_v1 app in this process, Flask's own way, from a config dict (the same
    ``base_config`` the servers get, pointed at the session's fake upstream); files it keeps
    (store, images, logs) go under the test's tmp_path."""
    import logging

    from pandora_v1.app import create_app
    from pandora_v1.runtime.config import load_gpts, parse
    from pandora_v1.runtime.logs import FORMAT, RedactingFormatter
    from pandora_v1.services import current_services

    # Like the servers, these apps log at DEBUG through the production formatter, into a file
    # that no_secret_in_any_log scans; the process's logging is restored afterwards.
    logger = logging.getLogger("pandora_v1")
    handler = logging.FileHandler(tmp_path / "app.log", encoding="utf-8")
    handler.setFormatter(RedactingFormatter(FORMAT))
    IN_PROCESS_LOGS.append(tmp_path / "app.log")
    level = logger.level
    logger.setLevel(logging.DEBUG)
    logger.addHandler(handler)
    built = []

    def build(gpts: dict | None = None, **overrides):
        directory = tmp_path / f"app{len(built)}"
        directory.mkdir()
        raw = base_config(upstream.url, need_log_to_file=False, data_dir=str(directory / "data"),
                          images_dir=str(directory / "images"), files_dir=str(directory / "files"),
                          log_dir=str(directory / "log"))
        raw.update(overrides)
        _collect_secrets(raw)
        (directory / "gpts.json").write_text(json.dumps(gpts or {}))
        entries, problems = load_gpts(directory / "gpts.json")
        assert not problems, problems
        app = create_app(settings=parse(raw, entries, str(directory / "config.json")))
        app.config.update(TESTING=True)
        built.append(app)
        return app

    yield build
    for app in built:
        current_services(app).store.close()
    logger.removeHandler(handler)
    logger.setLevel(level)
    handler.close()


@pytest.fixture
def app(make_app):
    """The default pandora_v1 app (the ``server`` fixture's config), built for this test."""
    return make_app()


@pytest.fixture
def web(app, fake):
    """Flask's test client for ``app``: blueprint behaviour without a server or a socket of ours."""
    return app.test_client()


# --- Tiers. Every test that starts a gunicorn server is marked ``e2e`` (so ``-m "not e2e"`` is the
# fast tier), every one that starts a redis-server ``redis``: by the fixtures it uses, and every test
# in a file named ``*_e2e.py`` is e2e (those start servers by hand, ``Server(...)``), so new test
# files are sorted without remembering to mark them.

E2E_FIXTURES = {"server", "make_server", "client"}
REDIS_FIXTURES = {"redis_server", "redis_db", "own_redis"}


@pytest.hookimpl(tryfirst=True)     # before -m deselects by these marks
def pytest_collection_modifyitems(items):
    for item in items:
        names = set(getattr(item, "fixturenames", ()))
        if names & E2E_FIXTURES or item.path.name.endswith("_e2e.py"):
            item.add_marker(pytest.mark.e2e)
        params = getattr(getattr(item, "callspec", None), "params", {})
        if names & REDIS_FIXTURES or params.get("store") == "redis":
            item.add_marker(pytest.mark.redis)
