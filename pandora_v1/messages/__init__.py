"""``POST /v1/messages`` and ``/v1/messages/count_tokens``: Anthropic's Messages API on the chat pipeline.

A Messages request is translated into the chat pipeline's own request (``request.py``, through chat's
parser), planned by the same tool engine (``prompt.py``: the turn, its token count, the context window),
answered by the same upstream pipeline as ``/v1/chat/completions`` (``run.py``), and encoded as an
Anthropic ``message`` or its event stream (``events.py``); errors take Anthropic's shape (``errors.py``).
Claude Code, the Anthropic SDKs and the AI SDK's anthropic provider speak it (platform-spec.md §6).

Imported by blueprints; it imports chat (its request parser) and below; a sibling of responses.
"""
