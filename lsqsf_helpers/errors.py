"""The one error hierarchy.

`UsageError`: the admin or operator can fix it (bad input, a missing permission, a wrong setting); it
names the field or setting and carries a remedy. CLI exit code 2.
`Failure`: the world failed us (a vendor API down, an install that errored, a limit exhausted); it
carries a remedy when one is known. Reported as a failed step or exit code 1.
Anything else escaping is a bug: exit code 3.
"""

from __future__ import annotations


class LsqsfError(Exception):
    """Base of every error lsqsf raises on purpose."""

    def __init__(self, message: str, *, remedy: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.remedy = remedy

    def __str__(self) -> str:
        return self.message if not self.remedy else f"{self.message}\n  remedy: {self.remedy}"


class UsageError(LsqsfError):
    """Bad input or setting the user can correct. `field` names it (dotted path, e.g. salesforce.login)."""

    def __init__(self, message: str, *, field: str = "", remedy: str = "") -> None:
        super().__init__(f"{field}: {message}" if field else message, remedy=remedy)
        self.field = field


class ValidationError(UsageError):
    """A parameter, org file or form value does not have the shape it must have."""


class SecretError(UsageError):
    """A secret reference is malformed, or what it points at is missing or unsafe."""


class Failure(LsqsfError):
    """Something outside our control failed; retried where that is safe, then reported."""


class SalesforceFailure(Failure):
    """Salesforce refused or failed a call. `code` is Salesforce's errorCode when there is one."""

    def __init__(self, message: str, *, code: str = "", status: int = 0, remedy: str = "") -> None:
        super().__init__(message, remedy=remedy)
        self.code = code
        self.status = status


class LeadSquaredFailure(Failure):
    """LeadSquared refused or failed a call. `exception_type` is its ExceptionType when there is one."""

    def __init__(self, message: str, *, exception_type: str = "", status: int = 0, remedy: str = "") -> None:
        super().__init__(message, remedy=remedy)
        self.exception_type = exception_type
        self.status = status
