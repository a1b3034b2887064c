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
    if _postgres(database_url):
        with _lease(database_url, lease_id(key)) as waited:
            yield waited
    else:
        with _flock(locks_dir / f"{hex_of(key)}.lock", exclusive=True) as waited:
            yield waited


@contextmanager
def store_guard(locks_dir: Path, database_url: str = "", *, exclusive: bool = False) -> Iterator[None]:
    """The shared store's collection lock (ADR 0029): held shared, briefly, by whatever makes an
    object referenced (a hit verifying and recording, an execution archiving and recording) and
    exclusively by ``wfc cache gc --shared`` while it decides and deletes, so no object is deleted
    between being found in the store and being named by a record. A lease like the claims."""
    if _postgres(database_url):
        with _lease(database_url, GC_LEASE, shared=not exclusive):
            yield
    else:
        with _flock(locks_dir / "gc.lock", exclusive=exclusive):
            yield


def lease_id(key: str) -> int:
    """The advisory-lock number of a key: its first 64 bits, signed as PostgreSQL's bigint is
    (two keys sharing them would only take turns)."""
    return int.from_bytes(bytes.fromhex(hex_of(key)[:16]), "big", signed=True)


GC_LEASE = int.from_bytes(b"wfc.gc/1", "big", signed=True)


def _postgres(database_url: str) -> bool:
    """Whether the URL names PostgreSQL (read without importing SQLAlchemy: SQLite never needs it)."""
    return database_url.split(":", 1)[0].split("+", 1)[0] in ("postgresql", "postgres")


@contextmanager
def _flock(path: Path, *, exclusive: bool) -> Iterator[bool]:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    mode = fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH
    try:
        waited = False
        try:
            fcntl.flock(fd, mode | fcntl.LOCK_NB)
        except BlockingIOError:
            waited = True
            fcntl.flock(fd, mode)
        yield waited
    finally:
        os.close(fd)  # closing releases the lock


@contextmanager
def _lease(url: str, lock: int, *, shared: bool = False) -> Iterator[bool]:
    from sqlalchemy import create_engine, text
    from sqlalchemy.exc import OperationalError, SQLAlchemyError
    from sqlalchemy.pool import NullPool

    kind = "_shared" if shared else ""
    params = {"k": lock}
    engine = create_engine(url, poolclass=NullPool, connect_args=KEEPALIVE)
    try:
        try:  # only taking the lease is reported here: errors of the step itself pass through
            conn = engine.connect().execution_options(isolation_level="AUTOCOMMIT")
            waited = not conn.execute(text(f"SELECT pg_try_advisory_lock{kind}(:k)"), params).scalar()
            if waited:
                conn.execute(text(f"SELECT pg_advisory_lock{kind}(:k)"), params)
        except OperationalError as exc:
            reason = str(exc.orig).strip().splitlines()[0] if exc.orig else str(exc)
            hint = "check WFC_DATABASE_URL and that the database server is running"
            raise InfraError(f"could not claim the step in the database: {reason}", hint) from None
        try:
            yield waited
        finally:
            with suppress(SQLAlchemyError):  # a lost connection has released the lease already
                conn.execute(text(f"SELECT pg_advisory_unlock{kind}(:k)"), params)
            conn.close()
    finally:
        engine.dispose()
