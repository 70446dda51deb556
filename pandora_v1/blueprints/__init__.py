"""HTTP routes, one blueprint per concern, registered in ``app.create_app``: thin, they parse the
request, call an API package and respond. No blueprint imports another (common.py is their shared
helpers); nothing but the app imports a blueprint."""
