"""The leak scan every run ends with: no resolved secret may appear in any file it wrote.

A hit fails the run closed: every artifact of the run is removed and the message names the file and
the kind of secret (never the value).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from lsqsf_helpers.errors import LsqsfError
from lsqsf_helpers.redact import REDACTOR, Redactor


class SecretLeak(LsqsfError):
    """A secret value was found in an artifact; the artifacts were removed."""


@dataclass(frozen=True)
class Hit:
    path: Path
    labels: tuple[str, ...]


def scan_files(paths: Iterable[Path], redactor: Redactor = REDACTOR) -> list[Hit]:
    hits = []
    for path in paths:
        if not path.is_file():
            continue
        labels = redactor.scan(path.read_text(encoding="utf-8", errors="replace"))
        if labels:
            hits.append(Hit(path, tuple(labels)))
    return hits


def guard(paths: list[Path], redactor: Redactor = REDACTOR) -> None:
    """Scan the run's artifacts; on any hit remove them all and raise SecretLeak."""
    hits = scan_files(paths, redactor)
    if not hits:
        return
    for path in paths:
        path.unlink(missing_ok=True)
    where = "; ".join(f"{hit.path.name}: {', '.join(hit.labels)}" for hit in hits)
    raise SecretLeak(
        f"a secret value was found in the run's output ({where}); the output files were removed",
        remedy="this is a bug in lsqsf: report it with the org file (not the secrets)",
    )
