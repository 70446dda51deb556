"""How upstream answers that are not a 200 event stream become client errors."""
import pytest

from pandora_v1.upstream.errors import error_from_response


def response(status, body, content_type="application/json", headers=None):
    return status, {"Content-Type": content_type, **(headers or {})}, \
        body.encode() if isinstance(body, str) else body


@pytest.mark.parametrize("status, body, expected_status, fragment", [
    (401, '{"detail": "Your authentication token has expired."}', 401, "expired"),
    (403, "<html><body>Just a moment...</body></html>", 403, "forbidden"),
    (404, '{"detail": "Conversation not found"}', 404, "Conversation not found"),
    (422, '{"detail": [{"loc": ["body"], "msg": "field required"}]}', 400, "field required"),
    (413, '{"detail": {"message": "too big", "code": "x"}}', 400, "too big"),
    (500, '{"detail": "boom"}', 502, "boom"),
    (502, "<html><center>nginx</center></html>", 502, "HTML error page"),
])
def test_status_mapping(status, body, expected_status, fragment):
    error = error_from_response(*response(status, body, "text/html" if body.startswith("<") else "application/json"))
    assert error.status == expected_status
    assert fragment in error.message
    assert "<html" not in error.message


def test_rate_limit_keeps_retry_after_and_code():
    error = error_from_response(*response(
        429, '{"detail": {"message": "You\'ve reached our limit", "code": "rate_limit_exceeded"}}',
        headers={"Retry-After": "42"}))
    assert (error.status, error.code, error.headers) == (429, "rate_limit_exceeded", {"Retry-After": "42"})
    assert error.type == "requests"


# ------------------------------------------------------------- today's refusals

TOO_LONG = ('{"detail": {"message": "The message you submitted was too long, please reload the conversation and '
            'submit something shorter.", "code": "message_length_exceeds_limit"}}')


def test_message_too_long_is_openais_context_length_exceeded():
    error = error_from_response(*response(413, TOO_LONG))
    assert (error.status, error.code, error.param, error.type) == \
        (400, "context_length_exceeded", "messages", "invalid_request_error")
    assert "too long" in error.message and "reduce the length" in error.message
    # the code decides, whatever the status and wording (the doc: wording varies)
    assert error_from_response(*response(400, TOO_LONG.replace("too long", "over"))).code == "context_length_exceeded"


def test_a_422_names_the_field_it_rejects():
    error = error_from_response(*response(422, '{"detail": [{"loc": ["body", "model"], "msg": "field required"}]}'))
    assert (error.status, error.param, error.code) == (400, "model", "upstream_bad_request")


def test_invalid_conversation_body_names_what_was_sent():
    from pandora_v1.upstream.errors import rejected_body

    upstream = error_from_response(*response(422, '{"detail": "Invalid conversation body"}'))
    payload = {"action": "next", "model": "gpt-5-instant", "thinking_effort": "high",
               "system_hints": ["picture_v2"], "conversation_mode": {"kind": "primary_assistant"},
               "history_and_training_disabled": False, "messages": [{}, {}]}
    error = rejected_body(upstream, payload, "/backend-api/f/conversation")
    assert (error.status, error.code, error.upstream_status) == (400, "invalid_conversation_body", 422)
    for sent in ('model="gpt-5-instant"', 'thinking_effort="high"', 'system_hints=["picture_v2"]',
                 'conversation_mode="primary_assistant"', "2 message(s)", "/backend-api/f/conversation",
                 "Invalid conversation body"):
        assert sent in error.message, sent


def test_a_rate_limit_text_naming_its_reset_gives_retry_after():
    body = '{"detail": {"message": "You have hit your limit. Try again in 2 hours and 30 minutes.", "code": "x"}}'
    assert error_from_response(*response(429, body)).headers == {"Retry-After": "9000"}
    # the upstream's own header wins
    assert error_from_response(*response(429, body, headers={"Retry-After": "7"})).headers == {"Retry-After": "7"}
    assert error_from_response(*response(429, '{"detail": "Slow down"}')).headers == {}


@pytest.mark.parametrize("text, seconds", [
    ("You can create more images when the limit resets in 23 hours and 5 minutes.", 83100),
    ("Please try again in 45 seconds", 45),
    ("resets in 2h 30m", 9000),
    ("in 1 day", 86400),
    ("You've hit the Free plan limit for image generation.", None),
    ("in a while", None),
])
def test_reset_in_a_limit_text(text, seconds):
    from pandora_v1.upstream.limits import reset_in_text

    assert reset_in_text(text) == seconds


def test_reset_from_limits_progress_in_every_shape():
    import time
    from datetime import datetime, timedelta, timezone

    from pandora_v1.upstream.limits import reset_of

    soon = (datetime.now(timezone.utc) + timedelta(seconds=600)).isoformat()
    for value, low, high in ((soon, 595, 601), (time.time() + 120, 115, 121), (300, 300, 300), ("300", 300, 300),
                             (soon.replace("+00:00", "Z"), 595, 601)):
        init = {"limits_progress": [{"feature_name": "deep_research", "remaining": 2},
                                    {"feature_name": "image_gen", "remaining": 0, "reset_after": value}]}
        assert low <= reset_of(init, "image_gen") <= high, value
    assert reset_of({"limits_progress": [{"feature_name": "image_gen", "reset_after": "soon"}]}, "image_gen") is None
    assert reset_of({"limits_progress": "nope"}, "image_gen") is None
    assert reset_of({}, "image_gen") is None


@pytest.mark.parametrize("name, text, limit", [
    ("ChatGPTAgentToolRateLimitException", "Try later.", True),
    ("", "You've hit the Free plan limit for image generation.", True),
    ("ToolError", "The image could not be drawn.", False),
])
def test_which_tool_failures_are_limits(name, text, limit):
    from pandora_v1.upstream.limits import is_limit

    assert is_limit(name, text) is limit
