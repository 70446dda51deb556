"""The OpenAPI 3.0 document of our routes, served at /openapi.json.

Request bodies are described as clients send them (OpenAI's shapes, a little
wider where we accept more); responses say only what every answer shares, so
generated tests can check the contract that matters: JSON errors in
OpenAI's shape (Anthropic's on /v1/messages), never a 5xx from bad input.
"""
from __future__ import annotations

from .models.effort import EFFORTS
from .version import __version__

_ERROR = {
    "type": "object", "required": ["error"],
    "properties": {"error": {"type": "object", "required": ["message", "type", "param", "code"],
                             "properties": {"message": {"type": "string"}, "type": {"type": "string"},
                                            "param": {"type": "string", "nullable": True},
                                            "code": {"type": "string", "nullable": True}}}},
}
_TEXT_PART = {"type": "object", "required": ["type", "text"],
              "properties": {"type": {"type": "string", "enum": ["text"]}, "text": {"type": "string"}}}
_IMAGE_PART = {"type": "object", "required": ["type", "image_url"],
               "properties": {"type": {"type": "string", "enum": ["image_url"]},
                              "image_url": {"type": "object", "required": ["url"],
                                            "properties": {"url": {"type": "string"}}}}}
_FILE_PART = {"type": "object", "required": ["type", "file"],
              "properties": {"type": {"type": "string", "enum": ["file"]},
                             "file": {"type": "object", "required": ["file_data"],
                                      "properties": {"file_data": {"type": "string"},
                                                     "filename": {"type": "string"}}}}}
_FUNCTION_CALL = {"type": "object", "required": ["name", "arguments"],
                  "properties": {"name": {"type": "string"}, "arguments": {"type": "string"}}}
_TOOL_CALL = {"type": "object", "required": ["id", "type", "function"], "properties": {
    "id": {"type": "string"}, "type": {"type": "string", "enum": ["function"]}, "function": _FUNCTION_CALL}}
# Tool turns: tool results, legacy function results, assistant calls with null content.
_MESSAGE = {"type": "object", "required": ["role"], "properties": {
    "role": {"type": "string", "enum": ["system", "developer", "user", "assistant", "tool", "function"]},
    "content": {"nullable": True, "oneOf": [
        {"type": "string"}, {"type": "array", "items": {"oneOf": [_TEXT_PART, _IMAGE_PART, _FILE_PART]}}]},
    "tool_calls": {"type": "array", "items": _TOOL_CALL, "description": "assistant: the calls it made"},
    "tool_call_id": {"type": "string", "description": "tool: the call this result answers (required)"},
    "name": {"type": "string", "description": "function: the function's name (required)"},
    "function_call": _FUNCTION_CALL}}
_FUNCTION = {"type": "object", "required": ["name"], "properties": {
    "name": {"type": "string", "pattern": "^[A-Za-z0-9_-]{1,64}$"}, "description": {"type": "string"},
    "parameters": {"type": "object", "description": "JSON Schema of the arguments"},
    "strict": {"type": "boolean", "description": "arguments that break the schema are retried, then refused"}}}
_NAMED = {"type": "object", "required": ["type", "function"], "properties": {
    "type": {"type": "string", "enum": ["function"]},
    "function": {"type": "object", "required": ["name"], "properties": {"name": {"type": "string"}}}}}
