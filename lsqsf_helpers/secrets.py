"""Secret references: parameters name *where* a secret lives, never the secret itself.

Contract (ARCHITECTURE.md, "Secrets"): a secret parameter is one of

- ``env:NAME``              an environment variable;
- ``file:PATH``             a file private to its owner (``chmod 600``), like an ssh private key;
- ``keyring:SERVICE/USER``  the OS keyring, through the optional ``keyring`` package;
- ``prompt``                asked for at run time, interactive sessions only.

Parameters travel into executed notebooks, JSON records and reports, so only references may be
written there. `parse_ref` checks the shape without any I/O (validation time, before any network
call); `check_available` checks that the secret is there without handing it out (so a whole orgs
file can be refused up front); `resolve` returns the value just in time and registers it with the
`Redactor`, so anything written afterwards is masked.

No message raised here ever contains a secret value, nor a raw value given where a reference was
expected (that raw value may well be the secret).
"""

from __future__ import annotations

import getpass
import importlib
import os
import re
import shlex
import stat
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from lsqsf_helpers.errors import SecretError
from lsqsf_helpers.redact import REDACTOR, Redactor

SecretKind = Literal["env", "file", "keyring", "prompt"]

FORMS = "env:NAME, file:PATH, keyring:SERVICE/USER or prompt"
"""The accepted reference forms, for messages."""

MAX_FILE_BYTES = 1 << 20
"""A secret file larger than this is not a secret file (and reading it whole would be a mistake)."""

_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_RAW_VALUE_REMEDY = (
    "keep the secret out of parameters and refer to it instead: env:NAME (an environment variable), "
    "file:PATH (a file only you can read, chmod 600), keyring:SERVICE/USER (the OS keyring) "
    "or prompt (asked for at run time, interactive sessions only)"
)
_UNATTENDED_REMEDY = (
    "for unattended runs (CLI, batch, papermill) use env:NAME, file:PATH or keyring:SERVICE/USER"
)


@dataclass(frozen=True)
class SecretRef:
    """Where a secret lives. Safe to print, log and store: it never holds the value."""

    kind: SecretKind
    target: str = ""

    def __str__(self) -> str:
        return "prompt" if self.kind == "prompt" else f"{self.kind}:{self.target}"

    @property
    def keyring_service(self) -> str:
        """SERVICE of ``keyring:SERVICE/USER`` (split at the last "/": user names have none)."""
        return self.target.rpartition("/")[0]

    @property
    def keyring_user(self) -> str:
        """USER of ``keyring:SERVICE/USER``."""
        return self.target.rpartition("/")[2]


def kind_of(value: object) -> str:
    """What a misplaced YAML value is, in words, for error messages (never the value itself)."""
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, list | tuple):
        return "a list"
    if isinstance(value, Mapping):
        return "a mapping"
    return f"a {type(value).__name__}"


def parse_ref(text: object, field: str) -> SecretRef:
    """Parse a secret reference given for `field`; shape only, no I/O.

    Anything that is not a reference is refused without quoting it: it is most likely the secret.
    An already parsed `SecretRef` (e.g. from the widget form) is returned as is.
    """
    if isinstance(text, SecretRef):
        return text
    if not isinstance(text, str):
        raise SecretError(
            f"expected a secret reference ({FORMS}), got {kind_of(text)}",
            field=field,
            remedy=_RAW_VALUE_REMEDY,
        )
    ref = text.strip()
    if not ref:
        raise SecretError(f"is empty; expected a secret reference ({FORMS})", field=field)
    if ref == "prompt":
        return SecretRef("prompt")
    kind, sep, target = ref.partition(":")
    if not sep or kind not in ("env", "file", "keyring"):
        raise SecretError(
            f"holds a value, not a secret reference ({FORMS}); "
            "the value is not shown in case it is the secret",
            field=field,
            remedy=_RAW_VALUE_REMEDY,
        )
    if kind == "env":
        if not _ENV_NAME.match(target):
            raise SecretError(
                "env: must be followed by an environment variable name "
                "(letters, digits and _, not starting with a digit), e.g. env:SF_PASSWORD",
                field=field,
                remedy=_RAW_VALUE_REMEDY,
            )
        return SecretRef("env", target)
    if kind == "file":
        if not target or "\x00" in target:
            raise SecretError("file: must be followed by a path, e.g. file:~/.lsqsf/sf_password", field=field)
        return SecretRef("file", target)
    service, slash, user = target.rpartition("/")
    if not slash or not service.strip() or not user.strip():
        raise SecretError(
            "keyring: must be followed by SERVICE/USER, e.g. keyring:lsqsf/admin@acme.com",
            field=field,
            remedy=_RAW_VALUE_REMEDY,
        )
    return SecretRef("keyring", target)


def _from_env(ref: SecretRef, field: str) -> str:
    name = ref.target
    value = os.environ.get(name)
    if value is None:
        raise SecretError(
            f"environment variable {name} is not set (from {ref})",
            field=field,
            remedy=f"export {name}=… (the secret) in the shell that starts lsqsf or the notebook kernel, "
            f"or point {field} at file:PATH or keyring:SERVICE/USER",
        )
    if not value:
        raise SecretError(
            f"environment variable {name} is set but empty (from {ref})",
            field=field,
            remedy=f"export {name}=… (the secret)",
        )
    return value


