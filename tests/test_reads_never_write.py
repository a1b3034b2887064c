"""Commands that only read write nothing: ``validate``, ``plan``, ``why`` (and ``runs``, ``show``,
``lineage``, ``cache stats``) leave the database file, its WAL, the store and ``samples.lock.json``
exactly as they were; a corrupt output is reported, not quarantined; a missing database is not
created; a sample known only from ``samples.lock.json`` is planned from the lock, not restored.

The project's runs are recorded through the lineage protocol itself (no Docker); the last test
does the same on real runs and is marked ``docker``.
"""

from __future__ import annotations

import json
import os
import sqlite3
import time
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path

import pytest

from tests.conftest import Proj, probe_pipeline, run_pipeline
from wfc.errors import InfraError, UsageError
from wfc.lineage import open_lineage
from wfc.lineage.db import database, open_database
from wfc.lineage.ids import PIPELINE_PREFIX, STEP_PREFIX, new_id
from wfc.lineage.query import counts, pin
from wfc.lineage.records import (
    InputRecord,
    OutputRecord,
    PipelineRunRecord,
    ReadOnlyDatabase,
    RunRecord,
    SampleRecord,
    now,
)
from wfc.lineage.sqla import SqlAlchemyLineage
from wfc.lineage.sqlite import SqliteLineage
from wfc.model.pipeline import load_pipeline
from wfc.model.status import Status
from wfc.ops.why import why
from wfc.pipeline.plan import plan
from wfc.pipeline.validate import validate
from wfc.project import Project
from wfc.samples import add_sample
from wfc.step.resolve import Resolver
from wfc.store.local import ObjectCorrupt, ObjectStore, StoreReadOnly

Snapshot = dict[str, tuple[bytes, int]]


def snapshot(root: Path) -> Snapshot:
    """Every file under ``.wfc`` (database, WAL, store objects…) and ``samples.lock.json``: bytes
    and modification time."""
    files = [p for p in (root / ".wfc").rglob("*") if p.is_file()] + [root / "samples.lock.json"]
    return {
        str(p.relative_to(root)): (p.read_bytes(), p.stat().st_mtime_ns) for p in sorted(files) if p.is_file()
    }


def _record_run(project: Project, node: str, sample: str) -> tuple[str, str]:
    """Record a completed run of a step (with its output in the store), as a run would."""
    pipeline, raw = load_pipeline(project.root / "pipeline.json")
    with closing(open_lineage(project.database_url)) as lineage:
        step = Resolver(project, pipeline, lineage).resolve(node, sample)
        digest = project.object_store().put_bytes(f"made from {sample}\n".encode())
        pr = PipelineRunRecord(
            new_id(PIPELINE_PREFIX),
            pipeline.name,
            "blake3:" + "0" * 64,
            raw.decode(),
            Status.COMPLETED,
            now(),
            "test",
        )
        lineage.create_pipeline_run(pr)
        run = RunRecord(
            id=new_id(STEP_PREFIX),
            pipeline_run_id=pr.id,
            node_id=node,
            sample=sample,
            variant=None,
            members=None,
            module=step.method.module,
            method=step.method.name,
            code_hash=step.method.code_hash,
            contract_hash=step.method.contract_hash,
            params=step.params,
            env_name=step.env_name,
            env_digest=step.env_digest,
            key=step.key,
            status=Status.RUNNING,
            started_at=now(),
        )
        inputs = [
            InputRecord(
                run.id, i.slot, i.position, i.digest, i.kind, None, None, i.sample_name, i.sample_version
            )
            for i in step.inputs
        ]
        lineage.start_run(run, inputs)
        lineage.complete_run(
            run.id, [OutputRecord(run.id, "out", "out.txt", digest, 11, "file")], {}, (None, None)
        )
    return run.id, digest


@pytest.fixture
def recorded(fake_env: Proj) -> Iterator[tuple[Proj, str, str]]:
    """The fake-env project with samples s1, s2 and a completed run of ``probe[s1]``; yields the
    project, that run's id and its output's digest."""
    project = Project.load(fake_env.root)
    (fake_env.root / "s2.txt").write_text("beta\n")
    add_sample(project, "s2", fake_env.root / "s2.txt")
    run_id, digest = _record_run(project, "probe", "s1")
    assert not (fake_env.root / ".wfc" / "wfc.db-wal").exists()  # every writer has closed
    yield fake_env, run_id, digest


def _reads(proj: Proj) -> tuple[dict[str, tuple[str, str]], list[str]]:
    """Plan, why and validate through the library: step -> (status, reason); why's statuses."""
    project = Project.load(proj.root)
    path = proj.root / "pipeline.json"
    planned = {s.name: (s.status, s.reason) for s in plan(project, path)}
    explained = [f"{e.step}: {e.status}" for e in why(project, path, node="probe")]
    assert validate(project, path, {}) == []
    return planned, explained