_CHAT = {"type": "object", "required": ["model", "messages"], "properties": {
    "model": {"type": "string"},
    "messages": {"type": "array", "items": _MESSAGE},
    "stream": {"type": "boolean"},
    "stream_options": {"type": "object", "properties": {"include_usage": {"type": "boolean"}}},
    "n": {"type": "integer"}, "temperature": {"type": "number"}, "max_tokens": {"type": "integer"},
    "tools": {"type": "array", "description": "Function tools, emulated by prompt (README: Agents)",
              "items": {"type": "object", "required": ["type", "function"], "properties": {
                  "type": {"type": "string", "enum": ["function"]}, "function": _FUNCTION}}},
    "tool_choice": {"oneOf": [
        {"type": "string", "enum": ["none", "auto", "required"]}, _NAMED,
        {"type": "object", "required": ["type", "allowed_tools"], "properties": {
            "type": {"type": "string", "enum": ["allowed_tools"]},
            "allowed_tools": {"type": "object", "required": ["mode", "tools"], "properties": {
                "mode": {"type": "string", "enum": ["auto", "required"]},
                "tools": {"type": "array", "items": _NAMED}}}}}]},
    "parallel_tool_calls": {"type": "boolean"},
    "functions": {"type": "array", "items": _FUNCTION, "description": "legacy form of tools"},
    "function_call": {"oneOf": [{"type": "string", "enum": ["none", "auto"]},
                                {"type": "object", "required": ["name"],
                                 "properties": {"name": {"type": "string"}}}]},
    "response_format": {"type": "object", "required": ["type"], "properties": {
        "type": {"type": "string", "enum": ["text", "json_object", "json_schema"]},
        "json_schema": {"type": "object", "required": ["name"], "properties": {
            "name": {"type": "string"}, "description": {"type": "string"},
            "schema": {"type": "object"}, "strict": {"type": "boolean"}}}}},
    "reasoning_effort": {"type": "string", "enum": list(EFFORTS),
                         "description": "-> the upstream's thinking_effort on slugs that reason"},
    "web_search_options": {"type": "object", "description": "the upstream searches; {} for the defaults",
                           "properties": {
        "search_context_size": {"type": "string", "enum": ["low", "medium", "high"]},
        "user_location": {"type": "object", "nullable": True, "required": ["type", "approximate"], "properties": {
            "type": {"type": "string", "enum": ["approximate"]},
            "approximate": {"type": "object", "properties": {
                k: {"type": "string", "nullable": True} for k in ("city", "country", "region", "timezone")}}}}}}}}
# /v1/responses: the request subset served; hosted tools web_search*, image_generation and
# code_interpreter are served (the others accepted and dropped).
_TEXT = {"type": "string"}
_LOCATION = {"type": "object", "nullable": True, "properties": {
    "type": {"type": "string", "enum": ["approximate"]},
    **{k: {"type": "string", "nullable": True} for k in ("city", "country", "region", "timezone")}}}
_HOSTED_TOOLS = [
    {"type": "object", "required": ["type"], "properties": {
        "type": {"type": "string", "enum": ["web_search", "web_search_2025_08_26", "web_search_preview",
                                            "web_search_preview_2025_03_11"]},
        "search_context_size": {"type": "string", "enum": ["low", "medium", "high"]},
        "user_location": _LOCATION,
        "filters": {"type": "object", "nullable": True, "properties": {
            "allowed_domains": {"type": "array", "items": _TEXT}}},
        "external_web_access": {"oneOf": [{"type": "boolean"}, _TEXT]}}},
    {"type": "object", "required": ["type"], "properties": {
        "type": {"type": "string", "enum": ["image_generation"]},
        "background": {"type": "string", "enum": ["transparent", "opaque", "auto"]},
        "quality": {"type": "string", "enum": ["low", "medium", "high", "auto", "xhigh", "max"]},
        "output_format": {"type": "string", "enum": ["png", "webp", "jpeg", "gif", "svg"]},
        "output_compression": {"type": "integer", "minimum": 0, "maximum": 100},
        "partial_images": {"type": "integer", "minimum": 0, "maximum": 3},
        "moderation": {"type": "string", "enum": ["auto", "low"]},
        "size": {"type": "string", "description": "1024x1024, 1024x1536, 1536x1024, auto or WxH"}}},
    {"type": "object", "required": ["type", "container"], "properties": {
        "type": {"type": "string", "enum": ["code_interpreter"]},
        "container": {"oneOf": [_TEXT, {"type": "object", "required": ["type"], "properties": {
            "type": {"type": "string", "enum": ["auto"]}, "file_ids": {"type": "array", "items": _TEXT},
            "memory_limit": {"type": "string", "enum": ["1g", "4g", "16g", "64g"]}}}]}}},
]
_INPUT_PART = {"type": "object", "required": ["type"], "properties": {
    "type": {"type": "string", "enum": ["input_text", "input_image", "input_file", "output_text", "refusal"]},
    "text": _TEXT, "image_url": {"type": "string", "description": "a data: or http(s) URL"},
    "file_data": {"type": "string", "description": "a data: URL or base64"}, "filename": _TEXT,
    "refusal": _TEXT}}
_INPUT_ITEM = {"type": "object", "properties": {
    "type": {"type": "string", "enum": ["message", "function_call", "function_call_output", "reasoning",
                                        "item_reference", "web_search_call", "image_generation_call",
                                        "code_interpreter_call"]},
    "role": {"type": "string", "enum": ["user", "system", "developer", "assistant"]},
    "content": {"oneOf": [_TEXT, {"type": "array", "items": _INPUT_PART}]},
    "call_id": _TEXT, "name": _TEXT, "arguments": _TEXT,
    "output": {"oneOf": [_TEXT, {"type": "array", "items": _INPUT_PART}]},
    "id": {"type": "string", "description": "item_reference: a stored output item's id"}}}
