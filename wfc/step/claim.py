"""Single-flight claims (BRIEF §6.3): at most one execution of a key at a time on this machine.

The claim is an exclusive ``flock`` on ``.wfc/locks/<key>.lock``. The kernel releases it when the
holder exits or dies, so a stale claim can never block; whoever takes the claim next re-checks the
database and either records a hit (the holder succeeded) or executes (the holder failed or died).
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from wfc.cache.hashing import hex_of


@contextmanager
def claim(locks_dir: Path, key: str) -> Iterator[bool]:
    """Hold the claim on ``key``; yields whether this process had to wait for another holder."""
    locks_dir.mkdir(parents=True, exist_ok=True)
    fd = os.open(locks_dir / f"{hex_of(key)}.lock", os.O_RDWR | os.O_CREAT, 0o644)
    try:
        waited = False
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            waited = True
            fcntl.flock(fd, fcntl.LOCK_EX)
        yield waited
    finally:
        os.close(fd)  # closing releases the lock
