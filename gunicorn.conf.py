"""Gunicorn settings for a checkout: ``gunicorn -c gunicorn.conf.py`` (what ./scripts/run does).

The settings and hooks are pandora_v1/serve/gunicorn_conf.py; an installed
pandora_v1 loads that module directly (``pandora-v1``, or
``gunicorn -c python:pandora_v1.serve.gunicorn_conf``).
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from pandora_v1.serve.gunicorn_conf import *  # noqa: E402,F401,F403  (gunicorn reads this module's names)