_RESPONSES = {"type": "object", "required": ["model"], "properties": {
    "model": _TEXT,
    "input": {"oneOf": [_TEXT, {"type": "array", "items": _INPUT_ITEM}]},
    "instructions": _TEXT, "stream": {"type": "boolean"},
    "store": {"type": "boolean", "description": "keep the response for previous_response_id, "
                                                "item_reference and GET (responses.store_ttl)"},
    "previous_response_id": _TEXT,
    "tools": {"type": "array", "description": "flat function tools and the hosted tools served (README)",
              "items": {"oneOf": [{"type": "object", "required": ["type", "name"], "properties": {
                  "type": {"type": "string", "enum": ["function"]},
                  "name": {"type": "string", "pattern": "^[A-Za-z0-9_-]{1,64}$"},
                  "description": _TEXT, "parameters": {"type": "object"}, "strict": {"type": "boolean"}}},
                  *_HOSTED_TOOLS]}},
    "tool_choice": {"oneOf": [{"type": "string", "enum": ["none", "auto", "required"]},
                              {"type": "object", "required": ["type", "name"], "properties": {
                                  "type": {"type": "string", "enum": ["function"]}, "name": _TEXT}},
                              {"type": "object", "required": ["type"], "properties": {"type": {
                                  "type": "string", "enum": ["web_search", "web_search_preview",
                                                             "image_generation", "code_interpreter"]}}}]},
    "parallel_tool_calls": {"type": "boolean"},
    "text": {"type": "object", "properties": {"format": {"type": "object", "required": ["type"], "properties": {
        "type": {"type": "string", "enum": ["text", "json_object", "json_schema"]}, "name": _TEXT,
        "schema": {"type": "object"}, "strict": {"type": "boolean"}, "description": _TEXT}}}},
    "reasoning": {"type": "object", "properties": {
        "effort": {"type": "string", "nullable": True, "enum": list(EFFORTS)},
        "summary": {"type": "string", "nullable": True, "enum": ["auto", "concise", "detailed"]}}},
    "max_output_tokens": {"type": "integer", "minimum": 1},
    "temperature": {"type": "number"}, "top_p": {"type": "number"}, "metadata": {"type": "object"},
    "include": {"type": "array", "items": _TEXT}, "user": _TEXT}}
# /v1/messages: Anthropic's Messages API (platform-spec.md §6.2); errors in Anthropic's shape.
_ANTHROPIC_ERROR = {"type": "object", "required": ["type", "error"], "properties": {
    "type": {"type": "string", "enum": ["error"]}, "request_id": _TEXT,
    "error": {"type": "object", "required": ["type", "message"],
              "properties": {"type": _TEXT, "message": _TEXT}}}}
_SOURCE = {"type": "object", "required": ["type"], "properties": {
    "type": {"type": "string", "enum": ["base64", "url", "text"]}, "media_type": _TEXT, "data": _TEXT, "url": _TEXT}}
_BLOCK = {"type": "object", "required": ["type"], "properties": {
    "type": {"type": "string", "enum": ["text", "image", "document", "tool_use", "tool_result", "thinking",
                                        "redacted_thinking", "server_tool_use", "web_search_tool_result"],
             "description": "server_tool_use / web_search_tool_result: an earlier search sent back (text upstream)"},
    "text": _TEXT, "source": _SOURCE, "id": _TEXT, "name": _TEXT, "input": {"type": "object"},
    "tool_use_id": _TEXT, "is_error": {"type": "boolean"},
    "content": {"oneOf": [_TEXT, {"type": "array", "items": {"type": "object", "required": ["type"], "properties": {
        "type": {"type": "string", "enum": ["text", "image", "web_search_result"]}, "text": _TEXT,
        "source": _SOURCE, "url": _TEXT, "title": _TEXT, "encrypted_content": _TEXT}}}]},
    "thinking": _TEXT, "signature": _TEXT, "cache_control": {"type": "object"}}}
_ANTHROPIC_MESSAGE = {"type": "object", "required": ["role", "content"], "properties": {
    "role": {"type": "string", "enum": ["user", "assistant", "system"]},
    "content": {"oneOf": [_TEXT, {"type": "array", "items": _BLOCK}]}}}
