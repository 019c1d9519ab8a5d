"""Salesforce record ids: the 15-character case-sensitive form and its 18-character checksum form.

A Salesforce fact shared by the helpers (to validate ids an admin types) and the sandbox (to mint
ids shaped like real ones). The checksum turns the case of each 5-character chunk into one letter,
so a case-insensitive system can still tell ids apart.
"""

from __future__ import annotations

import re

_SUFFIX_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345"
_ID15 = re.compile(r"^[a-zA-Z0-9]{15}$")
_ID18 = re.compile(r"^[a-zA-Z0-9]{18}$")


def checksum(id15: str) -> str:
    """The three letters Salesforce appends to a 15-character id."""
    if not _ID15.match(id15):
        raise ValueError(f"not a 15-character Salesforce id: {id15!r}")
    letters = []
    for start in range(0, 15, 5):
        chunk = id15[start : start + 5]
        bits = sum(1 << i for i, ch in enumerate(chunk) if "A" <= ch <= "Z")
        letters.append(_SUFFIX_ALPHABET[bits])
    return "".join(letters)


def to18(sfid: str) -> str:
    """The 18-character form of a 15- or 18-character id (an 18-character id must carry the right checksum)."""
    if _ID15.match(sfid):
        return sfid + checksum(sfid)
    if _ID18.match(sfid) and checksum(sfid[:15]) == sfid[15:].upper():
        return sfid[:15] + sfid[15:].upper()
    raise ValueError(f"not a Salesforce id: {sfid!r}")


def is_valid(sfid: str, prefix: str | None = None) -> bool:
    """True for a well-formed 15- or 18-character id (with a correct checksum), optionally of one key prefix."""
    try:
        to18(sfid)
    except ValueError:
        return False
    return prefix is None or sfid[:3] == prefix


def mint(prefix: str, pod: str, serial: int) -> str:
    """An 18-character id: 3-character key prefix, 2-character pod, zero-padded serial, checksum."""
    if len(prefix) != 3 or len(pod) != 2:
        raise ValueError("prefix must have 3 characters and pod 2")
    body = f"{prefix}{pod}{serial:010d}"
    return body + checksum(body)
