"""lsqsf: the LeadSquared Connector runbook for Salesforce, checked against the live org."""

__version__ = "0.1.0"