_ANTHROPIC_TOOL = {"type": "object", "required": ["name"], "properties": {
    "type": {"type": "string", "description": "absent or custom; web_search_20250305 (or a later web_search_*, "
                                              "named web_search): the upstream's own search"},
    "name": {"type": "string", "pattern": "^[A-Za-z0-9_-]{1,64}$"}, "description": _TEXT,
    "input_schema": {"type": "object", "description": "JSON Schema of the input (custom tools)"},
    "max_uses": {"type": "integer", "minimum": 1, "description": "web search: accepted"},
    "allowed_domains": {"type": "array", "items": _TEXT}, "blocked_domains": {"type": "array", "items": _TEXT},
    "user_location": {"type": "object", "description": "web search: a prompt line for the upstream",
                      "properties": {"type": {"type": "string", "enum": ["approximate"]}, "city": _TEXT,
                                     "region": _TEXT, "country": _TEXT, "timezone": _TEXT}}}}
_MESSAGES_FIELDS: dict = {
    "model": {"type": "string", "description": "claude-* names map through anthropic.models"},
    "messages": {"type": "array", "items": _ANTHROPIC_MESSAGE},
    "system": {"oneOf": [_TEXT, {"type": "array", "items": _TEXT_PART}]},
    "tools": {"type": "array", "items": _ANTHROPIC_TOOL},
    "tool_choice": {"type": "object", "required": ["type"], "properties": {
        "type": {"type": "string", "enum": ["auto", "any", "tool", "none"]}, "name": _TEXT,
        "disable_parallel_tool_use": {"type": "boolean"}}},
    "thinking": {"type": "object", "required": ["type"], "properties": {
        "type": {"type": "string", "enum": ["enabled", "adaptive", "disabled"],
                 "description": "-> the upstream's thinking_effort on slugs that reason (budget_tokens under 8000 "
                                "standard, under 32000 extended, else max; adaptive standard)"},
        "budget_tokens": {"type": "integer", "minimum": 1024},
        "display": {"type": "string", "enum": ["summarized", "omitted"]}}},
    "output_config": {"type": "object", "properties": {
        "effort": {"type": "string", "enum": ["low", "medium", "high", "xhigh", "max"],
                   "description": "overrides thinking: reasoning_effort's table"}}},
    "metadata": {"type": "object"}, "stop_sequences": {"type": "array", "items": _TEXT},
    "temperature": {"type": "number", "minimum": 0, "maximum": 1}, "top_p": {"type": "number"},
    "top_k": {"type": "integer"}, "context_management": {"type": "object"}}
_MESSAGES = {"type": "object", "required": ["model", "messages"], "properties": _MESSAGES_FIELDS}
_CREATE_MESSAGE = {"type": "object", "required": ["model", "messages", "max_tokens"], "properties": {
    **_MESSAGES_FIELDS, "max_tokens": {"type": "integer", "minimum": 1}, "stream": {"type": "boolean"}}}
def _enum(*values: str) -> dict:
    return {"type": "string", "enum": list(values)}


# gpt-image's parameter set (platform spec 4.1); a form sends each as a string.
_IMAGE_OPTIONS = {
    "model": {"type": "string", "description": "any: dall-e-2, dall-e-3, gpt-image-1, ... or an alias"},
    "prompt": {"type": "string", "maxLength": 32000},
    "n": {"type": "integer", "minimum": 1, "maximum": 10, "description": "one upstream turn per image"},
    "size": {"type": "string", "description": "auto or WIDTHxHEIGHT (said in the prompt)"},
    "quality": _enum("auto", "low", "medium", "high", "xhigh", "max", "standard", "hd"),
    "background": _enum("transparent", "opaque", "auto"), "output_format": _enum("png", "jpeg", "webp"),
    "output_compression": {"type": "integer", "minimum": 0, "maximum": 100},
    "moderation": _enum("low", "auto"), "partial_images": {"type": "integer", "minimum": 0, "maximum": 3},
    "stream": {"type": "boolean", "description": "image_generation.* / image_edit.* events, no [DONE]"},
    "response_format": _enum("url", "b64_json"), "style": _enum("vivid", "natural"), "user": {"type": "string"}}
