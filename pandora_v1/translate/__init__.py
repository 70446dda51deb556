"""Both directions of the translation, one pure stage per module (no network):

request.py       the pipeline's messages -> the upstream conversation payload
sse.py           upstream bytes       -> SSE events
fold.py          SSE events           -> message snapshots (format B folded into A)
render.py        snapshots            -> text pieces for the client (answer selection by table)
citations.py     citation marks       -> links (2024 marks, today's private-use markers, file citations)
writing.py       inline writing blocks -> their title and current text
continuation.py  a turn the stream left unfinished -> resume stream or polled document
stream.py        the stages above chained over an upstream body, with the outcome a response needs

Imported by tools and above; it imports files (the file value types), errors and, for
type hints only, the upstream body it reads.
"""
