"""The sandbox's LeadSquared side: one tenant per practice org, on every documented regional API host.

`models.py` holds the tenants, their users and keys, and the rules (key checks, the regional host,
rate limits) without any HTTP; `wire.py` parses requests, calls the model and writes LeadSquared's
JSON bodies. Coverage and known differences: docs/sandbox-leadsquared.md.
"""