_IMAGES = {"type": "object", "required": ["prompt"], "properties": _IMAGE_OPTIONS}
_BINARY = {"type": "string", "format": "binary"}
_IMAGE_EDIT = {"type": "object", "required": ["image", "prompt"], "properties": {
    "image": {**_BINARY, "description": "one PNG, JPEG or WebP (or image[] repeated, up to 16)"},
    "image[]": {"type": "array", "items": _BINARY, "maxItems": 16},
    "mask": {**_BINARY, "description": "a PNG with alpha: its transparent region is described in the prompt"},
    "input_fidelity": _enum("high", "low"), **_IMAGE_OPTIONS}}
_TRANSCRIPTION = {"type": "object", "required": ["file", "model"], "properties": {
    "file": {**_BINARY, "description": "flac, mp3, mp4, mpeg, mpga, m4a, ogg, wav or webm; at most 25 MB"},
    "model": {"type": "string", "description": "whisper-1, gpt-4o-transcribe, gpt-4o-mini-transcribe, ..."},
    "language": {"type": "string", "description": "ISO-639-1"}, "prompt": {"type": "string"},
    "response_format": _enum("json", "text", "srt", "verbose_json", "vtt", "diarized_json"),
    "temperature": {"type": "number", "minimum": 0, "maximum": 1},
    "timestamp_granularities[]": {"type": "array", "items": _enum("word", "segment")},
    "stream": {"type": "boolean", "description": "transcript.text.* events (not for whisper-1)"}}}
_SPEECH = {"type": "object", "required": ["model", "input", "voice"], "properties": {
    "model": {"type": "string"}, "input": {"type": "string", "maxLength": 4096},
    "voice": {"type": "string", "description": "alloy, ash, coral, echo, fable, onyx, nova, sage, shimmer, ..."},
    "response_format": _enum("mp3", "opus", "aac", "flac", "wav", "pcm"),
    "speed": {"type": "number", "minimum": 0.25, "maximum": 4}, "instructions": {"type": "string"}}}


_PAGING = [
    {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 100, "default": 20}},
    {"name": "order", "in": "query", "schema": {"type": "string", "enum": ["asc", "desc"], "default": "desc"}},
    {"name": "after", "in": "query", "schema": {"type": "string"}},
    {"name": "include", "in": "query", "schema": {"type": "array", "items": {"type": "string"}}}]


_DATES = [
    {"name": "start_date", "in": "query", "schema": {"type": "string", "format": "date"},
     "description": "YYYY-MM-DD, UTC, inclusive; default today"},
    {"name": "end_date", "in": "query", "schema": {"type": "string", "format": "date"},
     "description": "YYYY-MM-DD, UTC, inclusive; default today; at most 366 days after start_date"}]


def _json_body(schema: dict) -> dict:
    return {"required": True, "content": {"application/json": {"schema": schema}}}


def _form_body(schema: dict) -> dict:
    return {"required": True, "content": {"multipart/form-data": {"schema": schema}}}


def _answers(description: str, kind: str = "application/json", error: dict = _ERROR) -> dict:
    return {"200": {"description": description, "content": {kind: {"schema": {}}}},
            "default": {"description": "An OpenAI-shaped error" if error is _ERROR else "An Anthropic-shaped error",
                        "content": {"application/json": {"schema": error}}}}


