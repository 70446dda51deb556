"""Both directions of the translation, one stage per module:

request.py  OpenAI chat request  -> upstream conversation payload
sse.py      upstream bytes       -> SSE events
fold.py     SSE events           -> message snapshots (format B folded into A)
render.py   snapshots            -> text pieces for the client (answer selection by table)
citations.py  citation marks     -> links (2024 marks, today's private-use markers)
continuation.py  a turn the stream left unfinished -> resume stream or polled document
stream.py   the stages above chained, with the outcome a response needs
"""
