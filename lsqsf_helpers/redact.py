"""Keep secret values out of everything we write: logs, JSON records, notebooks, reports.

`secrets.resolve` registers every value it hands out with a `Redactor`; whatever is about to be
written passes through `redact` / `redact_obj`, and the leak scanner that closes every run uses
`scan` (which names *which* secret leaked, never the value itself) or `values`.

Besides the raw value, the redactor also looks for the forms a value takes once it has been
serialised on its way out (JSON string escaping, URL encoding), because a secret that leaks as
`p%40ss` is still a leak.

Values shorter than `MIN_LENGTH` characters are accepted by `register` but never redacted or
reported: masking every occurrence of, say, "ab" would mangle the output beyond use, and a
three-character secret is not protectable by text replacement anyway.
"""

from __future__ import annotations

import bisect
import json
import logging
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, TypeVar
from urllib.parse import quote, quote_plus

MASK = "***"
MIN_LENGTH = 4

_T = TypeVar("_T")


@dataclass(frozen=True)
class _Entry:
    number: int
    label: str
    value: str


def _encodings(value: str) -> set[str]:
    """The raw value plus the forms it takes inside JSON strings and URLs."""
    forms = {value, json.dumps(value)[1:-1], json.dumps(value, ensure_ascii=False)[1:-1]}
    forms.add(quote(value, safe=""))
    forms.add(quote_plus(value, safe=""))
    return {form for form in forms if len(form) >= MIN_LENGTH}


def _form_order(pair: tuple[str, _Entry]) -> tuple[int, int]:
    return (-len(pair[0]), pair[1].number)


class Redactor:
    """A thread-safe registry of secret values that masks them in text and JSON-like objects.

    Thread-safe because one process may run several orgs (batch workers, in-process `check`), and
    log records are emitted from any thread. Reads work on an immutable snapshot, so `redact` never
    waits for `register`.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._entries: dict[str, _Entry] = {}
        # (form, entry) pairs, longest form first; replaced as a whole on every register().
        self._forms: tuple[tuple[str, _Entry], ...] = ()

    def register(self, value: str, label: str = "") -> None:
        """Remember a secret value. `label` says where it came from (never the value), e.g. "env:LSQ_SECRET".

        Registering the same value again keeps its number; a label is filled in if it had none.
        """
        if not value:
            return
        with self._lock:
            entry = self._entries.get(value)
            if entry is not None:
                if label and not entry.label:
                    relabelled = _Entry(entry.number, label, value)
                    self._entries[value] = relabelled
                    self._forms = tuple((form, relabelled if e is entry else e) for form, e in self._forms)
                return
            entry = _Entry(len(self._entries) + 1, label, value)
            self._entries[value] = entry
            # Insert this value's forms in order (longest first, then registration order) instead of
            # re-encoding and re-sorting every value: registering many secrets stays cheap.
            pairs = list(self._forms)
            for form in _encodings(value):
                bisect.insort(pairs, (form, entry), key=_form_order)
            self._forms = tuple(pairs)

    def clear(self) -> None:
        """Forget every value (tests, and a worker that starts the next org with a clean slate)."""
        with self._lock:
            self._entries.clear()
            self._forms = ()

    def __len__(self) -> int:
        return len(self._entries)

    def values(self) -> tuple[str, ...]:
        """The registered values long enough to be redacted, for a leak scanner that works on bytes."""
        with self._lock:
            entries = list(self._entries.values())
        return tuple(entry.value for entry in entries if len(entry.value) >= MIN_LENGTH)

    def _spans(self, text: str) -> tuple[list[tuple[int, int]], set[_Entry]]:
        """Every (start, end) span of text covered by some registered form, merged; and who matched."""
        spans: list[tuple[int, int]] = []
        found: set[_Entry] = set()
        for form, entry in self._forms:
            start = text.find(form)
            while start != -1:
                spans.append((start, start + len(form)))
                found.add(entry)
                start = text.find(form, start + 1)
        spans.sort()
        merged: list[tuple[int, int]] = []
        for start, end in spans:
            if merged and start <= merged[-1][1]:
                if end > merged[-1][1]:
                    merged[-1] = (merged[-1][0], end)
            else:
                merged.append((start, end))
        return merged, found

    def redact(self, text: str) -> str:
        """`text` with every occurrence of every registered value replaced by `***`.

        Longest values win, and overlapping or adjacent occurrences collapse into one mask, so a
        secret that contains another (or two secrets that overlap) never leaves a visible piece.
        """
        if not self._forms or not text:
            return text
        spans, _ = self._spans(text)
        if not spans:
            return text
        out: list[str] = []
        pos = 0
        for start, end in spans:
            out.append(text[pos:start])
            out.append(MASK)
            pos = end
        out.append(text[pos:])
        return "".join(out)

    def redact_obj(self, obj: _T) -> _T:
        """A copy of a JSON-like object (dicts, lists, tuples, strings) with every string redacted.

        Keys are redacted too: a secret can end up as a key (e.g. a header dict gone wrong).
        Other values (numbers, booleans, None, arbitrary objects) are returned unchanged.
        """
        return self._redact_any(obj)  # type: ignore[no-any-return]

    def _redact_any(self, obj: Any) -> Any:
        if isinstance(obj, str):
            return self.redact(obj)
        if isinstance(obj, Mapping):
            return {self._redact_any(key): self._redact_any(value) for key, value in obj.items()}
        if isinstance(obj, list):
            return [self._redact_any(item) for item in obj]
        if isinstance(obj, tuple):
            return tuple(self._redact_any(item) for item in obj)
        return obj

    def scan(self, text: str) -> list[str]:
        """Labels of the registered secrets found in `text`, e.g. "secret #1 (env:LSQ_SECRET)".

        Never returns the value: the result goes into error messages and reports.
        """
        if not self._forms or not text:
            return []
        _, found = self._spans(text)
        return [_describe(entry) for entry in sorted(found, key=lambda entry: entry.number)]


def _describe(entry: _Entry) -> str:
    return f"secret #{entry.number} ({entry.label})" if entry.label else f"secret #{entry.number}"


REDACTOR = Redactor()
"""The process-wide redactor `secrets.resolve` registers with by default."""


class RedactingFilter(logging.Filter):
    """A logging filter that masks registered secrets in a record's message, arguments and traceback.

    Attach it to every *handler* (filters on a logger do not see records propagated from child
    loggers). The message is formatted here and the arguments dropped, so no later formatter can
    bring an unredacted argument back.
    """

    def __init__(self, redactor: Redactor | None = None, name: str = "") -> None:
        super().__init__(name)
        self.redactor = redactor if redactor is not None else REDACTOR

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a bad format string must not hide the record, nor leak its arguments
            message = f"{record.msg!s} (unformattable arguments dropped)"
        record.msg = self.redactor.redact(message)
        record.args = None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = self.redactor.redact(record.exc_text)
        if record.stack_info:
            record.stack_info = self.redactor.redact(record.stack_info)
        return True
