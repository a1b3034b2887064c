"""Single-flight claims (BRIEF §6.3): at most one execution of a key at a time, on one machine or,
with a PostgreSQL database, on every machine that shares it.

With SQLite the claim is an exclusive ``flock`` on ``.wfc/locks/<key>.lock``. With PostgreSQL it is
a session-level advisory lock on a connection of its own, held (outside any transaction) while the
key executes: the lease. Either way a stale claim can never block: the kernel drops the ``flock`` of
a dead process, and the database server drops the lease when the holder's connection closes (a
killed process: at once; a machine gone: when TCP keepalives give up, about 25 seconds). Whoever
takes the claim next re-checks the database and either records a hit (the holder succeeded) or
executes (the holder failed or died). ADR 0027.
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError, SQLAlchemyError
from sqlalchemy.pool import NullPool

from wfc.cache.hashing import hex_of
from wfc.errors import InfraError

# libpq's TCP keepalives: a lease whose machine vanished is released after idle + interval * count.
KEEPALIVE = {"keepalives": 1, "keepalives_idle": 10, "keepalives_interval": 5, "keepalives_count": 3}


@contextmanager
def claim(locks_dir: Path, key: str, database_url: str = "") -> Iterator[bool]:
    """Hold the claim on ``key``; yields whether this process had to wait for another holder.

    Args:
        locks_dir: Where the file locks live (SQLite).
        key: The step's cache key.
        database_url: The lineage database: a PostgreSQL one makes the claim a lease every
            machine sharing it respects.
    """
    if database_url and make_url(database_url).get_backend_name() == "postgresql":
        with _lease(database_url, key) as waited:
            yield waited
        return
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


def lease_id(key: str) -> int:
    """The advisory-lock number of a key: its first 64 bits, signed as PostgreSQL's bigint is
    (two keys sharing them would only take turns)."""
    return int.from_bytes(bytes.fromhex(hex_of(key)[:16]), "big", signed=True)


@contextmanager
def _lease(url: str, key: str) -> Iterator[bool]:
    params = {"k": lease_id(key)}
    engine = create_engine(url, poolclass=NullPool, connect_args=KEEPALIVE)
    try:
        try:  # only taking the lease is reported here: errors of the step itself pass through
            conn = engine.connect().execution_options(isolation_level="AUTOCOMMIT")
            waited = not conn.execute(text("SELECT pg_try_advisory_lock(:k)"), params).scalar()
            if waited:
                conn.execute(text("SELECT pg_advisory_lock(:k)"), params)
        except OperationalError as exc:
            reason = str(exc.orig).strip().splitlines()[0] if exc.orig else str(exc)
            hint = "check WFC_DATABASE_URL and that the database server is running"
            raise InfraError(f"could not claim the step in the database: {reason}", hint) from None
        try:
            yield waited
        finally:
            with suppress(SQLAlchemyError):  # a lost connection has released the lease already
                conn.execute(text("SELECT pg_advisory_unlock(:k)"), params)
            conn.close()
    finally:
        engine.dispose()
