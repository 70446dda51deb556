"""Per-key usage and caps (usage-spec.md): who a request is, what it may do, what it used.

ledger.py   the per-request ledger: who called, whether the caps let it through, the usage the
            client received (encoders of every API fill it; the request's end writes it)
caps.py     the refusals over a cap (OpenAI's shape, Anthropic's on /v1/messages) and the
            rate-limit headers every answer to a capped key carries
book.py     the usage book in the shared store: counts per key, model and UTC day; the last requests
meter.py    the service: identify the caller, admit a request before it reaches the upstream,
            account for it when it ends (the book, the per-key metrics); the Flask hooks
limits.py   limits the upstream reported (a model or feature cap and its reset), per account

Imported by auth (callers), answer, chat, responses (what was sent), the blueprints and app;
imports runtime and errors only. It never rotates accounts: it limits clients.
"""
