"""Secret references: parsing without I/O, resolution, and never echoing a value."""

from __future__ import annotations

import getpass
import os
import sys
import types
from pathlib import Path

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from lsqsf_helpers.errors import SecretError
from lsqsf_helpers.redact import Redactor
from lsqsf_helpers.secrets import SecretRef, check_available, parse_ref, resolve

FIELD = "salesforce.password"

posix_only = pytest.mark.skipif(os.name == "nt", reason="POSIX file modes")


# ---------------------------------------------------------------------------------------------- parse


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("env:SF_PASSWORD", SecretRef("env", "SF_PASSWORD")),
        ("  env:_X1 ", SecretRef("env", "_X1")),
        ("file:~/.lsqsf/pw", SecretRef("file", "~/.lsqsf/pw")),
        ("keyring:lsqsf/admin@acme.com", SecretRef("keyring", "lsqsf/admin@acme.com")),
        ("keyring:lsqsf/acme/admin@acme.com", SecretRef("keyring", "lsqsf/acme/admin@acme.com")),
        ("prompt", SecretRef("prompt")),
    ],
)
def test_parse_ref_accepts_the_reference_forms(text: str, expected: SecretRef) -> None:
    assert parse_ref(text, FIELD) == expected


def test_parse_ref_passes_a_parsed_ref_through() -> None:
    ref = SecretRef("env", "X")
    assert parse_ref(ref, FIELD) is ref


def test_str_of_a_ref_is_the_reference_text() -> None:
    assert str(parse_ref("env:SF_PASSWORD", FIELD)) == "env:SF_PASSWORD"
    assert str(parse_ref("prompt", FIELD)) == "prompt"
    ref = parse_ref("keyring:lsqsf/acme/admin@acme.com", FIELD)
    assert (ref.keyring_service, ref.keyring_user) == ("lsqsf/acme", "admin@acme.com")


def test_a_raw_value_is_refused_without_echoing_it() -> None:
    raw = "Tr0ub4dor&3-horse"
    with pytest.raises(SecretError) as info:
        parse_ref(raw, FIELD)
    err = info.value
    assert err.field == FIELD
    assert raw not in str(err)
    assert "env:NAME" in str(err)
    assert "not a secret reference" in err.message


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("env:1ABC", "environment variable name"),
        ("env:MY-VAR", "environment variable name"),
        ("env:", "environment variable name"),
        ("file:", "followed by a path"),
        ("keyring:only-service", "SERVICE/USER"),
        ("keyring:/user", "SERVICE/USER"),
        ("keyring:service/", "SERVICE/USER"),
        ("", "is empty"),
        ("ENV:X", "not a secret reference"),
        ("password:hunter2", "not a secret reference"),
    ],
)
def test_malformed_references_are_refused(text: str, needle: str) -> None:
    with pytest.raises(SecretError) as info:
        parse_ref(text, "leadsquared.secret_key")
    assert info.value.field == "leadsquared.secret_key"
    assert needle in str(info.value)


@pytest.mark.parametrize("value", [123456, 3.5, True, ["a"], {"a": 1}])
def test_non_text_values_are_refused_by_type_only(value: object) -> None:
    with pytest.raises(SecretError) as info:
        parse_ref(value, FIELD)
    assert info.value.field == FIELD
    assert "expected a secret reference" in str(info.value)
    assert str(value) not in info.value.message.split("got", 1)[1]


# Arbitrary text around one character no message of ours contains: if the whole value shows up in a
# message, it was echoed (a plain "not in" would trip over values that are words of the message).
_MARKERS = "\u00a7\u00b6\u03a9\u0436\u2603"


@given(
    prefix=st.sampled_from(["", "env:", "keyring:", "ENV:", "pass:", "File:", "env: "]),
    head=st.text(max_size=20),
    marker=st.sampled_from(_MARKERS),
    tail=st.text(max_size=20),
)
def test_parse_ref_never_echoes_a_raw_value(prefix: str, head: str, marker: str, tail: str) -> None:
    value = head + marker + tail
    text = prefix + value
    try:
        parse_ref(text, FIELD)
    except SecretError as err:
        assert value not in str(err)
        assert value not in err.remedy
    else:
        assume(False)  # a valid reference: nothing to check


