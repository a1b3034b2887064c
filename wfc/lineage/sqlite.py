"""The standard-library implementation of the lineage protocol for the default local SQLite file.

It writes exactly what ``SqlAlchemyLineage`` writes (a contract test compares them) but imports
only ``sqlite3``, so a cache hit costs a fraction of a SQLAlchemy import. It serves only a database
whose schema is current; anything else (a new file, an old schema) goes through SQLAlchemy, which
owns migrations. Every write transaction is ``BEGIN IMMEDIATE`` (BRIEF §18).

Opened read-only, it sets nothing on the file (no ``journal_mode`` pragma), reads in plain
autocommit statements, never creates a missing file, and refuses every write: its own transactions
raise :class:`~wfc.lineage.records.ReadOnlyDatabase`, and SQLite's ``query_only`` backs that up.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import asdict, fields
from datetime import datetime
from functools import cache
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import quote

from wfc.errors import InfraError
from wfc.lineage.records import (
    EARLIER_LIMIT,
    SCHEMA_VERSION,
    STALE_MESSAGE,
    InputRecord,
    OutputRecord,
    PipelineRunRecord,
    ReadOnlyDatabase,
    RunRecord,
    SampleChange,
    SampleRecord,
    completion,
    failure,
    newer_schema,
    now,
    sample_change,
)
from wfc.model.status import Status

BUSY_TIMEOUT_S = 60
_JSON = {"params", "members", "metrics", "metadata", "resources"}
_IN_CHUNK = 500  # names per IN (...) query: well below SQLite's limit on bound parameters
R = TypeVar("R")


def _encode(name: str, value: Any) -> Any:
    if name in _JSON:
        return json.dumps(value)
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S.%f")
    return value


# Each record class's field names, in order: read once, not per row.
_NAMES: dict[type, tuple[str, ...]] = {
    cls: tuple(f.name for f in fields(cls))
    for cls in (InputRecord, OutputRecord, PipelineRunRecord, RunRecord, SampleRecord)
}


def _decode(cls: type[R], row: sqlite3.Row) -> R:
    values: dict[str, Any] = {}
    for name in _NAMES[cls]:
        value = row[name]
        if name in _JSON and value is not None:
            value = json.loads(value)
        elif name == "metadata":  # a sample row older than schema v3
            value = {}
        elif value is not None and name.endswith("_at"):
            value = datetime.fromisoformat(value)
        values[name] = value
    return cls(**values)


@cache
def _insert_sql(table: str, names: tuple[str, ...]) -> str:
    return f"INSERT INTO {table} ({', '.join(names)}) VALUES ({', '.join('?' for _ in names)})"


class SqliteLineage:
    """Lineage through ``sqlite3`` on a local file in WAL mode."""

    def __init__(self, conn: sqlite3.Connection, *, read_only: bool = False) -> None:
        self.conn = conn
        self.read_only = read_only

    @classmethod
    def open_current(cls, path: str, *, read_only: bool = False) -> SqliteLineage | None:
        """Open the file when it exists with the current schema; otherwise None.

        Raises:
            UsageError: The schema is newer than this wfc.
        """
        if not Path(path).is_file():
            return None
        if read_only:  # mode=rw: never create the file (it could vanish after the check above)
            target = f"file:{quote(str(Path(path).resolve()))}?mode=rw"
            try:
                conn = sqlite3.connect(target, timeout=BUSY_TIMEOUT_S, isolation_level=None, uri=True)
            except sqlite3.OperationalError:
                return None
        else:
            conn = sqlite3.connect(path, timeout=BUSY_TIMEOUT_S, isolation_level=None)
        conn.row_factory = sqlite3.Row
        try:
            row = conn.execute("SELECT value FROM wfc_meta WHERE key = 'schema_version'").fetchone()
        except sqlite3.DatabaseError:
            conn.close()
            return None
        version = int(row[0]) if row else 0
        if version > SCHEMA_VERSION:
            conn.close()
            raise newer_schema(version)
        if version != SCHEMA_VERSION:
            conn.close()
            return None
        writing = ("journal_mode=WAL", "synchronous=NORMAL")
        for pragma in (
            *(("query_only=ON",) if read_only else writing),
            f"busy_timeout={BUSY_TIMEOUT_S * 1000}",
            "foreign_keys=ON",
        ):
            conn.execute(f"PRAGMA {pragma}")
        return cls(conn, read_only=read_only)

    def close(self) -> None:
        """Close the connection."""
        self.conn.close()

    # -- reads -----------------------------------------------------------------------------
    def find_completed(self, key: str) -> tuple[RunRecord, list[OutputRecord]] | None:
        """The newest executed, completed run with this key and its outputs."""
        row = self.conn.execute(
            "SELECT * FROM runs WHERE key = ? AND status = ? ORDER BY ended_at DESC, id DESC LIMIT 1",
            (key, Status.COMPLETED.value),
        ).fetchone()
        if row is None:
            return None
        outs = self.conn.execute("SELECT * FROM run_outputs WHERE run_id = ? ORDER BY slot", (row["id"],))
        return _decode(RunRecord, row), [_decode(OutputRecord, o) for o in outs]

    def sample_version(self, name: str, version: int | None = None) -> SampleRecord | None:
        """A sample by name: the given version, or the newest."""
        sql, args = "SELECT * FROM samples WHERE name = ?", [name]
        if version is not None:
            sql, args = sql + " AND version = ?", [name, str(version)]
        row = self.conn.execute(sql + " ORDER BY version DESC LIMIT 1", args).fetchone()
        return _decode(SampleRecord, row) if row else None

    def list_samples(self) -> list[SampleRecord]:
        """Every sample version by name, then version."""
        rows = self.conn.execute("SELECT * FROM samples ORDER BY name, version")
        return [_decode(SampleRecord, r) for r in rows]

    # -- writes ----------------------------------------------------------------------------
    def add_sample_version(self, sample: SampleRecord) -> tuple[SampleRecord, bool]:
        """Record new content as the next version; the same content returns the existing one."""
        with self._transaction():
            latest = self.sample_version(sample.name)
            if latest is not None and latest.content_hash == sample.content_hash:
                return latest, False
            record = SampleRecord(**{**asdict(sample), "version": latest.version + 1 if latest else 1})
            self._insert("samples", record)
        return record, True

    def register_samples(
        self, samples: list[SampleRecord], *, keep_metadata: bool = False
    ) -> list[tuple[SampleRecord, SampleChange]]:
        """Record many samples in one transaction (see the protocol); the newest version of
        every name is read in a few queries, not one per sample."""
        done: list[tuple[SampleRecord, SampleChange]] = []
        with self._transaction():
            names = sorted({x.name for x in samples})
            newest: dict[str, SampleRecord] = {}
            for i in range(0, len(names), _IN_CHUNK):
                chunk = names[i : i + _IN_CHUNK]
                rows = self.conn.execute(
                    f"SELECT * FROM samples WHERE name IN ({', '.join('?' for _ in chunk)}) ORDER BY version",
                    chunk,
                )
                newest.update((row["name"], _decode(SampleRecord, row)) for row in rows)
            for sample in samples:
                record, change = sample_change(newest.get(sample.name), sample, keep_metadata=keep_metadata)
                if change == "added":
                    self._insert("samples", record)
                elif change == "updated":
                    self.conn.execute(
                        "UPDATE samples SET metadata = ? WHERE name = ? AND version = ?",
                        (_encode("metadata", record.metadata), record.name, record.version),
                    )
                newest[sample.name] = record
                done.append((record, change))
        return done

    def create_pipeline_run(self, run: PipelineRunRecord) -> None:
        """Record a pipeline run."""
        with self._transaction():
            self._insert("pipeline_runs", run)

    def has_pipeline_run(self, pipeline_run_id: str) -> bool:
        """Whether a pipeline run with this id is recorded."""
        return (
            self.conn.execute("SELECT 1 FROM pipeline_runs WHERE id = ?", (pipeline_run_id,)).fetchone()
            is not None
        )

    def finish_pipeline_run(self, pipeline_run_id: str, status: Status) -> None:
        """Close a pipeline run with its final status."""
        with self._transaction():
            self._update("pipeline_runs", pipeline_run_id, status=status.value, ended_at=now())

    def start_run(self, run: RunRecord, inputs: list[InputRecord]) -> None:
        """Record a claimed run as ``running`` with its inputs."""
        self.record_cached(run, inputs, [])

    def record_cached(self, run: RunRecord, inputs: list[InputRecord], outputs: list[OutputRecord]) -> None:
        """Record a cache hit with its own input and output rows."""
        with self._transaction():
            self._insert("runs", run)
            for i in inputs:
                self._insert("run_inputs", i)
            for o in outputs:
                self._insert("run_outputs", o)

    def complete_run(
        self,
        run_id: str,
        outputs: list[OutputRecord],
        metrics: dict[str, Any],
        logs: tuple[str | None, str | None],
        resources: dict[str, Any] | None = None,
    ) -> None:
        """Mark a ``running`` run ``completed`` with its outputs: one transaction (no-op otherwise)."""
        with self._transaction():
            done = self._update("runs", run_id, only_running=True, **completion(metrics, logs, resources))
            for o in outputs if done else []:
                self._insert("run_outputs", o)

    def fail_run(
        self,
        run_id: str,
        *,
        error: str,
        tail: str | None,
        exit_code: int | None,
        logs: tuple[str | None, str | None],
        status: Status = Status.FAILED,
        resources: dict[str, Any] | None = None,
    ) -> None:
        """Mark a ``running`` run ``failed`` (or ``cancelled``) with its message and logs."""
        with self._transaction():
            self._update(
                "runs", run_id, only_running=True, **failure(status, error, tail, exit_code, logs, resources)
            )

    def runs_of(self, pipeline_run_id: str) -> list[RunRecord]:
        """Every step run recorded in a pipeline run, oldest first."""
        rows = self.conn.execute(
            "SELECT * FROM runs WHERE pipeline_run_id = ? ORDER BY id", (pipeline_run_id,)
        )
        return [_decode(RunRecord, r) for r in rows]

    def earlier_runs(self, node: str, module: str, method: str) -> list[tuple[RunRecord, str]]:
        """Keyed runs of this node id (else of this method) with their pipeline's name, newest first."""
        sql = (
            "SELECT runs.*, pipeline_runs.name AS pipeline_name FROM runs"
            " JOIN pipeline_runs ON pipeline_runs.id = runs.pipeline_run_id"
            " WHERE runs.key IS NOT NULL AND {} ORDER BY runs.started_at DESC, runs.id DESC LIMIT ?"
        )
        for condition, args in (
            ("runs.node_id = ?", (node,)),
            ("runs.module = ? AND runs.method = ?", (module, method)),
        ):
            rows = self.conn.execute(sql.format(condition), (*args, EARLIER_LIMIT)).fetchall()
            if rows:
                return [(_decode(RunRecord, r), str(r["pipeline_name"])) for r in rows]
        return []

    def inputs_of(self, run_id: str) -> list[InputRecord]:
        """The input rows of a run in slot and position order."""
        rows = self.conn.execute(
            "SELECT * FROM run_inputs WHERE run_id = ? ORDER BY slot, position", (run_id,)
        )
        return [_decode(InputRecord, r) for r in rows]

    def run_by_id(self, run_id: str) -> RunRecord | None:
        """A run by its exact id."""
        row = self.conn.execute("SELECT * FROM runs WHERE id = ?", (run_id,)).fetchone()
        return _decode(RunRecord, row) if row else None

    def cancel_running(self, pipeline_run_id: str, message: str) -> int:
        """Mark a pipeline run's ``running`` steps ``cancelled``; return how many."""
        with self._transaction():
            cursor = self.conn.execute(
                "UPDATE runs SET status = ?, ended_at = ?, error = ? "
                "WHERE pipeline_run_id = ? AND status = ?",
                (
                    Status.CANCELLED.value,
                    _encode("ended_at", now()),
                    message,
                    pipeline_run_id,
                    Status.RUNNING.value,
                ),
            )
            return cursor.rowcount

    def fail_stale(self, key: str, host: str) -> list[str]:
        """Fail this host's ``running`` runs of ``key`` (their process died); return their ids."""
        with self._transaction():
            ids = [
                r[0]
                for r in self.conn.execute(
                    "SELECT id FROM runs WHERE key = ? AND status = ? AND host = ?",
                    (key, Status.RUNNING.value, host),
                )
            ]
            for run_id in ids:
                self._update("runs", run_id, status=Status.FAILED.value, ended_at=now(), error=STALE_MESSAGE)
        return ids

    # -- helpers ---------------------------------------------------------------------------
    def _transaction(self) -> _Transaction:
        if self.read_only:
            raise ReadOnlyDatabase("a write transaction")
        return _Transaction(self.conn)

    def _insert(self, table: str, record: Any) -> None:
        names = _NAMES[type(record)]
        self.conn.execute(_insert_sql(table, names), [_encode(n, getattr(record, n)) for n in names])

    def _update(self, table: str, row_id: str, *, only_running: bool = False, **values: Any) -> int:
        assignments = ", ".join(f"{k} = ?" for k in values)
        guard = " AND status = ?" if only_running else ""
        cursor = self.conn.execute(
            f"UPDATE {table} SET {assignments} WHERE id = ?{guard}",
            [
                *(_encode(k, v) for k, v in values.items()),
                row_id,
                *([Status.RUNNING.value] if only_running else []),
            ],
        )
        return cursor.rowcount


class _Transaction:
    """``BEGIN IMMEDIATE`` … ``COMMIT``, or ``ROLLBACK`` on an exception."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn

    def __enter__(self) -> None:
        try:
            self.conn.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as exc:
            raise InfraError(
                f"the lineage database is unavailable: {exc}",
                f"another process held its write lock for over {BUSY_TIMEOUT_S} s, or the file is unreadable",
            ) from None

    def __exit__(self, exc_type: object, *_: object) -> None:
        self.conn.execute("ROLLBACK" if exc_type else "COMMIT")
