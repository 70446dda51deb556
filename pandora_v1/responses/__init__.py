"""``POST /v1/responses``: OpenAI's Responses API on the chat pipeline.

A Responses request is translated into the chat pipeline's own request
(``request.py``), answered by the same upstream pipeline as
``/v1/chat/completions``, and encoded as a Response object or its event
stream (``objects.py``, ``events.py``). Stored responses and their output
items live in the shared store (``state.py``), so ``previous_response_id``
and ``item_reference`` work across workers and instances.

Imported by blueprints; it imports chat (its request parser) and below.
"""
