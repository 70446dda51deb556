"""What every layer runs on: nothing here imports another pandora_v1 package but ``errors``.

config/     config.json / gpts.json -> one immutable ``Settings`` (split along its seams)
store.py    the shared key-value store (SQLite or Redis)
logs.py     log set-up, secrets redacted (masking.py)
metrics.py  Prometheus metrics of all workers; live.py the status page's per-minute history
loop.py     keeping a gevent worker's event loop free during heavy work
"""
