"""A local emulator of the Salesforce and LeadSquared APIs, with named practice orgs.

It speaks the vendors' wire formats over plain HTTP on 127.0.0.1 and dispatches on the Host header;
`lsqsf_helpers.http.SandboxAdapter` routes the real vendor hosts to it. Nothing else in lsqsf knows
it exists.
"""

from lsqsf_helpers.sandbox.server import Sandbox, SandboxBindError

__all__ = ["Sandbox", "SandboxBindError"]
