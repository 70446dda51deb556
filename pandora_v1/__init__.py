"""pandora_v1: an OpenAI-style API over a ChatGPT "backend-api" upstream.

The app factory is ``pandora_v1.app.create_app``. This file stays light, so
importing one stage (``pandora_v1.translate``) loads nothing else.
"""
from .version import __version__

__all__ = ["__version__"]
