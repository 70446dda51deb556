"""The one owner of every byte that goes to the upstream (and its file storage, the token endpoint).

client.py  ``UpstreamClient``: prefixes and failover, JSON calls, downloads, uploads, the conversation
pool.py    the conversation POST on pooled sockets of our own
body.py    the event stream read straight off its socket
paths.py   every /backend-api/ path
errors.py  upstream failures -> the client's APIError (413 too long, 422 invalid body, 429 resets)
limits.py  usage limits and their resets (limit texts, limits_progress)

Imported by auth and above; it imports runtime (settings) and errors only: it
knows credentials only as headers.
"""
