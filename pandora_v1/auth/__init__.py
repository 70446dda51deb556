"""Who a request is, upstream.

credentials.py  the ``Credentials`` value type and what a header alone says (a leaf)
exchange.py     keys -> credentials: refresh tokens exchanged once for everyone, gateway keys

Imported by files, models and everything above; it imports upstream (the
token endpoint goes through the one transport) and runtime.
"""