# ---------------------------------------------------------------------------------------------- env


def test_env_resolves_and_registers_with_a_label(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LSQSF_TEST_PW", "the-password-value")
    redactor = Redactor()
    value = resolve(parse_ref("env:LSQSF_TEST_PW", FIELD), FIELD, redactor=redactor)
    assert value == "the-password-value"
    assert redactor.redact("x the-password-value") == "x ***"
    assert redactor.scan("the-password-value") == ["secret #1 (salesforce.password from env:LSQSF_TEST_PW)"]


def test_env_missing_names_field_and_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LSQSF_TEST_MISSING", raising=False)
    ref = parse_ref("env:LSQSF_TEST_MISSING", FIELD)
    with pytest.raises(SecretError) as info:
        resolve(ref, FIELD, redactor=Redactor())
    assert info.value.field == FIELD
    assert "LSQSF_TEST_MISSING is not set" in info.value.message
    assert info.value.remedy.startswith("export LSQSF_TEST_MISSING=")
    with pytest.raises(SecretError):
        check_available(ref, FIELD)


def test_env_empty_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LSQSF_TEST_EMPTY", "")
    with pytest.raises(SecretError, match="set but empty"):
        resolve(parse_ref("env:LSQSF_TEST_EMPTY", FIELD), FIELD, redactor=Redactor())


# ---------------------------------------------------------------------------------------------- file


def _secret_file(tmp_path: Path, content: str, mode: int = 0o600) -> Path:
    path = tmp_path / "secret.txt"
    path.write_text(content, encoding="utf-8")
    path.chmod(mode)
    return path


@posix_only
def test_file_0600_is_accepted_and_one_newline_stripped(tmp_path: Path) -> None:
    path = _secret_file(tmp_path, "file-secret-value\n\n")
    ref = parse_ref(f"file:{path}", FIELD)
    check_available(ref, FIELD)
    assert resolve(ref, FIELD, redactor=Redactor()) == "file-secret-value\n"


@posix_only
def test_file_crlf_is_stripped(tmp_path: Path) -> None:
    path = _secret_file(tmp_path, "file-secret-value\r\n")
    assert resolve(parse_ref(f"file:{path}", FIELD), FIELD, redactor=Redactor()) == "file-secret-value"


@posix_only
@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604, 0o620, 0o602])
def test_file_readable_or_writable_by_others_is_refused(tmp_path: Path, mode: int) -> None:
    path = _secret_file(tmp_path, "file-secret-value", mode)
    ref = parse_ref(f"file:{path}", FIELD)
    for call in (lambda: resolve(ref, FIELD, redactor=Redactor()), lambda: check_available(ref, FIELD)):
        with pytest.raises(SecretError) as info:
            call()
        assert info.value.field == FIELD
        assert info.value.remedy == f"chmod 600 {path}"
        assert "group or others" in info.value.message
        assert "file-secret-value" not in str(info.value)


def test_file_missing(tmp_path: Path) -> None:
    ref = parse_ref(f"file:{tmp_path / 'nope.txt'}", FIELD)
    with pytest.raises(SecretError) as info:
        resolve(ref, FIELD, redactor=Redactor())
    assert info.value.field == FIELD
    assert "does not exist" in info.value.message


def test_file_tilde_is_expanded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    _secret_file(tmp_path, "home-secret-value")
    assert resolve(parse_ref("file:~/secret.txt", FIELD), FIELD, redactor=Redactor()) == "home-secret-value"


@posix_only
@pytest.mark.parametrize("content", ["", "\n"])
def test_file_empty_is_refused(tmp_path: Path, content: str) -> None:
    path = _secret_file(tmp_path, content)
    with pytest.raises(SecretError, match="is empty"):
        resolve(parse_ref(f"file:{path}", FIELD), FIELD, redactor=Redactor())