def test_plan_why_and_validate_write_nothing(recorded: tuple[Proj, str, str]) -> None:
    proj, run_id, _ = recorded
    before = snapshot(proj.root)
    planned, explained = _reads(proj)
    assert planned == {
        "probe[s1]": ("cached", f"outputs of run {run_id}"),
        "probe[s2]": ("will run", "no earlier run with this key"),
    }
    assert explained == ["probe[s1]: cached", "probe[s2]: will run"]
    assert snapshot(proj.root) == before


def test_the_cli_reads_write_nothing(recorded: tuple[Proj, str, str]) -> None:
    proj, run_id, _ = recorded
    before = snapshot(proj.root)
    plan_out = proj.wfc("plan", "pipeline.json", check=True)
    assert "1 cached, 1 will run" in plan_out.stderr
    assert proj.wfc("why", "pipeline.json", "--node", "probe", "--sample", "s1", check=True).returncode == 0
    assert proj.wfc("validate", "pipeline.json", check=True).returncode == 0
    for command in (["runs"], ["show", run_id], ["lineage", run_id], ["cache", "stats"]):
        proj.wfc(*command, check=True)
    assert snapshot(proj.root) == before


def test_a_corrupt_output_is_reported_not_quarantined(recorded: tuple[Proj, str, str]) -> None:
    proj, run_id, digest = recorded
    store = Project.load(proj.root).object_store()
    rotten = store.path(digest)
    rotten.chmod(0o644)
    rotten.write_bytes(b"bit rot")
    before = snapshot(proj.root)
    planned, explained = _reads(proj)
    status, reason = planned["probe[s1]"]
    assert status == "will run"
    assert reason.startswith(f"outputs missing: object {digest} is corrupt (its bytes hash to blake3:")
    assert not reason.endswith("moved to quarantine")
    assert explained[0] == "probe[s1]: will run"
    [explanation] = why(Project.load(proj.root), proj.root / "pipeline.json", node="probe", sample="s1")
    assert explanation.reasons[0].startswith(
        f"same key as run {run_id}, but outputs missing: object {digest}"
    )
    cli = proj.wfc("plan", "pipeline.json", check=True)
    assert "outputs missing" in cli.stdout and "0 cached, 2 will run" in cli.stderr
    proj.wfc("why", "pipeline.json", "--node", "probe", check=True)
    assert snapshot(proj.root) == before
    assert rotten.read_bytes() == b"bit rot"
    assert not (proj.root / ".wfc" / "store" / "quarantine").exists()


def test_the_store_reader_and_verify_without_quarantine(tmp_path: Path) -> None:
    store = ObjectStore(tmp_path / "store")
    digest = store.put_bytes(b"good")
    store.path(digest).chmod(0o644)
    store.path(digest).write_bytes(b"evil")
    for check in (lambda: store.verify(digest, quarantine=False), lambda: store.reader().verify(digest)):
        with pytest.raises(ObjectCorrupt) as exc:
            check()
        assert (
            exc.value.message == f"object {digest} is corrupt (its bytes hash to {exc.value.message[-72:-1]})"
        )
        assert store.path(digest).is_file()
    with pytest.raises(StoreReadOnly, match="is open read-only: refused a write"):
        store.reader().put_bytes(b"new")
    with pytest.raises(StoreReadOnly, match="refused to quarantine"):
        store.reader().quarantine(digest)
    with pytest.raises(ObjectCorrupt, match="moved to quarantine"):
        store.verify(digest)  # the default, as run-step uses it
    assert not store.path(digest).exists()


def test_plan_and_validate_never_create_the_database(fake_env: Proj) -> None:
    db = fake_env.root / ".wfc" / "wfc.db"
    db.unlink()
    (fake_env.root / "samples.lock.json").unlink()
    fake_env.write_pipeline(probe_pipeline(samples=["s1"]))
    plan_out = fake_env.wfc("plan", "pipeline.json")
    assert (plan_out.returncode, plan_out.stderr.splitlines()) == (
        2,
        ["error: unknown sample 's1'", "hint: register it with `wfc sample add s1 PATH`"],
    )
    checked = fake_env.wfc("validate", "pipeline.json")
    assert checked.returncode == 2
    assert checked.stderr.splitlines()[0].startswith(
        "error: pipeline.json: nodes[0].samples: unknown sample 's1'"
    )
    fake_env.wfc("why", "pipeline.json", "--node", "probe", "--sample", "s1")
    fake_env.wfc("runs", check=True)
    assert not db.exists() and not (fake_env.root / ".wfc" / "wfc.db-wal").exists()


