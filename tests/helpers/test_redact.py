"""The redactor: secrets never survive into text, JSON-like records or log output."""

from __future__ import annotations

import io
import json
import logging
import threading
from collections.abc import Iterator

import pytest
from hypothesis import given
from hypothesis import strategies as st

from lsqsf_helpers.redact import MASK, REDACTOR, RedactingFilter, Redactor


@pytest.fixture
def redactor() -> Redactor:
    return Redactor()


def test_redact_replaces_every_occurrence(redactor: Redactor) -> None:
    redactor.register("hunter2-secret", label="env:SF_PASSWORD")
    assert redactor.redact("a hunter2-secret b hunter2-secret") == f"a {MASK} b {MASK}"


def test_longest_value_wins_so_no_piece_of_it_stays_visible(redactor: Redactor) -> None:
    redactor.register("abcd")
    redactor.register("abcdefgh")
    assert redactor.redact("x abcdefgh y abcd z") == f"x {MASK} y {MASK} z"


def test_overlapping_secrets_are_masked_as_one(redactor: Redactor) -> None:
    redactor.register("abcdef")
    redactor.register("defghi")
    assert redactor.redact("[abcdefghi]") == f"[{MASK}]"


def test_short_values_are_registered_but_never_redacted(redactor: Redactor) -> None:
    redactor.register("abc")
    redactor.register("")
    assert len(redactor) == 1
    assert redactor.redact("abc abc") == "abc abc"
    assert redactor.values() == ()
    assert redactor.scan("abc") == []


def test_json_escaped_and_url_encoded_forms_are_redacted(redactor: Redactor) -> None:
    secret = 'p@ss"wo/rd\\x'
    redactor.register(secret, label="file:~/pw")
    as_json = json.dumps({"password": secret})
    assert secret not in redactor.redact(secret)
    assert json.dumps(secret)[1:-1] not in redactor.redact(as_json)
    assert redactor.redact("q=p%40ss%22wo%2Frd%5Cx") == f"q={MASK}"
    assert redactor.scan(as_json) == ["secret #1 (file:~/pw)"]


def test_redact_obj_walks_dicts_lists_tuples_and_keys(redactor: Redactor) -> None:
    redactor.register("tok-12345")
    record = {"a": ["x tok-12345", 3, None, True], "tok-12345": {"b": ("tok-12345",)}, "n": 1.5}
    cleaned = redactor.redact_obj(record)
    assert cleaned == {"a": [f"x {MASK}", 3, None, True], MASK: {"b": (MASK,)}, "n": 1.5}
    assert "tok-12345" not in json.dumps(cleaned)
    assert record["a"] == ["x tok-12345", 3, None, True]  # the original is untouched


def test_scan_returns_labels_never_values(redactor: Redactor) -> None:
    redactor.register("first-secret", label="salesforce.password from env:SF_PASSWORD")
    redactor.register("second-secret", label="leadsquared.secret_key from env:LSQ_SECRET")
    redactor.register("third-secret")
    found = redactor.scan("... second-secret ... third-secret ... first-secret")
    assert found == [
        "secret #1 (salesforce.password from env:SF_PASSWORD)",
        "secret #2 (leadsquared.secret_key from env:LSQ_SECRET)",
        "secret #3",
    ]
    assert not any("secret-" in label or "-secret" in label for label in found)
    assert redactor.scan("nothing here") == []


def test_registering_again_keeps_the_number_and_fills_a_missing_label(redactor: Redactor) -> None:
    redactor.register("value-one")
    redactor.register("value-two", label="env:TWO")
    redactor.register("value-one", label="env:ONE")
    assert redactor.scan("value-one") == ["secret #1 (env:ONE)"]
    assert redactor.values() == ("value-one", "value-two")


def test_clear_forgets_everything(redactor: Redactor) -> None:
    redactor.register("value-one")
    redactor.clear()
    assert redactor.redact("value-one") == "value-one"
    assert len(redactor) == 0


def test_register_from_many_threads(redactor: Redactor) -> None:
    values = [f"secret-value-{i:03d}" for i in range(200)]

    def worker(chunk: list[str]) -> None:
        for value in chunk:
            redactor.register(value)
            assert redactor.redact(value) == MASK

    threads = [threading.Thread(target=worker, args=(values[i::8],)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(redactor) == 200
    assert redactor.redact(" ".join(values)) == " ".join([MASK] * 200)


@pytest.fixture
def log_stream(redactor: Redactor) -> Iterator[tuple[logging.Logger, io.StringIO]]:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(RedactingFilter(redactor))
    logger = logging.getLogger("lsqsf.test.redact")
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    logger.propagate = False
    yield logger, stream
    logger.removeHandler(handler)


def test_logging_filter_redacts_message_and_args(
    redactor: Redactor, log_stream: tuple[logging.Logger, io.StringIO]
) -> None:
    logger, stream = log_stream
    redactor.register("s3cr3t-token", label="env:TOKEN")
    logger.info("token is %s", "s3cr3t-token")
    logger.info("inline s3cr3t-token")
    logger.info("dict %(t)s", {"t": "s3cr3t-token"})
    output = stream.getvalue()
    assert "s3cr3t-token" not in output
    assert output.count(MASK) == 3


def test_logging_filter_redacts_tracebacks(
    redactor: Redactor, log_stream: tuple[logging.Logger, io.StringIO]
) -> None:
    logger, stream = log_stream
    redactor.register("s3cr3t-token")
    try:
        raise RuntimeError("login failed with s3cr3t-token")
    except RuntimeError:
        logger.exception("boom")
    output = stream.getvalue()
    assert "RuntimeError" in output
    assert "s3cr3t-token" not in output


def test_logging_filter_survives_bad_format_args(
    redactor: Redactor, log_stream: tuple[logging.Logger, io.StringIO]
) -> None:
    logger, stream = log_stream
    redactor.register("s3cr3t-token")
    logger.info("%d items", "s3cr3t-token")
    output = stream.getvalue()
    assert "s3cr3t-token" not in output
    assert "unformattable" in output


def test_default_filter_uses_the_module_redactor() -> None:
    assert RedactingFilter().redactor is REDACTOR


@given(st.text(min_size=4, max_size=30), st.text(max_size=40), st.text(max_size=40))
def test_a_registered_value_never_survives_redaction(secret: str, before: str, after: str) -> None:
    redactor = Redactor()
    redactor.register(secret)
    assert secret not in redactor.redact(before + secret + after)
