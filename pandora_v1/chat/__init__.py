"""``POST /v1/chat/completions``: OpenAI's Chat Completions wire format on the answer pipeline.

request.py  the body -> ``ChatRequest`` (OpenAI's shapes and 400s; params.py the numeric rules,
            tools.py the tool shapes)
chunks.py   chat.completion.chunk events and chat.completion bodies
output.py   an answer or an agent turn in that format, streamed or whole

Imported by blueprints and by the other APIs (responses, messages), which
reuse its request parser; it imports answer and below.
"""