def test_a_fresh_checkout_is_planned_from_the_sample_lock(recorded: tuple[Proj, str, str]) -> None:
    proj, _, _ = recorded
    project = Project.load(proj.root)
    path = proj.root / "pipeline.json"
    keys = {s.name: s.key for s in plan(project, path)}
    for name in ("wfc.db", "wfc.db-wal", "wfc.db-shm"):
        (proj.root / ".wfc" / name).unlink(missing_ok=True)  # a fresh checkout: no database
    before = snapshot(proj.root)
    fresh = plan(project, path)
    assert {s.name: (s.status, s.reason, s.key) for s in fresh} == {
        "probe[s1]": ("will run", "no earlier run with this key", keys["probe[s1]"]),
        "probe[s2]": ("will run", "no earlier run with this key", keys["probe[s2]"]),
    }
    assert validate(project, path, {}) == []
    assert proj.wfc("validate", "pipeline.json").returncode == 0
    assert snapshot(proj.root) == before and not (proj.root / ".wfc" / "wfc.db").exists()
    with closing(open_lineage(project.database_url)) as lineage:  # a run restores, to the same key
        pipeline, _ = load_pipeline(path)
        assert Resolver(project, pipeline, lineage).resolve("probe", "s1").key == keys["probe[s1]"]
        assert lineage.sample_version("s1") is not None


def test_a_locked_sample_whose_source_is_gone_or_changed(recorded: tuple[Proj, str, str]) -> None:
    proj, _, _ = recorded
    for name in ("wfc.db", "wfc.db-wal", "wfc.db-shm"):
        (proj.root / ".wfc" / name).unlink(missing_ok=True)
    project = Project.load(proj.root)
    path = proj.root / "pipeline.json"
    (proj.root / "s2.txt").write_text("beta, longer now\n")
    with pytest.raises(UsageError) as exc:
        plan(project, path)
    assert (exc.value.message, exc.value.hint) == (
        "sample s2@1: s2.txt no longer has the content recorded in samples.lock.json",
        "restore the original file, or register the new content: wfc sample add s2 s2.txt",
    )
    (proj.root / "s2.txt").unlink()
    problems = validate(project, path, {})
    assert [(p.path, p.message, p.hint) for p in problems] == [
        (
            "nodes[0].samples",
            "sample s2@1 is not registered here and its source s2.txt is missing",
            "restore the file, or register the sample again: wfc sample add s2 PATH",
        )
    ]
    assert not (proj.root / ".wfc" / "wfc.db").exists()


# -- the lineage database opened read-only ----------------------------------------------------


def _sample(name: str) -> SampleRecord:
    return SampleRecord(name, 0, "blake3:" + "0" * 64, "file", "x", 1, "x", now())


def test_read_only_sqlite_refuses_writes_and_changes_nothing(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'wfc.db'}"
    with closing(open_lineage(url)) as lineage:
        lineage.add_sample_version(_sample("s1"))
    before = {p.name: (p.read_bytes(), p.stat().st_mtime_ns) for p in tmp_path.iterdir()}
    fast = open_lineage(url, read_only=True)
    assert isinstance(fast, SqliteLineage) and fast.sample_version("s1") is not None
    with pytest.raises(ReadOnlyDatabase, match=r"^the lineage database is open read-only: refused a write"):
        fast.add_sample_version(_sample("s2"))
    with pytest.raises(sqlite3.OperationalError, match="attempt to write a readonly database"):
        fast.conn.execute("DELETE FROM samples")  # the database itself refuses too
    fast.close()
    slow = SqlAlchemyLineage(open_database(url, read_only=True))
    assert [s.name for s in slow.list_samples()] == ["s1"]
    with pytest.raises(ReadOnlyDatabase, match="refused a change to the records"):
        slow.add_sample_version(_sample("s2"))
    with pytest.raises(ReadOnlyDatabase, match="refused an UPDATE"):
        slow.cancel_running("p-x", "stop")
    slow.close()
    with database(url, read_only=True) as db:
        assert counts(db)["sample_bytes"] == 1
        with pytest.raises(ReadOnlyDatabase):
            pin(db, "r-x", "keep")
    assert {p.name: (p.read_bytes(), p.stat().st_mtime_ns) for p in tmp_path.iterdir()} == before


def test_reads_do_not_wait_for_a_writer(recorded: tuple[Proj, str, str]) -> None:
    """A read-only open takes no write lock (no ``BEGIN IMMEDIATE``): with a writer holding it, a
    plan still answers at once instead of waiting out the busy timeout."""
    proj, _, _ = recorded
    writer = sqlite3.connect(proj.root / ".wfc" / "wfc.db", isolation_level=None)
    writer.execute("BEGIN IMMEDIATE")
    try:
        started = time.monotonic()
        planned, _ = _reads(proj)
        with database(Project.load(proj.root).database_url, read_only=True) as db:
            assert counts(db)["by_status"] == {Status.COMPLETED: 1}
        assert planned["probe[s1]"][0] == "cached"
        assert time.monotonic() - started < 10
    finally:
        writer.execute("ROLLBACK")
        writer.close()