def test_file_that_is_a_directory_is_refused(tmp_path: Path) -> None:
    with pytest.raises(SecretError, match="not a regular file"):
        check_available(parse_ref(f"file:{tmp_path}", FIELD), FIELD)


# ---------------------------------------------------------------------------------------------- keyring


def test_keyring_missing_package(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "keyring", None)  # makes `import keyring` raise ImportError
    ref = parse_ref("keyring:lsqsf/admin@acme.com", FIELD)
    with pytest.raises(SecretError) as info:
        resolve(ref, FIELD, redactor=Redactor())
    assert info.value.field == FIELD
    assert "pip install keyring" in info.value.remedy
    assert "lsqsf[keyring]" in info.value.remedy


def _fake_keyring(store: dict[tuple[str, str], str]) -> types.ModuleType:
    module = types.ModuleType("keyring")

    def get_password(service: str, user: str) -> str | None:
        return store.get((service, user))

    module.get_password = get_password  # type: ignore[attr-defined]
    return module


def test_keyring_entry_resolves(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "keyring", _fake_keyring({("lsqsf", "admin@acme.com"): "kr-secret"}))
    redactor = Redactor()
    ref = parse_ref("keyring:lsqsf/admin@acme.com", FIELD)
    assert resolve(ref, FIELD, redactor=redactor) == "kr-secret"
    assert redactor.values() == ("kr-secret",)


def test_keyring_missing_entry(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "keyring", _fake_keyring({}))
    with pytest.raises(SecretError) as info:
        check_available(parse_ref("keyring:lsqsf/admin@acme.com", FIELD), FIELD)
    assert info.value.field == FIELD
    assert "no entry" in info.value.message
    assert info.value.remedy.startswith("keyring set lsqsf admin@acme.com")


def test_keyring_backend_error_is_a_secret_error(monkeypatch: pytest.MonkeyPatch) -> None:
    module = types.ModuleType("keyring")

    def get_password(service: str, user: str) -> str | None:
        raise RuntimeError("No recommended backend was available")

    module.get_password = get_password  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "keyring", module)
    with pytest.raises(SecretError, match="could not be read"):
        resolve(parse_ref("keyring:lsqsf/admin@acme.com", FIELD), FIELD, redactor=Redactor())


# ---------------------------------------------------------------------------------------------- prompt


def test_prompt_is_refused_headless(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_prompt(prompt: str = "") -> str:
        raise AssertionError("must not prompt")

    monkeypatch.setattr(getpass, "getpass", no_prompt)
    ref = parse_ref("prompt", FIELD)
    with pytest.raises(SecretError) as info:
        resolve(ref, FIELD, redactor=Redactor())
    assert info.value.field == FIELD
    assert "interactive" in info.value.message
    assert "env:NAME" in info.value.remedy
    with pytest.raises(SecretError):
        check_available(ref, FIELD)


def test_prompt_interactive_asks_naming_the_field(monkeypatch: pytest.MonkeyPatch) -> None:
    asked: list[str] = []

    def fake_getpass(prompt: str = "") -> str:
        asked.append(prompt)
        return "typed-secret"

    monkeypatch.setattr(getpass, "getpass", fake_getpass)
    redactor = Redactor()
    ref = parse_ref("prompt", FIELD)
    check_available(ref, FIELD, interactive=True)
    assert asked == []  # checking never prompts
    assert resolve(ref, FIELD, interactive=True, redactor=redactor) == "typed-secret"
    assert FIELD in asked[0]
    assert redactor.scan("typed-secret") == ["secret #1 (salesforce.password from prompt)"]


def test_prompt_empty_answer_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(getpass, "getpass", lambda prompt="": "")
    with pytest.raises(SecretError, match="empty"):
        resolve(SecretRef("prompt"), FIELD, interactive=True, redactor=Redactor())
