"""Fault injection: decide, reproducibly, which vendor requests fail and how.

Two sources of faults: the rule set through `POST /_sandbox/faults` (a rate, kinds, a seed, optional
org and vendor filters), and a scenario's own `flaky_every` (every Nth read of that org fails).
Decisions are drawn in request order from one seeded generator, so a run with the same seed and the
same request order meets the same faults.
"""

from __future__ import annotations

import random
import threading
from dataclasses import dataclass, field
from typing import Any

KINDS = ("429", "503", "500", "502", "504", "drop", "delay", "expire")


class FaultConfigError(ValueError):
    """A fault rule the control API cannot accept; the message names the field."""


@dataclass(frozen=True)
class FaultRule:
    rate: float = 0.0
    kinds: tuple[str, ...] = ("503",)
    seed: int = 0
    delay_seconds: float = 2.0
    orgs: tuple[str, ...] | None = None
    vendors: tuple[str, ...] | None = None

    @classmethod
    def parse(cls, payload: Any) -> FaultRule:
        """Validate a control-API body; unknown fields and bad values raise FaultConfigError."""
        if not isinstance(payload, dict):
            raise FaultConfigError("body must be a JSON object")
        allowed = {"rate", "kinds", "seed", "delay_seconds", "orgs", "vendors"}
        unknown = sorted(set(payload) - allowed)
        if unknown:
            raise FaultConfigError(f"unknown field(s) {unknown}; allowed: {sorted(allowed)}")
        rate = payload.get("rate", 0.0)
        if not isinstance(rate, int | float) or isinstance(rate, bool) or not 0.0 <= rate <= 1.0:
            raise FaultConfigError("rate must be a number from 0 to 1")
        kinds = payload.get("kinds", ["503"])
        if not isinstance(kinds, list) or not kinds or any(k not in KINDS for k in kinds):
            raise FaultConfigError(f"kinds must be a non-empty list of {list(KINDS)}")
        seed = payload.get("seed", 0)
        if not isinstance(seed, int) or isinstance(seed, bool):
            raise FaultConfigError("seed must be an integer")
        delay = payload.get("delay_seconds", 2.0)
        if not isinstance(delay, int | float) or isinstance(delay, bool) or not 0 <= delay <= 60:
            raise FaultConfigError("delay_seconds must be a number from 0 to 60")
        orgs = payload.get("orgs")
        vendors = payload.get("vendors")
        for name, value in (("orgs", orgs), ("vendors", vendors)):
            if value is not None and (
                not isinstance(value, list) or not all(isinstance(v, str) for v in value)
            ):
                raise FaultConfigError(f"{name} must be a list of strings or null")
        if vendors is not None and any(v not in ("salesforce", "leadsquared") for v in vendors):
            raise FaultConfigError("vendors may name only 'salesforce' and 'leadsquared'")
        return cls(
            rate=float(rate),
            kinds=tuple(kinds),
            seed=seed,
            delay_seconds=float(delay),
            orgs=tuple(orgs) if orgs is not None else None,
            vendors=tuple(vendors) if vendors is not None else None,
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            "rate": self.rate,
            "kinds": list(self.kinds),
            "seed": self.seed,
            "delay_seconds": self.delay_seconds,
            "orgs": list(self.orgs) if self.orgs is not None else None,
            "vendors": list(self.vendors) if self.vendors is not None else None,
        }


@dataclass
class FaultInjector:
    """Draws faults for requests; thread-safe."""

    rule: FaultRule = field(default_factory=FaultRule)
    _rng: random.Random = field(default_factory=lambda: random.Random(0))
    _org_reads: dict[str, int] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def configure(self, rule: FaultRule) -> None:
        with self._lock:
            self.rule = rule
            self._rng = random.Random(rule.seed)

    def reset(self) -> None:
        with self._lock:
            self.rule = FaultRule()
            self._rng = random.Random(0)
            self._org_reads.clear()

    def draw(self, vendor: str, org: str | None, read: bool, flaky_every: int) -> str | None:
        """The fault kind for this request, or None. Scenario flakiness hits reads only (see module doc)."""
        with self._lock:
            if org is not None and flaky_every > 0 and read:
                n = self._org_reads.get(org, 0) + 1
                self._org_reads[org] = n
                if n % flaky_every == 1:
                    return "503" if (n // flaky_every) % 2 == 0 else "drop"
            rule = self.rule
            if rule.rate <= 0.0:
                return None
            if rule.vendors is not None and vendor not in rule.vendors:
                return None
            if rule.orgs is not None and org not in rule.orgs:
                return None
            if self._rng.random() >= rule.rate:
                return None
            return self._rng.choice(rule.kinds)
