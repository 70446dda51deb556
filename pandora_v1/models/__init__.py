"""Which upstream model a client's model name means.

registry.py  aliases (config) and GPT names -> the upstream slug and conversation mode
gpts.py      GPT info fetched from the upstream and cached in the store

Imported by answer and above; it imports auth, upstream, runtime.
"""
