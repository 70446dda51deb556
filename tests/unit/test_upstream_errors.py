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
