"""Tests for directorsync.redact."""

from __future__ import annotations

import logging

import pytest

from directorsync import redact
from directorsync.redact import (
    MASK,
    RedactingFilter,
    Redactor,
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


def test_one_redactor_over_many_rows_masks_like_redact_obj_row_by_row(monkeypatch):
    register_secret("some-long-token-value-0123456789")
    rows = [
        {
            "node": "be01",
            "reason": "sent with Bearer abcdefgh123" if i % 3 == 0 else "unchanged",
            "payload": {"name": f"fw{i % 7}", "password": "hunter22", "ip": "10.0.0.1"},
            "note": "token=some-long-token-value-0123456789" if i % 5 == 0 else "ok",
        }
        for i in range(60)
    ]
    monkeypatch.setattr(redact, "MEMO_LIMIT", 5)  # past the limit, strings are masked anew
    redactor = Redactor()
    assert [redactor.copy(r) for r in rows] == [redact_obj(r) for r in rows]
    assert len(redactor.texts) == 5
    assert rows[0]["payload"]["password"] == "hunter22"  # the rows are not modified
    masked = redactor.copy(rows[0])
    assert masked["reason"] == f"sent with Bearer {MASK}" and masked["note"] == f"token={MASK}"


def test_a_redactor_masks_the_secrets_registered_when_it_was_made():
    redactor = Redactor()
    register_secret("registered-later-secret")
    assert redactor.copy("x registered-later-secret") == "x registered-later-secret"
    assert Redactor().copy("x registered-later-secret") == f"x {MASK}"


PIECES = [
    "Repo",
    "_",
    "-",
    " ",
    "é",
    "fw01",
    "pass",
    "word",
    "Pass_Word",
    "to",
    "ken",
    "TOKEN",
    "Bearer abcdefgh1",
    "bearer",
    "eyJabc.def.ghi",
    "eyJ",
    "\u017fecret",
    "\u0130",
    "\u0131",
    "\u212aey",
    "api",
    "-key",
    "API.Key",
    "passwd",
    "Authorization",
    "x=",
    ": ",
    '"',
    "\\",
    "\n",
    "registered-secret-value",
    "secret",
    "10.0.0.1",
    "Überwachung",
]


def _random_obj(rng, depth=0):
    def text():
        return "".join(rng.choice(PIECES) for _ in range(rng.randint(0, 3)))

    kind = rng.random()
    if depth < 2 and kind < 0.3:
        return {text(): _random_obj(rng, depth + 1) for _ in range(rng.randint(0, 4))}
    if depth < 2 and kind < 0.45:
        return [_random_obj(rng, depth + 1) for _ in range(rng.randint(0, 3))]
    if kind < 0.55:
        return rng.choice([None, 3, 2.5, True])
    return text()


def test_surely_clean_never_vouches_for_an_object_that_has_something_to_mask():
    import random

    from directorsync import jsonio

    register_secret("registered-secret-value")
    rng = random.Random(20261202)
    redactor = Redactor()
    vouched = masked = 0
    for _ in range(20000):
        obj = _random_obj(rng)
        copy = redact_obj(obj)
        if redactor.surely_clean(jsonio.dumps_lenient(obj)):
            vouched += 1
            assert copy == obj, obj
        masked += copy != obj
    assert vouched > 1000 and masked > 1000  # both kinds were tried, many times


@pytest.mark.parametrize(
    "obj",
    [
        {"name": "fw01", "ip": "10.0.0.1", "tags": ["Überwachung", "a b"], "n": 3},
        {"key": "Repo_1", "reason": "would create", "changes": [{"field": "retention"}]},
    ],
)
def test_surely_clean_vouches_for_ordinary_rows(obj):
    from directorsync import jsonio

    assert Redactor().surely_clean(jsonio.dumps_lenient(obj))


@pytest.mark.parametrize(
    "obj",
    [
        {"Pass_Word": "x"},
        {"api.KEY": 1},
        {"ap\u0130key": 1},
        {"note": "sent Bearer abcdefgh1"},
        {"jwt": "eyJa.b.c"},
        {"tok\nen": "x"},
        {"n": "x registered-secret-value"},
    ],
)
def test_surely_clean_refuses_what_may_need_masking(obj):
    from directorsync import jsonio

    register_secret("registered-secret-value")
    assert not Redactor().surely_clean(jsonio.dumps_lenient(obj))


def test_keys_that_are_not_text_but_are_written_as_text_are_checked_too():
    import collections
    import enum

    from directorsync import jsonio

    class Field(enum.Enum):
        PASSWORD = "password"

    pair = collections.namedtuple("pair", "user credential")
    obj = {
        Field.PASSWORD: "hunter22",
        ("api_key",): "k1",
        3: "three",
        "p": pair("u", "Bearer x1y2z3w4"),
    }
    masked = redact_obj(obj)
    assert masked[Field.PASSWORD] == MASK and masked[("api_key",)] == MASK
    assert masked[3] == "three" and masked["p"] == pair("u", f"Bearer {MASK}")
    text = jsonio.dumps_lenient(masked).decode()
    assert "hunter22" not in text and "k1" not in text


def test_text_that_is_not_unicode_neither_breaks_masking_nor_writing():
    from directorsync import jsonio

    register_secret("bad\udc80secret-value")  # from a mis-encoded environment
    assert redact_obj({"a": "fine"}) == {"a": "fine"}
    assert redact_text("x bad\udc80secret-value") == f"x {MASK}"
    assert jsonio.dumps_lenient({"a": "x\udc80y"}) == b'{"a":"x\\udc80y"}'


def test_values_and_keys_written_as_text_are_masked_as_text():
    import enum

    class Shady:
        def __str__(self):
            return "password=hunter22"

    class Scheme(enum.Enum):
        TOKEN = "Bearer abcdefgh12"

    plain = Shady.__new__(Shady)
    masked = redact_obj({Shady(): 1, "v": plain, "e": Scheme.TOKEN, "n": 3, "t": ("a", 1)})
    assert masked == {
        f"password={MASK}": MASK,
        "v": f"password={MASK}",
        "e": f"Bearer {MASK}",
        "n": 3,
        "t": ("a", 1),
    }
    assert redact_obj({("a", 1): "x"}) == {("a", 1): "x"}  # keys with nothing to mask stay
