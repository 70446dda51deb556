"""Token counts, exactly as OpenAI counts them (tiktoken).

tokens.py  what the rest of pandora_v1 calls: counts, cuts, usage objects
server.py  the token server (token_server: true): one process holding tiktoken's tables for all workers
tables.py  the tables built offline, and the counting itself

Imported by answer and the APIs; it imports runtime.
"""
