"""Tests for directorsync.redact."""

from __future__ import annotations

import logging

import pytest

from directorsync import redact
from directorsync.redact import (
    MASK,
    RedactingFilter,
    is_secret_key,
    redact_obj,
    redact_text,
    register_secret,
)

JWT = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhZG1pbiJ9.c2lnbmF0dXJlLXZhbHVl"


@pytest.fixture(autouse=True)
def _fresh_registry():
    redact.clear_secrets()
    yield
    redact.clear_secrets()


@pytest.mark.parametrize(
    "text",
    [
        "Authorization: Bearer abc123def456",
        "authorization=Bearer abc123def456",
        "headers={'Authorization': 'Bearer abc123def456'}",
        '{"Authorization": "Bearer abc123def456"}',
        "sent Bearer abc123def456 to Director",
        "curl -H 'Authorization: bearer abc123def456'",
    ],
)
def test_bearer_credentials_are_masked(text):
    out = redact_text(text)
    assert "abc123def456" not in out
    assert MASK in out


@pytest.mark.parametrize(
    ("text", "secret"),
    [
        ('{"password": "hunter22"}', "hunter22"),
        ("passwd=hunter22&user=bob", "hunter22"),
        ("LP_DIRECTOR_API_TOKEN=abcdef0123", "abcdef0123"),
        ("api_key: k-123456", "k-123456"),
        ("X-Api-Key: k-123456", "k-123456"),
        ("apikey=k-123456", "k-123456"),
        ("client_secret='s3cr3t-value'", "s3cr3t-value"),
        ('"CSRFToken": "csrf-987654"', "csrf-987654"),
        ("secretKey=abc-789", "abc-789"),
        ("Token: tok-555555", "tok-555555"),
    ],
)
def test_secret_like_keys_are_masked(text, secret):
    out = redact_text(text)
    assert secret not in out
    assert MASK in out


def test_json_shape_is_kept():
    out = redact_text('{"name": "repo1", "password": "hunter22", "n": 1}')
    assert out == f'{{"name": "repo1", "password": "{MASK}", "n": 1}}'


def test_jwt_anywhere_is_masked():
    out = redact_text(f"got {JWT} back")
    assert out == f"got {MASK} back"


def test_registered_secret_is_masked_everywhere():
    register_secret("t0ken-value-xyz")
    assert (
        redact_text("url?x=t0ken-value-xyzzz and t0ken-value-xyz") == f"url?x={MASK}zz and {MASK}"
    )


def test_explicit_secrets_argument():
    assert redact_text("abc my-own-secret", secrets=["my-own-secret"]) == f"abc {MASK}"


def test_short_secrets_are_ignored():
    register_secret("t")
    register_secret(None)
    register_secret("")
    assert redact_text("the test text") == "the test text"


def test_plain_text_is_unchanged_and_fast_path_returns_same_object():
    text = "POST configapi/pool/node/Repos -> HTTP 200 in 3 ms"
    assert redact_text(text) is text
    assert redact_text("") == ""


def test_masking_is_idempotent():
    once = redact_text("Authorization: Bearer abc123def456 password=x1")
    assert redact_text(once) == once


@pytest.mark.parametrize(
    "key",
    ["token", "Authorization", "PASSWORD", "passwd", "client_secret", "x-api-key", "CSRFToken"],
)
def test_is_secret_key(key):
    assert is_secret_key(key)


@pytest.mark.parametrize("key", ["name", "repo", "hiddenrepopath", 3, None])
def test_is_not_secret_key(key):
    assert not is_secret_key(key)


def test_redact_obj_recurses_and_copies():
    register_secret("registered-secret")
    original = {
        "name": "r1",
        "password": "hunter22",
        "nested": [{"api_key": "k1"}, ("Bearer abcdefgh", "registered-secret")],
        "headers": {"Authorization": "Bearer xyz123456"},
        "empty_token": None,
        "count": 3,
    }
    out = redact_obj(original)
    assert out == {
        "name": "r1",
        "password": MASK,
        "nested": [{"api_key": MASK}, (f"Bearer {MASK}", MASK)],
        "headers": {"Authorization": MASK},
        "empty_token": None,
        "count": 3,
    }
    assert original["password"] == "hunter22"
    assert original["nested"][0]["api_key"] == "k1"


def test_redacting_filter_masks_message_args_and_traceback():
    register_secret("the-real-token")
    record = logging.LogRecord(
        "directorsync.x", logging.INFO, __file__, 1, "sending %s with %r", None, None
    )
    record.args = ("Bearer the-real-token", {"password": "p4ssw0rd"})
    try:
        raise RuntimeError("boom the-real-token")
    except RuntimeError:
        import sys

        record.exc_info = sys.exc_info()
    assert RedactingFilter().filter(record)
    formatted = logging.Formatter().format(record)
    assert "the-real-token" not in formatted
    assert "p4ssw0rd" not in formatted
    assert "RuntimeError" in formatted


def test_redacting_filter_with_own_secrets_and_bad_format():
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "value %d", ("not-a-number",), None)
    RedactingFilter(secrets=["not-a-number"]).filter(record)
    assert "not-a-number" not in record.getMessage()


def test_redaction_is_fast_enough_for_per_request_logging():
    import time

    register_secret("some-long-token-value-0123456789")
    line = "POST configapi/pool/node/Repos body=" + '{"name": "r", "x": 1}' * 20
    start = time.perf_counter()
    for _ in range(2000):
        redact_text(line)
    assert time.perf_counter() - start < 1.0
