"""The lineage database: WAL SQLite by default, versioned schema, sortable unique ids, any URL."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from wfc.errors import UsageError
from wfc.lineage.db import MIGRATIONS, open_database
from wfc.lineage.ids import PIPELINE_PREFIX, STEP_PREFIX, new_id
from wfc.lineage.schema import SCHEMA_VERSION
from wfc.model.status import Status


def test_sqlite_defaults_wal_busy_timeout_and_schema_version(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'db' / 'wfc.db'}"
    db = open_database(url)
    with db.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == 60000
    with sqlite3.connect(tmp_path / "db" / "wfc.db") as raw:
        assert raw.execute("SELECT value FROM wfc_meta WHERE key='schema_version'").fetchone() == (
            str(SCHEMA_VERSION),)
        tables = {r[0] for r in raw.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert {"pipeline_runs", "runs", "run_inputs", "run_outputs", "samples", "wfc_meta"} <= tables
    assert MIGRATIONS[-1][0] == SCHEMA_VERSION
    open_database(url)  # reopening an up-to-date database migrates nothing


def test_newer_schema_is_refused(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'wfc.db'}"
    open_database(url)
    with sqlite3.connect(tmp_path / "wfc.db") as raw:
        raw.execute("UPDATE wfc_meta SET value='99' WHERE key='schema_version'")
    with pytest.raises(UsageError, match="the database schema is version 99, newer than this wfc understands"):
        open_database(url)


def test_ids_are_prefixed_sortable_and_unique() -> None:
    ids = [new_id(STEP_PREFIX) for _ in range(2000)]
    assert len(set(ids)) == 2000
    assert all(i.startswith("r-") and len(i) == 28 for i in ids)
    later = new_id(PIPELINE_PREFIX)
    assert later.startswith("p-") and later[2:] > ids[0][2:]


def test_statuses_are_exactly_the_five() -> None:
    assert [s.value for s in Status] == ["running", "completed", "cached", "failed", "cancelled"]
