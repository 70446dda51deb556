"""POST /v1/chat/completions: parse, start the answer, respond in the chat wire format."""
from __future__ import annotations

from dataclasses import replace

from flask import Blueprint, Response, g, jsonify, request

from ..answer import agent as agent_answer
from ..answer import watch as client_watch
from ..answer.pipeline import open_thread, start_answer
from ..answer.sse import SSE_HEADERS
from ..chat import output as chat_output
from ..chat.request import parse_chat_request
from ..services import current_services
from ..translate.render import RenderOptions
from .common import admit, model_entry, read_json_body, request_credentials

bp = Blueprint("chat", __name__)


@bp.post("/v1/chat/completions")
def chat_completions():
    services = current_services()
    settings = services.settings
    chat = parse_chat_request(read_json_body())
    g.model, g.stream = chat.model, chat.stream
    creds = request_credentials()
    admit(chat.model)
    entry = model_entry(services, chat.model, creds)
    thread = open_thread(services, chat, entry, creds)   # a history we answered before goes on upstream
    # Agents: tool history rendered; tools / response_format go through the engine.
    turn = agent_answer.plan(services, chat.messages, chat.tools, thread)
    if agent_answer.needs_engine(turn):
        environ = request.environ   # read now: a retry starts its answer after the request context ended
        agent = agent_answer.AgentAnswer.start(
            services, chat, turn, entry, creds, public_url=request.host_url, started=g.get("started"),
            watch=lambda answer: client_watch.watch(answer, environ, chat.stream), thread=thread)
        g.upstream_status = agent.upstream_status
        if chat.stream:
            return _sse(chat_output.agent_stream(agent, settings.keepalive_interval), agent.finish)
        return jsonify(chat_output.agent_completion(agent))
    chat = replace(chat, messages=turn.messages)
    bot = settings.bot_mode.enabled and not chat.tools.tools   # tools are for programs, not bots
    options = RenderOptions.from_bot_mode(settings.bot_mode) if bot else RenderOptions()
    if chat.hosted.search:      # asked for search: OpenAI's citation style
        options = replace(options, inline_citations=True)
    answer = start_answer(services, chat, entry, creds, options,
                          public_url=request.host_url, started=g.get("started"),
                          system_hints=chat.hosted.system_hints(), thread=thread)
    g.upstream_status = answer.upstream_status
    client_watch.watch(answer, request.environ, chat.stream)   # a client leaving is noticed at once
    errors_as_text = bot   # a bot shows text, not error events
    if chat.stream:
        body = chat_output.stream(answer, settings.keepalive_interval, pause=settings.stream_sleep_time,
                                  errors_as_text=errors_as_text)
        return _sse(body, answer.finish)
    return jsonify(chat_output.completion(answer, errors_as_text))


def _sse(body, finish) -> Response:
    """A stream response. The body cleans up in its ``finally``; ``finish`` (idempotent) also runs
    when the server closes a body that never started, where no ``finally`` would."""
    response = Response(body, mimetype="text/event-stream", headers=SSE_HEADERS)
    response.call_on_close(finish)
    return response
