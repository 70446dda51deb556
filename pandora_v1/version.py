"""The package version, in a module of its own so that any layer can read it
without importing the package ``__init__`` (and with it the app factory)."""
__version__ = "0.1.0"
