"""Run ids: sortable and unique across machines (a ULID: 48-bit milliseconds + 80 random bits).

Step runs are ``r-…`` and pipeline runs ``p-…``, so the two can never be confused (BRIEF §6b).
"""

from __future__ import annotations

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
