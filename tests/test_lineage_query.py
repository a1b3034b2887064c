"""The read side of the lineage database: closures in a bounded number of queries whatever the
depth, ``last:STEP`` references, pins and pruning, and the v1 -> v2 migration."""

from __future__ import annotations

import sqlite3
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event

from wfc.errors import UsageError
from wfc.lineage.db import Database, open_database
from wfc.lineage.query import closure, find_run, pin, prune, referenced, unpin
from wfc.lineage.records import InputRecord, OutputRecord, PipelineRunRecord, RunRecord
from wfc.lineage.schema import V1_TABLES, Base
from wfc.lineage.sqla import SqlAlchemyLineage

T0 = datetime(2026, 1, 1)


def _hash(n: int) -> str:
    return f"blake3:{n:064x}"


def _run(i: int, pr: str, node: str, **kw: Any) -> RunRecord:
    fields: dict[str, Any] = {
        "id": f"r-{i:026d}",
        "pipeline_run_id": pr,
        "node_id": node,
        "sample": None,
        "variant": None,
        "members": None,
        "module": "m",
        "method": "x",
        "code_hash": _hash(1),
        "contract_hash": _hash(2),
        "params": {},
        "env_name": "python",
        "env_digest": "sha256:" + "0" * 64,
        "key": _hash(10_000 + i),
        "status": "completed",
        "started_at": T0 + timedelta(seconds=i),
        "ended_at": T0 + timedelta(seconds=i),
        **kw,
    }
    return RunRecord(**fields)


def chain_db(path: Path, depth: int, pr_id: str = "p-1", name: str = "chain") -> tuple[Database, list[str]]:
    """A pipeline run whose steps form a chain ``n0 <- n1 <- ... <- n(depth-1)`` from sample s."""
    db = open_database(f"sqlite:///{path}")
    lineage = SqlAlchemyLineage(db)
    started = T0 + timedelta(days=0 if pr_id == "p-1" else 1)
    lineage.create_pipeline_run(PipelineRunRecord(pr_id, name, _hash(3), "{}", "completed", started, "0"))
    ids: list[str] = []
    base = len(path.name) * 1000 + (0 if pr_id == "p-1" else 500)
    for i in range(depth):
        run = _run(base + i, pr_id, f"n{i}")
        source: dict[str, Any] = (
            {"source_run_id": ids[-1], "source_slot": "out"}
            if ids
            else {"sample_name": "s", "sample_version": 1}
        )
        lineage.record_cached(
            run,
            [InputRecord(run.id, "data", 0, _hash(base + i + 50_000), "file", **source)],
            [OutputRecord(run.id, "out", "out.txt", _hash(base + i + 50_001), 3, "file")],
        )
        ids.append(run.id)
    return db, ids


def _count_queries(db: Database) -> list[str]:
    seen: list[str] = []  # the queries (transaction statements such as BEGIN are not queries)
    event.listen(
        db.engine,
        "before_cursor_execute",
        lambda *a: seen.append(a[2]) if a[2].lstrip().startswith(("SELECT", "WITH")) else None,
    )
    return seen


@pytest.mark.parametrize("down", [False, True])
def test_a_closure_costs_the_same_queries_at_any_depth(tmp_path: Path, down: bool) -> None:
    counts = []
    for depth in (3, 400):
        db, ids = chain_db(tmp_path / f"d{depth}.db", depth)
        start = find_run(db, ids[0] if down else ids[-1])
        queries = _count_queries(db)
        runs, inputs = closure(db, start, down=down)
        assert {r.id for r in runs} == set(ids)
        assert len(inputs) == depth
        counts.append(len(queries))
        db.engine.dispose()
    assert counts[0] == counts[1] == 2
    # the answer is one recursive query away, not one query per node
    assert all("WITH RECURSIVE" in q for q in queries)


def test_find_run_by_prefix_and_last_step(tmp_path: Path) -> None:
    db, ids = chain_db(tmp_path / "x.db", 3)
    assert find_run(db, ids[1]).id == ids[1]
    assert find_run(db, "last:n2").id == ids[2]
    with pytest.raises(UsageError, match="run id 'r-' is ambiguous"):
        find_run(db, "r-")
    with pytest.raises(UsageError, match="no run 'r-zz'"):
        find_run(db, "r-zz")
    with pytest.raises(UsageError, match=r"no run of step 'n9\[s1\]'"):
        find_run(db, "last:n9[s1]")


def test_keep_last_pins_and_prune(tmp_path: Path) -> None:
    path = tmp_path / "k.db"
    db, old = chain_db(path, 2, "p-1")
    db.engine.dispose()
    db, _ = chain_db(path, 2, "p-2")
    kept = referenced(db, 1)["file"]
    assert _hash(len(path.name) * 1000 + 500 + 50_001) in kept  # p-2's first output
    assert _hash(len(path.name) * 1000 + 50_001) not in kept  # p-1's, not pinned
    assert pin(db, old[0], "paper") and not pin(db, old[0], "again")
    assert _hash(len(path.name) * 1000 + 50_001) in referenced(db, 1)["file"]
    assert prune(db, 1) == 1  # old[1]: not in the newest pipeline run, not pinned
    assert _hash(len(path.name) * 1000 + 1 + 50_001) not in referenced(db, None)["file"]
    assert unpin(db, old[0]) and not unpin(db, old[0])


def test_a_v3_database_gains_the_reproducibility_columns(tmp_path: Path) -> None:
    path = tmp_path / "v3.db"
    open_database(f"sqlite:///{path}").engine.dispose()
    with sqlite3.connect(path) as raw:  # back to the v3 shape: runs without the v4 columns
        for column in ("resources", "code_tree", "env_tree", "reproduces_id"):
            raw.execute(f"ALTER TABLE runs DROP COLUMN {column}")
        raw.execute("UPDATE wfc_meta SET value = '3' WHERE key = 'schema_version'")
    open_database(f"sqlite:///{path}").engine.dispose()
    with sqlite3.connect(path) as raw:
        assert raw.execute("SELECT value FROM wfc_meta").fetchall() == [("4",)]
        columns = {r[1] for r in raw.execute("PRAGMA table_info(runs)")}
    assert {"resources", "code_tree", "env_tree", "reproduces_id"} <= columns


def test_a_v1_database_is_migrated_to_v2(tmp_path: Path) -> None:
    path = tmp_path / "v1.db"
    from sqlalchemy import create_engine

    engine = create_engine(f"sqlite:///{path}")
    Base.metadata.create_all(engine, tables=[Base.metadata.tables[t] for t in V1_TABLES])
    with sqlite3.connect(path) as raw:
        raw.execute("DROP INDEX ix_runs_cache_source")  # v1 had no such index
        raw.execute("INSERT INTO wfc_meta (key, value) VALUES ('schema_version', '1')")
    engine.dispose()
    open_database(f"sqlite:///{path}").engine.dispose()
    with sqlite3.connect(path) as raw:
        assert raw.execute("SELECT value FROM wfc_meta").fetchall() == [("4",)]  # v2, v3, then v4
        names = {r[0] for r in raw.execute("SELECT name FROM sqlite_master")}
    assert {"pins", "pruned_runs", "ix_runs_cache_source"} <= names
