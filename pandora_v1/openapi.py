"""The OpenAPI 3.0 document of our routes, served at /openapi.json.

Request bodies are described as clients send them (OpenAI's shapes, a little
wider where we accept more); responses say only what every answer shares, so
generated tests can check the contract that matters: JSON errors in
OpenAI's shape, never a 5xx from bad input.
"""
from __future__ import annotations

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
_MESSAGE = {"type": "object", "required": ["role", "content"], "properties": {
    "role": {"type": "string", "enum": ["system", "developer", "user", "assistant"]},
    "content": {"oneOf": [{"type": "string"},
                          {"type": "array", "items": {"oneOf": [_TEXT_PART, _IMAGE_PART, _FILE_PART]}}]}}}
_CHAT = {"type": "object", "required": ["model", "messages"], "properties": {
    "model": {"type": "string"},
    "messages": {"type": "array", "items": _MESSAGE},
    "stream": {"type": "boolean"},
    "stream_options": {"type": "object", "properties": {"include_usage": {"type": "boolean"}}},
    "n": {"type": "integer"}, "temperature": {"type": "number"}, "max_tokens": {"type": "integer"}}}
_IMAGES = {"type": "object", "required": ["prompt"], "properties": {
    "model": {"type": "string"}, "prompt": {"type": "string"}, "n": {"type": "integer"},
    "size": {"type": "string"}, "response_format": {"type": "string", "enum": ["url", "b64_json"]}}}


def _json_body(schema: dict) -> dict:
    return {"required": True, "content": {"application/json": {"schema": schema}}}


def _answers(description: str, kind: str = "application/json") -> dict:
    return {"200": {"description": description, "content": {kind: {"schema": {}}}},
            "default": {"description": "An OpenAI-shaped error",
                        "content": {"application/json": {"schema": _ERROR}}}}


def document(api_prefix: str = "") -> dict:
    api = f"/{api_prefix}" if api_prefix else ""
    name = [{"name": "name", "in": "path", "required": True, "schema": {"type": "string"}}]
    auth = [{"bearer": []}]
    paths = {
        f"{api}/v1/chat/completions": {"post": {
            "summary": "Chat completion, streaming (SSE) or not", "security": auth,
            "requestBody": _json_body(_CHAT), "responses": _answers("A chat.completion or an SSE stream")}},
        f"{api}/v1/images/generations": {"post": {
            "summary": "Images through DALL·E", "security": auth,
            "requestBody": _json_body(_IMAGES), "responses": _answers("The images")}},
        f"{api}/v1/models": {"get": {"summary": "Every model name", "responses": _answers("A model list")}},
        f"{api}/v1/models/{{name}}": {"get": {"summary": "One model", "parameters": name,
                                              "responses": _answers("A model")}},
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
        "components": {"securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}}},
    }