def _from_file(ref: SecretRef, field: str) -> str:
    path = Path(ref.target).expanduser()
    chmod = f"chmod 600 {shlex.quote(str(path))}"
    try:
        # Look before opening: opening a FIFO or device could block or have side effects.
        if not stat.S_ISREG(os.stat(path).st_mode):
            raise SecretError(f"{path} is not a regular file (from {ref})", field=field)
        with open(path, "rb") as handle:
            mode = os.fstat(handle.fileno()).st_mode
            if os.name != "nt" and mode & 0o077:
                raise SecretError(
                    f"{path} can be read or written by group or others (mode {stat.filemode(mode)}); "
                    "a secret file must be private to its owner",
                    field=field,
                    remedy=chmod,
                )
            data = handle.read(MAX_FILE_BYTES + 1)
    except FileNotFoundError:
        raise SecretError(
            f"file {path} does not exist (from {ref})",
            field=field,
            remedy=f"create it with the secret as its only content, then {chmod}",
        ) from None
    except PermissionError:
        raise SecretError(
            f"file {path} cannot be read by this user (from {ref})",
            field=field,
            remedy=f"make it readable by the user running lsqsf only: {chmod}",
        ) from None
    except OSError as exc:
        raise SecretError(f"file {path} cannot be read: {exc.strerror} (from {ref})", field=field) from None
    if len(data) > MAX_FILE_BYTES:
        raise SecretError(
            f"file {path} is larger than {MAX_FILE_BYTES} bytes: not a secret file", field=field
        )
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise SecretError(f"file {path} is not UTF-8 text (from {ref})", field=field) from None
    if text.endswith("\r\n"):
        text = text[:-2]
    elif text.endswith("\n"):
        text = text[:-1]
    if not text:
        raise SecretError(
            f"file {path} is empty (from {ref})", field=field, remedy="write the secret into it"
        )
    return text


def _from_keyring(ref: SecretRef, field: str) -> str:
    try:
        keyring = importlib.import_module("keyring")  # optional dependency: imported only when used
    except ImportError:
        raise SecretError(
            f"{ref} needs the optional 'keyring' package, which is not installed",
            field=field,
            remedy="pip install keyring (or install lsqsf with its extra: pip install 'lsqsf[keyring]'), "
            "or use env:NAME / file:PATH",
        ) from None
    service, user = ref.keyring_service, ref.keyring_user
    try:
        value: object = keyring.get_password(service, user)
    except Exception as exc:  # backend errors (no backend, locked keychain, D-Bus down) vary by platform
        raise SecretError(
            f"the OS keyring could not be read for {ref}: {type(exc).__name__}: {exc}",
            field=field,
            remedy="check that a keyring backend is available and unlocked (keyring --list-backends)",
        ) from None
    if value is None:
        raise SecretError(
            f"the OS keyring has no entry for service {service!r} and user {user!r} (from {ref})",
            field=field,
            remedy=f"keyring set {shlex.quote(service)} {shlex.quote(user)}  (it asks for the secret)",
        )
    if not isinstance(value, str) or not value:
        raise SecretError(f"the OS keyring entry for {ref} is empty", field=field)
    return value


def _refuse_headless_prompt(field: str) -> None:
    raise SecretError(
        "prompt asks for the secret at run time, which needs an interactive session; "
        "this run is not interactive",
        field=field,
        remedy=_UNATTENDED_REMEDY,
    )


def _from_prompt(field: str) -> str:
    try:
        value = getpass.getpass(f"{field} (secret, input hidden): ")
    except EOFError:
        raise SecretError(
            "no input was given at the prompt", field=field, remedy=_UNATTENDED_REMEDY
        ) from None
    if not value:
        raise SecretError("an empty value was given at the prompt", field=field)
    return value


def _fetch(ref: SecretRef, field: str, interactive: bool) -> str:
    if ref.kind == "env":
        return _from_env(ref, field)
    if ref.kind == "file":
        return _from_file(ref, field)
    if ref.kind == "keyring":
        return _from_keyring(ref, field)
    if not interactive:
        _refuse_headless_prompt(field)
    return _from_prompt(field)


def resolve(ref: SecretRef, field: str, *, interactive: bool = False, redactor: Redactor = REDACTOR) -> str:
    """The secret `ref` points at, registered with `redactor` before it is returned.

    Call it as late as possible (just before the API call that needs it) and do not store the
    result in anything that gets written out.
    """
    value = _fetch(ref, field, interactive)
    redactor.register(value, label=f"{field} from {ref}")
    return value


def check_available(ref: SecretRef, field: str, *, interactive: bool = False) -> None:
    """Raise SecretError unless `resolve` would succeed; the value is read and dropped, never returned.

    For ``prompt`` this only checks that the session is interactive (the admin answers later).
    """
    if ref.kind == "prompt":
        if not interactive:
            _refuse_headless_prompt(field)
        return
    _fetch(ref, field, interactive)
