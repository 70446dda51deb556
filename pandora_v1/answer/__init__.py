"""One answer, whatever API asked for it.

request.py   what an answer is asked (``ChatRequest``: model, messages, stream, tool fields)
pipeline.py  upload -> payload -> upstream -> Translation -> pieces, and the clean-up after
temporary.py whether a turn may be a temporary chat (history off) or goes with history and is hidden
continuity.py a history answered before continues its upstream conversation (sessions in the store)
limits.py    a usage limit a turn hit -> a 429 with its reset (conversation/init, or the limit's text)
agent.py     an agent turn on top of it: tool calls by prompt, structured output, retries
watch.py     a client that leaves is noticed while the upstream is silent
sse.py       the event-stream framing every API's stream shares
budget.py    a client's limit on output tokens, applied as the answer streams

Imported by the API packages (chat, responses, messages) and the blueprints;
it imports services and the layers below (tools, translate, files, models,
auth, upstream, usage, runtime), never an API package.
"""
