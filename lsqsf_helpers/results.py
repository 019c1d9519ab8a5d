"""The one result type: what a step found, what it changed, and what the admin should do next."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class Status(StrEnum):
    OK = "ok"
    ACTION_NEEDED = "action_needed"
    FAILED = "failed"
    MANUAL = "manual"
    SKIPPED = "skipped"

    @property
    def blocks_readiness(self) -> bool:
        """An org is ready when no step needs action or failed; manual and skipped-for-a-reason-shown are fine."""
        return self in (Status.ACTION_NEEDED, Status.FAILED)


@dataclass(frozen=True)
class Change:
    """One change an apply run made: what, and its value before and after."""

    what: str
    before: Any
    after: Any

    def as_dict(self) -> dict[str, Any]:
        return {"what": self.what, "before": self.before, "after": self.after}


@dataclass(frozen=True)
class StepResult:
    step: str
    status: Status
    title: str
    message: str
    remedy: str = ""
    evidence: dict[str, Any] = field(default_factory=dict)
    changes: tuple[Change, ...] = ()
    links: tuple[tuple[str, str], ...] = ()  # (label, url) for the manual part shown to the admin
    duration: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.step,
            "status": self.status.value,
            "title": self.title,
            "message": self.message,
            "remedy": self.remedy,
            "evidence": self.evidence,
            "changes": [c.as_dict() for c in self.changes],
            "links": [{"label": label, "url": url} for label, url in self.links],
            "duration": round(self.duration, 3),
        }