def document(api: str = "") -> dict:
    """The OpenAPI document, with the API routes under ``api`` (``Settings.api_path``)."""
    name = [{"name": "name", "in": "path", "required": True, "schema": {"type": "string"}}]
    auth: list[dict] = [{"bearer": []}]
    anthropic_auth: list[dict] = [{"apiKey": []}, {"bearer": []}]
    response_id = [{"name": "response_id", "in": "path", "required": True, "schema": {"type": "string"}}]
    paths = {
        f"{api}/v1/chat/completions": {"post": {
            "summary": "Chat completion, streaming (SSE) or not", "security": auth,
            "requestBody": _json_body(_CHAT), "responses": _answers("A chat.completion or an SSE stream")}},
        f"{api}/v1/responses": {"post": {
            "summary": "A Response, streaming (Responses events) or not; on the chat pipeline", "security": auth,
            "requestBody": _json_body(_RESPONSES), "responses": _answers("A response or its event stream")}},
        f"{api}/v1/responses/{{response_id}}": {
            "get": {"summary": "A stored response", "security": auth, "parameters": response_id,
                    "responses": _answers("The response")},
            "delete": {"summary": "Forget a stored response", "security": auth, "parameters": response_id,
                       "responses": _answers("Deleted")}},
        f"{api}/v1/responses/{{response_id}}/input_items": {"get": {
            "summary": "What a stored response answered, newest first", "security": auth,
            "parameters": [*response_id, *_PAGING], "responses": _answers("A list of input items")}},
        f"{api}/v1/messages": {"post": {
            "summary": "Anthropic's Messages API: a message, or its event stream (event: lines); on the chat pipeline",
            "security": anthropic_auth, "requestBody": _json_body(_CREATE_MESSAGE),
            "responses": _answers("A message or its event stream", error=_ANTHROPIC_ERROR)}},
        f"{api}/v1/messages/count_tokens": {"post": {
            "summary": "The input tokens of a Messages request, as its usage counts them (local)",
            "security": anthropic_auth, "requestBody": _json_body(_MESSAGES),
            "responses": _answers("{\"input_tokens\": n}", error=_ANTHROPIC_ERROR)}},
        f"{api}/v1/images/generations": {"post": {
            "summary": "Images by the upstream's image tool (picture_v2)", "security": auth,
            "requestBody": _json_body(_IMAGES), "responses": _answers("The images or their event stream")}},
        f"{api}/v1/images/edits": {"post": {
            "summary": "Images edited by the upstream's image tool", "security": auth,
            "requestBody": _form_body(_IMAGE_EDIT), "responses": _answers("The images or their event stream")}},
        f"{api}/v1/audio/transcriptions": {"post": {
            "summary": "Speech to text through the upstream's transcribe", "security": auth,
            "requestBody": _form_body(_TRANSCRIPTION), "responses": _answers("The transcription")}},
        f"{api}/v1/audio/speech": {"post": {
            "summary": "Text to speech by the upstream's read-aloud", "security": auth,
            "requestBody": _json_body(_SPEECH), "responses": _answers("The audio", "audio/*")}},
        f"{api}/v1/models": {"get": {"summary": "Every model name (with a key: also the upstream's own)",
                                     "responses": _answers("A model list")}},
        f"{api}/v1/models/{{name}}": {"get": {"summary": "One model", "parameters": name,
                                              "responses": _answers("A model")}},
        f"{api}/v1/usage": {"get": {
            "summary": "The key's own usage by day and model, and its caps; every key's with the admin key",
            "security": auth, "parameters": [*_DATES, {
                "name": "key", "in": "query", "schema": {"type": "string"},
                "description": "with the admin key: one key's name (or masked id)"}],
            "responses": _answers("A list of usage.bucket objects, totals and limits")}},
        "/admin/usage.json": {"get": {
            "summary": "Every key's usage, caps and today, the last 100 requests, upstream limits (admin key)",
            "security": auth, "parameters": _DATES, "responses": _answers("The admin view's figures")}},
        "/admin/{rest}": {"get": {"summary": "Any other admin URL: 401 without the admin key, else 404",
                                  "security": auth, "parameters": [
                                      {"name": "rest", "in": "path", "required": True, "schema": {"type": "string"}}],
                                  "responses": _answers("Nothing")}},
        f"{api}/getAccountID": {"post": {"summary": "The Plus and Team accounts of a token", "security": auth,
                                         "responses": _answers("Account ids")}},
        "/images/{name}": {"get": {"summary": "A saved image", "parameters": name,
                                   "responses": _answers("The image", "image/*")}},
        "/files/{name}": {"get": {"summary": "A saved sandbox file", "parameters": name,
                                  "responses": _answers("The file", "application/octet-stream")}},
        "/healthz": {"get": {"summary": "Alive", "responses": _answers("ok")}},
        "/readyz": {"get": {"summary": "Ready to serve", "responses": _answers("ready")}},
        "/metrics": {"get": {"summary": "Prometheus metrics", "responses": _answers("metrics", "text/plain")}},
        "/openapi.json": {"get": {"summary": "This document", "responses": _answers("OpenAPI")}},
        "/": {"get": {"summary": "Status page", "responses": _answers("HTML", "text/html")}},
        "/playground": {"get": {"summary": "Playground page", "responses": _answers("HTML", "text/html")}},
        "/status.json": {"get": {"summary": "Status for monitoring", "responses": _answers("status")}},
    }
    return {
        "openapi": "3.0.3",
        "info": {"title": "pandora_v1", "version": __version__,
                 "description": "An OpenAI-style API over a ChatGPT backend-api upstream."},
        "paths": paths,
        "components": {"securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"},
                                           "apiKey": {"type": "apiKey", "in": "header", "name": "x-api-key"}}},
    }
