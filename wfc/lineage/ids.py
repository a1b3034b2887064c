"""Run ids: sortable and unique across machines (a ULID: 48-bit milliseconds + 80 random bits).

Step runs are ``r-…`` and pipeline runs ``p-…``, so the two can never be confused (BRIEF §6b).
"""

from __future__ import annotations

import hashlib
import os
import time

_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
STEP_PREFIX = "r-"
PIPELINE_PREFIX = "p-"


def new_id(prefix: str) -> str:
    """Return a new id: ``prefix`` + 26 Crockford base-32 characters, ordered by creation time."""
    value = (int(time.time() * 1000) << 80) | int.from_bytes(os.urandom(10), "big")
    chars = []
    for _ in range(26):
        chars.append(_CROCKFORD[value & 31])
        value >>= 5
    return prefix + "".join(reversed(chars))


def keyed_id(prefix: str, key: str) -> str:
    """A stable id for an external key (an Argo workflow uid): the same key, the same id, so the
    steps of one external run find one pipeline run however many pods they run in."""
    value = int.from_bytes(hashlib.blake2b(key.encode(), digest_size=17).digest(), "big") >> 6
    chars = []
    for _ in range(26):
        chars.append(_CROCKFORD[value & 31])
        value >>= 5
    return prefix + "".join(reversed(chars))
