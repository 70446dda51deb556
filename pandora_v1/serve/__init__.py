"""Running under gunicorn: the settings and hooks (gunicorn_conf.py), the worker class and JSON errors
for requests gunicorn refuses itself (worker.py), the scheduled jobs (jobs.py)."""
