"""Function calling and structured output by prompt (agents-spec A.3, A.4): the upstream has no tool API.

definitions.py  the API-agnostic types (Tool, ToolChoice, ResponseFormat, ToolFields) and their checks
prompt.py       the injected instruction with a per-request nonce; tool history rendered as text
detector.py     rendered text -> text and whole, validated tool calls, as it streams
structured.py   response_format: the answer text made exactly JSON, and checked
turn.py         one agent turn: the detector, the JSON transform and the invisible retry

Pure: no network. Imported by answer and above; it imports translate (pieces, messages).
"""
