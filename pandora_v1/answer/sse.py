"""The event-stream framing every API's stream shares."""
SSE_KEEPALIVE = b": keep-alive\n\n"   # a comment: clients skip it, proxies see bytes flowing
SSE_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}   # no proxy buffering