def test_read_only_never_creates_a_database_and_reads_it_as_empty(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'sub' / 'wfc.db'}"
    with closing(open_lineage(url, read_only=True)) as lineage:
        assert lineage.list_samples() == [] and lineage.find_completed("blake3:" + "0" * 64) is None
        with pytest.raises(ReadOnlyDatabase):
            lineage.add_sample_version(_sample("s1"))
    with database(url, read_only=True) as db:
        assert counts(db)["by_status"] == {}
    assert os.listdir(tmp_path) == []
    hint = "check WFC_DATABASE_URL and that its directory can be created"
    for bad, reason in (
        ("/dev/null/wfc.db", "not a directory: /dev/null"),
        (str(tmp_path), f"not a regular file: {tmp_path}"),
    ):
        with pytest.raises(InfraError) as exc:
            open_lineage(f"sqlite:///{bad}", read_only=True)
        assert (exc.value.message, exc.value.hint) == (
            f"database unreachable (sqlite:///{bad}): {reason}",
            hint,
        )


def test_read_only_does_not_migrate_a_database_that_is_behind(tmp_path: Path) -> None:
    path = tmp_path / "wfc.db"
    open_database(f"sqlite:///{path}").engine.dispose()
    with sqlite3.connect(path) as conn:
        conn.execute("UPDATE wfc_meta SET value = '1' WHERE key = 'schema_version'")
    conn.close()
    with pytest.raises(UsageError) as exc:
        open_lineage(f"sqlite:///{path}", read_only=True)
    assert (exc.value.message, exc.value.hint) == (
        "the database schema is version 1, older than this wfc's (4); "
        "a command that only reads does not upgrade it",
        "upgrade it with `wfc doctor` (or any command that records, such as `wfc run-step`)",
    )
    with sqlite3.connect(path) as conn:
        assert conn.execute("SELECT value FROM wfc_meta").fetchall() == [("1",)]
    conn.close()


def test_read_only_postgresql(postgres_url: str) -> None:
    from sqlalchemy import create_engine, text
    from sqlalchemy.exc import InternalError

    engine = create_engine(postgres_url, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:  # a database of its own, without wfc tables
        conn.execute(text("CREATE DATABASE wfc_read_only"))
    engine.dispose()
    url = postgres_url.replace("/wfc?", "/wfc_read_only?")
    with closing(open_lineage(url, read_only=True)) as lineage:
        assert lineage.list_samples() == []  # no tables: read as empty, none created
    plain = create_engine(url)
    with plain.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM pg_tables WHERE tablename = 'wfc_meta'")).scalar() == 0
    plain.dispose()
    with closing(open_lineage(url)) as lineage:
        lineage.add_sample_version(_sample("s1"))
    with closing(open_lineage(url, read_only=True)) as lineage:
        assert [s.name for s in lineage.list_samples()] == ["s1"]
        with pytest.raises(ReadOnlyDatabase):
            lineage.add_sample_version(_sample("s2"))
    with database(url, read_only=True) as db, db.engine.connect() as conn, pytest.raises(InternalError):
        conn.execute(text("DELETE FROM samples"))  # the server refuses too


@pytest.mark.docker
def test_reads_after_real_runs_write_nothing(chained: Proj) -> None:
    done = run_pipeline(chained)
    ids = done["ids"]
    doc = json.loads(chained.wfc("show", ids["a[s1]"], "--json", check=True).stdout)
    rotten = Project.load(chained.root).object_store().path(doc["outputs"][0]["hash"])
    rotten.chmod(0o644)
    rotten.write_bytes(b"bit rot")
    before = snapshot(chained.root)
    planned = chained.wfc("plan", "pipeline.json", "--json", check=True)
    steps = {s["name"]: s["status"] for s in json.loads(planned.stdout)["steps"]}
    assert steps == {"a[s1]": "will run", "a[s2]": "cached", "b[s1]": "cached", "b[s2]": "cached"}
    for command in (
        ["why", "pipeline.json", "--node", "a"],
        ["plan", "pipeline.json", "--explain"],
        ["validate", "pipeline.json"],
        ["runs"],
        ["show", ids["b[s2]"]],
        ["lineage", ids["b[s2]"]],
        ["logs", ids["b[s2]"]],
        ["report", done["pipeline_run"], "-o", str(chained.root.parent / "report.html")],
    ):
        chained.wfc(*command, check=True)
    assert snapshot(chained.root) == before
    assert not (chained.root / ".wfc" / "store" / "quarantine").exists()
