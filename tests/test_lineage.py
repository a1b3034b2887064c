"""The lineage database: WAL SQLite by default, versioned schema, sortable unique ids, any URL."""

from __future__ import annotations

import json
import sqlite3
from dataclasses import replace
from datetime import datetime
from pathlib import Path

import pytest

from wfc.errors import UsageError
from wfc.lineage import open_lineage
from wfc.lineage.db import MIGRATIONS, open_database
from wfc.lineage.ids import PIPELINE_PREFIX, STEP_PREFIX, new_id
from wfc.lineage.records import (
    HOST,
    SCHEMA_VERSION,
    InputRecord,
    Lineage,
    OutputRecord,
    PipelineRunRecord,
    RunRecord,
    SampleRecord,
)
from wfc.lineage.sqla import SqlAlchemyLineage
from wfc.lineage.sqlite import SqliteLineage
from wfc.model.status import Status


def test_sqlite_defaults_wal_busy_timeout_and_schema_version(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'db' / 'wfc.db'}"
    db = open_database(url)
    with db.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == 60000
    with sqlite3.connect(tmp_path / "db" / "wfc.db") as raw:
        assert raw.execute("SELECT value FROM wfc_meta WHERE key='schema_version'").fetchone() == (
            str(SCHEMA_VERSION),
        )
        tables = {r[0] for r in raw.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert {"pipeline_runs", "runs", "run_inputs", "run_outputs", "samples", "wfc_meta"} <= tables
    assert MIGRATIONS[-1][0] == SCHEMA_VERSION
    open_database(url)  # reopening an up-to-date database migrates nothing


def test_newer_schema_is_refused(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'wfc.db'}"
    open_database(url)
    with sqlite3.connect(tmp_path / "wfc.db") as raw:
        raw.execute("UPDATE wfc_meta SET value='99' WHERE key='schema_version'")
    with pytest.raises(
        UsageError, match="the database schema is version 99, newer than this wfc understands"
    ):
        open_database(url)


def test_ids_are_prefixed_sortable_and_unique() -> None:
    ids = [new_id(STEP_PREFIX) for _ in range(2000)]
    assert len(set(ids)) == 2000
    assert all(i.startswith("r-") and len(i) == 28 for i in ids)
    later = new_id(PIPELINE_PREFIX)
    assert later.startswith("p-") and later[2:] > ids[0][2:]


def test_statuses_are_exactly_the_five() -> None:
    assert [s.value for s in Status] == ["running", "completed", "cached", "failed", "cancelled"]


# -- the two implementations of the Lineage protocol write the same rows ------------------------


def _scenario(lineage: Lineage) -> None:
    t = datetime(2026, 1, 2, 3, 4, 5, 678901)
    sample, created = lineage.add_sample_version(
        SampleRecord("s1", 0, "blake3:" + "1" * 64, "file", "s1.csv", 5, "data/s1.csv", t)
    )
    assert created and sample.version == 1
    assert lineage.add_sample_version(replace(sample, version=0)) == (sample, False)
    assert lineage.add_sample_version(replace(sample, content_hash="blake3:" + "2" * 64))[0].version == 2
    lineage.create_pipeline_run(
        PipelineRunRecord("p-1", "demo", "blake3:" + "3" * 64, "{}", "running", t, "0.1")
    )
    run = RunRecord(
        "r-1",
        "p-1",
        "n",
        "s1",
        None,
        None,
        "m",
        "x",
        "c",
        "k",
        {"a": [1, 2]},
        "python",
        "sha256:e",
        "blake3:key",
        "running",
        t,
        pid=7,
        log_dir=".wfc/runs/r-1",
    )
    inputs = [InputRecord("r-1", "data", 0, "blake3:" + "1" * 64, "file", sample_name="s1", sample_version=1)]
    lineage.start_run(run, inputs)
    assert lineage.find_completed("blake3:key") is None
    outputs = [OutputRecord("r-1", "out", "out.txt", "blake3:" + "4" * 64, 3, "file")]
    lineage.complete_run("r-1", outputs, {"rows": 3}, ("blake3:o", "blake3:e"))
    found = lineage.find_completed("blake3:key")
    assert found is not None and found[0].status == "completed" and found[1] == outputs
    assert found[0].metrics == {"rows": 3} and found[0].params == {"a": [1, 2]}
    cached = replace(run, id="r-2", status="cached", cache_source_id="r-1", started_at=t, ended_at=t)
    lineage.record_cached(cached, [replace(inputs[0], run_id="r-2")], [replace(outputs[0], run_id="r-2")])
    lineage.start_run(replace(run, id="r-3", key="blake3:other"), [])
    assert lineage.fail_stale("blake3:other", HOST) == ["r-3"]
    lineage.start_run(replace(run, id="r-4", key="blake3:f"), [])
    lineage.fail_run("r-4", error="boom", tail="a\nboom", exit_code=2, logs=(None, "blake3:e"))
    lineage.fail_run(
        "r-4", error="late", tail=None, exit_code=9, logs=(None, None)
    )  # no longer running: kept
    lineage.start_run(replace(run, id="r-5", key="blake3:c"), [])
    assert lineage.cancel_running("p-1", "cancelled by user") == 1
    lineage.complete_run("r-5", [replace(outputs[0], run_id="r-5")], {}, (None, None))  # cancelled stays so
    assert [(r.id, r.status) for r in lineage.runs_of("p-1")] == [
        ("r-1", "completed"),
        ("r-2", "cached"),
        ("r-3", "failed"),
        ("r-4", "failed"),
        ("r-5", "cancelled"),
    ]
    assert lineage.runs_of("p-1")[3].error == "boom"
    lineage.finish_pipeline_run("p-1", Status.FAILED)
    assert lineage.has_pipeline_run("p-1") and not lineage.has_pipeline_run("p-2")
    assert [s.version for s in lineage.list_samples()] == [1, 2]


def _dump(path: Path) -> dict[str, list[tuple[object, ...]]]:
    out = {}
    with sqlite3.connect(path) as conn:
        for table in ("samples", "pipeline_runs", "runs", "run_inputs", "run_outputs"):
            cols = [r[1] for r in conn.execute(f"PRAGMA table_info({table})")]
            rows = []
            for row in conn.execute(f"SELECT * FROM {table} ORDER BY 1"):
                values = dict(zip(cols, row, strict=True))
                for key in ("params", "members", "metrics"):
                    if key in values and values[key] is not None:
                        values[key] = json.loads(values[key])
                if values.get("ended_at") is not None:
                    values["ended_at"] = "set"  # written by now(): equal up to the clock
                if table in ("samples", "run_inputs"):
                    del values["id"]  # autoincrement
                rows.append(tuple(sorted(values.items())))
            out[table] = rows
    return out


def test_sqlite_and_sqlalchemy_implementations_write_identical_rows(tmp_path: Path) -> None:
    url_a, url_b = f"sqlite:///{tmp_path / 'a.db'}", f"sqlite:///{tmp_path / 'b.db'}"
    via_sqla = SqlAlchemyLineage(open_database(url_a))
    open_database(url_b)  # create the schema, then use the standard-library driver
    via_sqlite = open_lineage(url_b)
    assert isinstance(via_sqlite, SqliteLineage)
    _scenario(via_sqla)
    _scenario(via_sqlite)
    assert _dump(tmp_path / "a.db") == _dump(tmp_path / "b.db")


def test_sqlite_driver_defers_to_sqlalchemy_for_missing_or_old_schemas(tmp_path: Path) -> None:
    assert SqliteLineage.open_current(str(tmp_path / "none.db")) is None
    open_database(f"sqlite:///{tmp_path / 'old.db'}")
    with sqlite3.connect(tmp_path / "old.db") as raw:
        raw.execute("UPDATE wfc_meta SET value='0' WHERE key='schema_version'")
    assert SqliteLineage.open_current(str(tmp_path / "old.db")) is None
    assert isinstance(open_lineage(f"sqlite:///{tmp_path / 'old.db'}"), SqlAlchemyLineage)  # migrated
    assert isinstance(open_lineage(f"sqlite:///{tmp_path / 'old.db'}"), SqliteLineage)
    with sqlite3.connect(tmp_path / "old.db") as raw:
        raw.execute("UPDATE wfc_meta SET value='99' WHERE key='schema_version'")
    with pytest.raises(UsageError, match="newer than this wfc"):
        open_lineage(f"sqlite:///{tmp_path / 'old.db'}")


def test_a_write_lock_held_too_long_is_an_infrastructure_error(tmp_path: Path) -> None:
    from wfc.errors import InfraError

    url = f"sqlite:///{tmp_path / 'wfc.db'}"
    open_database(url).engine.dispose()
    holder = sqlite3.connect(tmp_path / "wfc.db", isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    lineage = SqliteLineage.open_current(str(tmp_path / "wfc.db"))
    assert lineage is not None
    lineage.conn.execute("PRAGMA busy_timeout=100")
    with pytest.raises(InfraError, match="the lineage database is unavailable: database is locked"):
        lineage.finish_pipeline_run("p-x", Status.FAILED)
    holder.rollback()
    holder.close()
    lineage.close()
