"""Opening the lineage database: engine settings, the schema-version check and migrations.

SQLite (the default) runs in WAL mode with ``synchronous=NORMAL`` and a busy timeout, and every
transaction starts with ``BEGIN IMMEDIATE``: with several ``run-step`` processes writing at once, a
deferred read-then-write transaction fails with "database is locked" whatever the timeout
(BRIEF §18), while an immediate one simply waits its turn. Any other SQLAlchemy URL works too.

Read-only (``wfc runs``, ``show``, ``plan``, ``why``…) changes nothing: no migration, no
``BEGIN IMMEDIATE`` (plain deferred reads), a missing SQLite file is not created, and every write
is refused (by the session, and by the database itself: SQLite's ``query_only``, PostgreSQL's
read-only transactions). A database that does not exist yet, or has no wfc tables, reads as
empty; one whose schema is behind is an error that says how to upgrade it.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

from sqlalchemy import Connection, Engine, create_engine, delete, event, insert, inspect, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, OperationalError, SQLAlchemyError
from sqlalchemy.orm import ORMExecuteState, Session, UOWTransaction, sessionmaker
from sqlalchemy.pool import StaticPool

from wfc.errors import InfraError, UsageError
from wfc.lineage.records import SCHEMA_VERSION, ReadOnlyDatabase, behind_schema, newer_schema
from wfc.lineage.schema import V1_TABLES, Base, Meta, Pin, Pruned, Run, RunOutput, Sample, SavedImage

BUSY_TIMEOUT_S = 60
SQLITE_PREFIX = "sqlite:///"


def _v1_initial(conn: Connection) -> None:
    # A new database gets the current shape of the v1 tables; later versions add what they add
    # with checkfirst, so they are no-ops there and real upgrades on an older file.
    Base.metadata.create_all(conn, tables=[Base.metadata.tables[t] for t in V1_TABLES])


def _v2_pins_and_hit_index(conn: Connection) -> None:
    Pin.__table__.create(conn, checkfirst=True)  # type: ignore[attr-defined]
    Pruned.__table__.create(conn, checkfirst=True)  # type: ignore[attr-defined]
    index = next(i for i in Run.__table__.indexes if i.name == "ix_runs_cache_source")  # type: ignore[attr-defined]
    index.create(conn, checkfirst=True)


def _v3_sample_metadata(conn: Connection) -> None:
    if "metadata" in {c["name"] for c in inspect(conn).get_columns(Sample.__tablename__)}:
        return  # a database created at v3 or later: v1 made the table in its current shape
    kind = Sample.__table__.c["metadata"].type.compile(dialect=conn.dialect)
    conn.execute(text(f"ALTER TABLE {Sample.__tablename__} ADD COLUMN metadata {kind}"))


def _v4_reproducibility(conn: Connection) -> None:
    SavedImage.__table__.create(conn, checkfirst=True)  # type: ignore[attr-defined]
    present = {c["name"] for c in inspect(conn).get_columns(Run.__tablename__)}
    for name in ("resources", "code_tree", "env_tree", "reproduces_id"):
        if name not in present:  # absent only on a real upgrade (v1 creates the current shape)
            kind = Run.__table__.c[name].type.compile(dialect=conn.dialect)
            conn.execute(text(f"ALTER TABLE {Run.__tablename__} ADD COLUMN {name} {kind}"))
    if conn.dialect.name == "postgresql":  # byte counts past 2 GiB: INTEGER -> BIGINT (SQLite's are 64-bit)
        for table in (RunOutput.__tablename__, Sample.__tablename__):
            conn.execute(text(f"ALTER TABLE {table} ALTER COLUMN size TYPE BIGINT"))


# (version, description, upgrade) in order; each runs inside the migration transaction.
MIGRATIONS: list[tuple[int, str, Callable[[Connection], None]]] = [
    (1, "initial schema: pipeline runs, runs, inputs, outputs, samples", _v1_initial),
    (2, "pins and pruned runs (for gc and verify), an index on runs.cache_source_id", _v2_pins_and_hit_index),
    (3, "samples.metadata: a sample sheet's extra columns", _v3_sample_metadata),
    (
        4,
        "runs: resources, kept code and environment trees, reproductions; saved images; sizes BIGINT",
        _v4_reproducibility,
    ),
]
assert MIGRATIONS[-1][0] == SCHEMA_VERSION


@dataclass
class Database:
    """An open, migrated lineage database (or, read-only, one that is current or empty)."""

    engine: Engine
    sessions: sessionmaker[Session]
    read_only: bool = False

    def session(self) -> Session:
        """A new session; use as ``with db.session() as s, s.begin(): ...``."""
        return self.sessions()


@contextmanager
def database(url: str, *, read_only: bool = False) -> Iterator[Database]:
    """The lineage database at ``url`` through SQLAlchemy, released after use.

    Raises:
        UsageError, InfraError: As :func:`open_database`.
    """
    db = open_database(url, read_only=read_only)
    try:
        yield db
    finally:
        db.engine.dispose()


def open_database(url: str, *, read_only: bool = False) -> Database:
    """Connect, check the schema version and migrate when behind; read-only, never migrate.

    Raises:
        UsageError: The URL is malformed, the database was written by a newer wfc, or (read-only)
            its schema is behind.
        InfraError: The database cannot be reached.
    """
    if read_only and url.startswith(SQLITE_PREFIX) and not Path(url.removeprefix(SQLITE_PREFIX)).is_file():
        return _absent(url)
    try:
        engine = _make_engine(url, read_only)
    except (ArgumentError, ModuleNotFoundError) as exc:
        raise UsageError(
            f"bad database URL {_safe(url)}: {exc}",
            "set WFC_DATABASE_URL to a SQLAlchemy URL whose driver is installed",
        ) from None
    except OSError as exc:
        raise InfraError(
            f"database unreachable ({_safe(url)}): {exc.strerror}: {exc.filename}",
            "check WFC_DATABASE_URL and that its directory can be created",
        ) from None
    try:
        version = _current_version(engine)
        if version != SCHEMA_VERSION and read_only:
            engine.dispose()
            if version == 0:  # no wfc tables yet: nothing was recorded
                return _empty()
            raise behind_schema(version)
        if version != SCHEMA_VERSION:
            _migrate(engine)
    except OperationalError as exc:
        reason = str(exc.orig).strip().splitlines()[0] if exc.orig else str(exc)
        disk = any(m in reason.lower() for m in ("disk i/o error", "disk is full"))
        raise InfraError(
            f"database unreachable ({_safe(url)}): {reason}",
            "free space or fix the disk the database is on, then run again"
            if disk
            else "check WFC_DATABASE_URL and that the database server is running",
        ) from None
    return _opened(engine, read_only)


def _opened(engine: Engine, read_only: bool) -> Database:
    sessions = sessionmaker(engine, expire_on_commit=False)
    if read_only:
        event.listen(sessions, "before_flush", _refuse_flush)
        event.listen(sessions, "do_orm_execute", _refuse_dml)
    return Database(engine, sessions, read_only)


def _refuse_flush(session: Session, _flush: UOWTransaction, _instances: object) -> None:
    if session.new or session.dirty or session.deleted:
        raise ReadOnlyDatabase("a change to the records")


def _refuse_dml(state: ORMExecuteState) -> None:
    for word, flag in (
        ("an INSERT", state.is_insert),
        ("an UPDATE", state.is_update),
        ("a DELETE", state.is_delete),
    ):
        if flag:
            raise ReadOnlyDatabase(word)


def _absent(url: str) -> Database:
    """A SQLite file that does not exist (yet) reads as empty, unless it never could exist."""
    path = Path(url.removeprefix(SQLITE_PREFIX))
    nearest = next((p for p in path.parents if p.exists()), None)
    if path.exists():  # a directory, a device…
        reason = f"not a regular file: {path}"
    elif nearest is not None and not nearest.is_dir():
        reason = f"not a directory: {nearest}"
    else:
        return _empty()
    raise InfraError(
        f"database unreachable ({_safe(url)}): {reason}",
        "check WFC_DATABASE_URL and that its directory can be created",
    )


def _empty() -> Database:
    """A read-only stand-in for a database that does not exist yet: the current schema, no rows,
    in memory (so that nothing is created on disk)."""
    engine = create_engine("sqlite://", poolclass=StaticPool, connect_args={"check_same_thread": False})
    _migrate(engine)
    with engine.connect() as conn:
        conn.exec_driver_sql("PRAGMA query_only=ON")
    return _opened(engine, read_only=True)


def _make_engine(url: str, read_only: bool = False) -> Engine:
    if url.startswith(SQLITE_PREFIX):
        path = url.removeprefix(SQLITE_PREFIX)
        if read_only:  # mode=rw: the file must exist (never created); writes are refused below
            target = f"file:{quote(str(Path(path).resolve()))}?mode=rw"
            engine = create_engine(
                "sqlite://",
                creator=lambda: sqlite3.connect(
                    target, uri=True, timeout=BUSY_TIMEOUT_S, check_same_thread=False
                ),
            )
        else:
            Path(path).parent.mkdir(parents=True, exist_ok=True)
            engine = create_engine(url, connect_args={"timeout": BUSY_TIMEOUT_S})

        @event.listens_for(engine, "connect")
        def _on_connect(dbapi_conn: Any, _record: Any) -> None:
            dbapi_conn.isolation_level = None  # we issue BEGIN ourselves
            cur = dbapi_conn.cursor()
            if read_only:
                cur.execute("PRAGMA query_only=ON")
            else:
                cur.execute("PRAGMA journal_mode=WAL")
                cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_S * 1000}")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.close()

        @event.listens_for(engine, "begin")
        def _on_begin(conn: Connection) -> None:
            conn.exec_driver_sql("BEGIN" if read_only else "BEGIN IMMEDIATE")

        return engine
    if read_only and make_url(url).get_backend_name() == "postgresql":
        return create_engine(
            url, pool_pre_ping=True, connect_args={"options": "-c default_transaction_read_only=on"}
        )
    return create_engine(url, pool_pre_ping=True)


def _current_version(engine: Engine) -> int:
    with engine.connect() as conn:
        try:
            value = conn.execute(select(Meta.value).where(Meta.key == "schema_version")).scalar()
        except SQLAlchemyError:
            conn.rollback()
            return 0
    version = int(value) if value else 0
    if version > SCHEMA_VERSION:
        raise newer_schema(version)
    return version


def _migrate(engine: Engine) -> None:
    with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(text("SELECT pg_advisory_xact_lock(7215)"))
        current = 0
        if inspect(conn).has_table(Meta.__tablename__):
            value = conn.execute(select(Meta.value).where(Meta.key == "schema_version")).scalar()
            current = int(value) if value else 0
        for version, _description, upgrade in MIGRATIONS:
            if version > current:
                upgrade(conn)
                conn.execute(delete(Meta).where(Meta.key == "schema_version"))
                conn.execute(insert(Meta).values(key="schema_version", value=str(version)))


def _safe(url: str) -> str:
    """The URL with any password masked, for messages."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return "<invalid url>"
