"""Opening the lineage database: engine settings, the schema-version check and migrations.

SQLite (the default) runs in WAL mode with ``synchronous=NORMAL`` and a busy timeout, and every
transaction starts with ``BEGIN IMMEDIATE``: with several ``run-step`` processes writing at once, a
deferred read-then-write transaction fails with "database is locked" whatever the timeout
(BRIEF §18), while an immediate one simply waits its turn. Any other SQLAlchemy URL works too.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, delete, event, insert, inspect, select, text
from sqlalchemy.exc import ArgumentError, OperationalError, SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from wfc.errors import InfraError, UsageError
from wfc.lineage.records import SCHEMA_VERSION, newer_schema
from wfc.lineage.schema import V1_TABLES, Base, Meta, Pin, Pruned, Run

BUSY_TIMEOUT_S = 60


def _v1_initial(conn: Connection) -> None:
    # A new database gets the current shape of the v1 tables; later versions add what they add
    # with checkfirst, so they are no-ops there and real upgrades on an older file.
    Base.metadata.create_all(conn, tables=[Base.metadata.tables[t] for t in V1_TABLES])


def _v2_pins_and_hit_index(conn: Connection) -> None:
    Pin.__table__.create(conn, checkfirst=True)  # type: ignore[attr-defined]
    Pruned.__table__.create(conn, checkfirst=True)  # type: ignore[attr-defined]
    index = next(i for i in Run.__table__.indexes if i.name == "ix_runs_cache_source")  # type: ignore[attr-defined]
    index.create(conn, checkfirst=True)


# (version, description, upgrade) in order; each runs inside the migration transaction.
MIGRATIONS: list[tuple[int, str, Callable[[Connection], None]]] = [
    (1, "initial schema: pipeline runs, runs, inputs, outputs, samples", _v1_initial),
    (2, "pins and pruned runs (for gc and verify), an index on runs.cache_source_id", _v2_pins_and_hit_index),
]
assert MIGRATIONS[-1][0] == SCHEMA_VERSION


@dataclass
class Database:
    """An open, migrated lineage database."""

    engine: Engine
    sessions: sessionmaker[Session]

    def session(self) -> Session:
        """A new session; use as ``with db.session() as s, s.begin(): ...``."""
        return self.sessions()


def open_database(url: str) -> Database:
    """Connect, check the schema version and migrate when behind.

    Raises:
        UsageError: The URL is malformed, or the database was written by a newer wfc.
        InfraError: The database cannot be reached.
    """
    try:
        engine = _make_engine(url)
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
        if version != SCHEMA_VERSION:
            _migrate(engine)
    except OperationalError as exc:
        reason = str(exc.orig).strip().splitlines()[0] if exc.orig else str(exc)
        raise InfraError(
            f"database unreachable ({_safe(url)}): {reason}",
            "check WFC_DATABASE_URL and that the database server is running",
        ) from None
    return Database(engine, sessionmaker(engine, expire_on_commit=False))


def _make_engine(url: str) -> Engine:
    if url.startswith("sqlite:///"):
        Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": BUSY_TIMEOUT_S})

        @event.listens_for(engine, "connect")
        def _on_connect(dbapi_conn: Any, _record: Any) -> None:
            dbapi_conn.isolation_level = None  # we issue BEGIN ourselves
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_S * 1000}")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.close()

        @event.listens_for(engine, "begin")
        def _on_begin(conn: Connection) -> None:
            conn.exec_driver_sql("BEGIN IMMEDIATE")

        return engine
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
    from sqlalchemy.engine import make_url

    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return "<invalid url>"
