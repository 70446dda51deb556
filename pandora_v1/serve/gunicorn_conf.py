"""Gunicorn settings, taken from pandora_v1's config.json, and the hooks that run pandora_v1 under it.

    PANDORA_V1_CONFIG=path/to/config.json gunicorn -c python:pandora_v1.serve.gunicorn_conf

(``gunicorn -c gunicorn.conf.py`` in a checkout and the ``pandora-v1`` command
load this same module.)

Command-line flags (``--bind``, ``--workers``, ...) still override these.
The config is validated here, in the master, so a bad file stops the start
with the problems listed instead of failing in every worker.
"""
import os
import sys

from ..runtime import config as _config  # imports nothing heavy

try:
    _settings = _config.load()
except _config.ConfigError as _exc:
    sys.stderr.write(f"pandora_v1: {_exc}\n")
    sys.exit(2)

# Redis, when configured, is checked here in the master: unreachable, the start
# stops with one clear line naming it instead of every worker failing to boot.
if _settings.redis.enabled:
    from ..runtime import store as _store  # noqa: E402

    try:
        _store.check_redis(_settings)
    except _store.StoreUnavailable as _exc:
        sys.stderr.write(f"pandora_v1: cannot start: {_exc}\n")
        sys.exit(2)

# Workers re-read the same file; the master already warned about ignored keys.
os.environ.setdefault(_config.CONFIG_ENV, _settings.config_path)
for _line in _config.startup_warnings(_settings):
    sys.stderr.write(f"pandora_v1: {_line}\n")
os.environ["PANDORA_V1_WARNED"] = "1"

# Workers share metrics through files (prometheus_client's multiprocess mode):
# a fresh folder per master, set before any worker imports prometheus_client,
# and removed when the master exits (on_exit), so restarts leave nothing behind.
_own_metrics_dir = None
if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
    import tempfile

    _own_metrics_dir = os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="pandora_v1-metrics-")

# Requests gunicorn rejects itself are answered in the OpenAI error shape, not HTML.
from . import worker as _serving  # noqa: E402

_serving.install_json_errors()

wsgi_app = "pandora_v1.app:create_app()"
bind = [_settings.bind]
workers = _settings.process_workers
# gevent: ours stops accepting the moment SIGTERM arrives (gunicorn's looks once a second).
worker_class = "pandora_v1.serve.worker.GeventWorker" if _settings.worker_class == "gevent" \
    else _settings.worker_class
# gevent: each stream is a greenlet; gthread: each stream holds a thread.
worker_connections = _settings.worker_connections
threads = _settings.process_threads
# For gevent/gthread this is only the worker heartbeat, not a request limit.
timeout = 60
# Streams in flight get this long to finish on SIGTERM.
graceful_timeout = _settings.graceful_timeout
# Idle keep-alive connections also hold a stopping worker: keep them short.
keepalive = 5
loglevel = _settings.log_level.lower()
# Gunicorn 27's control socket is one fixed path per user: several instances
# on one machine would fight over it, and nothing here uses it.
control_socket_disable = True
# One access line per request, without the Authorization header.
accesslog = None


def on_starting(server):
    # With ``token_server`` one process holds tiktoken's tables (~66 MB) for all workers, which
    # count through it (the path is inherited). Without it, or should it fail to start, the
    # tables are built here, before the fork, and the workers share their pages instead.
    from ..usage import server as token_server

    path = token_server.start() if _settings.token_server else None
    if path:
        os.environ[token_server.SOCKET_ENV] = path
    else:
        from ..usage import tables as token_tables

        token_tables.warm_up()
    _share_with_workers()


# Modules the master imports before the fork, so that the workers share their pages instead of
# each importing its own copy: the pure stages and what they use, none of them network code
# (gevent patches sockets in each worker after the fork: nothing here may hold one, or a lock,
# from before; tests/unit/test_layers.py checks what they load).
SHARED_MODULES = ("jsonschema", "regex", "orjson", "pandora_v1.translate.stream", "pandora_v1.translate.request",
                  "pandora_v1.tools.turn", "pandora_v1.tools.detector")


def _share_with_workers() -> None:
    import gc
    import importlib

    for name in SHARED_MODULES:
        importlib.import_module(name)
    # What the master holds now lives as long as it does: the workers' collector never touches
    # it, so its pages stay shared (a collection writes to every object it visits).
    gc.collect()
    gc.freeze()


def on_exit(server):
    from ..usage import server as token_server

    token_server.stop()
    if _own_metrics_dir:
        import shutil

        shutil.rmtree(_own_metrics_dir, ignore_errors=True)


def child_exit(server, worker):
    # A dead worker's live gauges (open streams) must stop counting.
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)


def post_fork(server, worker):
    # Logging is the entry point's business: set up before the worker builds its app.
    from ..runtime import logs

    logs.configure_for(_settings)


def post_worker_init(worker):
    # Scheduled jobs (daily token refresh, ...): a scheduler per worker, each job
    # run once across workers and instances through a lock in the store.
    from .. import services
    from . import jobs

    jobs.start(services.current_services(worker.wsgi))


def worker_exit(server, worker):
    wsgi = getattr(worker, "wsgi", None)
    from .. import services
    from . import jobs

    installed = services.installed(wsgi) if wsgi is not None else None
    if installed is not None:
        jobs.stop(installed)
