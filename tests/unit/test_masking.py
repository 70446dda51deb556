"""One masking format for every secret, wherever it is shown."""
from pandora_v1.runtime.masking import mask, masked_settings, redact, scrub
from tests.conftest import make_jwt


def test_mask_keeps_a_quarter_at_most_and_the_length():
    assert mask(None) == "<none>" and mask("abcdefghijklmnopqrstuvwxyz") == "abcdef…(26)"
    assert mask("short") == "s…(5)"


def test_scrub_masks_named_secrets_jwts_and_token_fields():
    body = ('{"access_token": "eyJhbGciOi.eyJzdWIiOiJ4In0.c2ln", "refresh_token": "rt-rotated-zzz", '
            '"detail": "bad rt-secret-value"}')
    cleaned = scrub(body, "rt-secret-value")
    for secret in ("eyJhbGciOi.eyJzdWIiOiJ4In0.c2ln", "rt-rotated-zzz", "rt-secret-value"):
        assert secret not in cleaned
    assert "detail" in cleaned


def test_redaction_of_tokens_that_slip_into_messages():
    token = make_jwt()
    text = redact(f"oops Authorization: Bearer {token} and sk-{'a' * 40} via Bearer abcdefghijklmnopqrstuvwxyz")
    assert token not in text and token.split(".")[1] not in text
    assert "abcdefghijklmnopqrstuvwxyz" not in text and "Bearer abcdef…(26)" in text
    assert redact("plain words, Bearer short") == "plain words, Bearer short"


def test_settings_under_secret_keys_are_masked_in_the_same_format():
    shown = masked_settings({"key_for_gpts_info": "eyJsecretsecretsecret", "redis": {"password": "hunter2hunter2"},
                             "upstream_prefixes": ["very-secret-prefix"], "bind": "0.0.0.0:33333"})
    assert shown == {"key_for_gpts_info": mask("eyJsecretsecretsecret"), "redis": {"password": mask("hunter2hunter2")},
                     "upstream_prefixes": [mask("very-secret-prefix")], "bind": "0.0.0.0:33333"}


def test_a_jwt_cut_short_in_a_log_line_is_masked_too():
    token = make_jwt(sub="user-cut")
    cut = token[:len(token.split(".")[0]) + 40]          # header and part of the payload, one dot
    text = redact(f'upstream event message: {{"type": "resume_conversation_token", "token": "{cut}')
    assert cut.split(".")[0] not in text and cut.split(".")[1] not in text
    assert "eyJ" in text and "…(" in text
