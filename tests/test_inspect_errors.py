"""Every user mistake of the inspection and care commands: one error line, one hint, its exit code."""

from __future__ import annotations

from dataclasses import replace

import pytest

from tests.conftest import Proj
from tests.test_lineage_query import T0, _hash, _run
from wfc.lineage.db import open_database
from wfc.lineage.records import OutputRecord, PipelineRunRecord
from wfc.lineage.sqla import SqlAlchemyLineage


@pytest.fixture
def recorded(fake_env: Proj) -> Proj:
    """A project whose database holds a two-output run, a failed run and a cancelled one."""
    db = open_database(f"sqlite:///{fake_env.root / '.wfc' / 'wfc.db'}")
    lineage = SqlAlchemyLineage(db)
    lineage.create_pipeline_run(PipelineRunRecord("p-1", "probe", _hash(3), "{}", "completed", T0, "0"))
    two = _run(1, "p-1", "split", log_dir=None)
    lineage.record_cached(
        two,
        [],
        [
            OutputRecord(two.id, "left", "l.txt", _hash(7), 1, "file"),
            OutputRecord(two.id, "right", "r.txt", _hash(8), 1, "file"),
        ],
    )
    lineage.record_cached(replace(_run(2, "p-1", "probe"), status="failed", error="boom"), [], [])
    lineage.record_cached(
        replace(_run(3, "p-1", "probe"), status="cancelled", error="cancelled by user"), [], []
    )
    db.engine.dispose()
    return fake_env


def err(proc_stderr: str) -> tuple[str, str]:
    lines = proc_stderr.strip().splitlines()
    assert len(lines) == 2, proc_stderr
    return lines[0], lines[1]


def test_unknown_and_ambiguous_runs(recorded: Proj) -> None:
    for argv in (["show", "r-nope"], ["logs", "r-nope"], ["lineage", "r-nope"], ["export", "r-nope", "x"]):
        proc = recorded.wfc(*argv)
        assert proc.returncode == 2, argv
        assert err(proc.stderr) == (
            "error: no run 'r-nope'",
            "hint: list runs with `wfc runs --steps`; step run ids start with r-",
        )
    proc = recorded.wfc("show", "r-0")
    assert err(proc.stderr) == ("error: run id 'r-0' is ambiguous", "hint: give more characters of the id")
    proc = recorded.wfc("show", "last:ghost")
    assert err(proc.stderr) == (
        "error: no run of step 'ghost'",
        "hint: name a step as NODE or NODE[SAMPLE]; list them with `wfc runs --steps`",
    )
    proc = recorded.wfc("runs", "p-9")
    assert err(proc.stderr) == (
        "error: no pipeline run 'p-9'",
        "hint: list pipeline runs with `wfc runs`; their ids start with p-",
    )


def test_bad_filters_and_formats(recorded: Proj) -> None:
    proc = recorded.wfc("runs", "--status", "done")
    assert proc.returncode == 2
    assert err(proc.stderr) == (
        "error: unknown status 'done'",
        "hint: statuses: running, completed, cached, failed, cancelled",
    )
    proc = recorded.wfc("runs", "--since", "yesterday")
    assert err(proc.stderr) == (
        "error: bad --since 'yesterday'",
        "hint: give a duration such as 30m, 2h, 7d, or a date such as 2026-11-01",
    )
    proc = recorded.wfc("lineage", "r-00000000000000000000000001", "--format", "svg")
    assert proc.returncode == 2
    assert err(proc.stderr) == ("error: unknown format 'svg'", "hint: formats: tree, json, dot")


def test_export_mistakes(recorded: Proj) -> None:
    two, failed = "r-00000000000000000000000001", "r-00000000000000000000000002"
    proc = recorded.wfc("export", two, "out.txt")
    assert proc.returncode == 2
    assert err(proc.stderr) == (
        f"error: run {two} has several outputs: say which slot",
        "hint: slots: left, right",
    )
    proc = recorded.wfc("export", two, "lft", "out.txt")
    assert err(proc.stderr) == (
        f"error: run {two} has no output slot 'lft' (did you mean 'left'?)",
        "hint: slots: left, right",
    )
    proc = recorded.wfc("export", failed, "out.txt")
    assert err(proc.stderr) == (
        f"error: run {failed} has no outputs (failed)",
        "hint: export from a completed or cached run",
    )
    proc = recorded.wfc("export", two, "left", "a", "b")
    assert err(proc.stderr) == (
        "error: export takes [SLOT] DEST",
        "hint: e.g. wfc export RUN summary ./out.json",
    )
    proc = recorded.wfc("export", two, "left", "out.txt")
    assert proc.returncode == 1  # the object was never stored
    assert err(proc.stderr) == (
        f"error: object {_hash(7)} is missing from the store",
        "hint: re-run the step that made it",
    )


def test_logs_of_a_run_that_never_started(recorded: Proj) -> None:
    cancelled = "r-00000000000000000000000003"
    proc = recorded.wfc("logs", cancelled)
    assert proc.returncode == 2
    assert err(proc.stderr) == (
        f"error: run {cancelled} has no stdout log (cancelled: cancelled by user)",
        f"hint: logs exist for runs that executed; see `wfc show {cancelled}`",
    )


def test_why_and_inspect_mistakes(recorded: Proj) -> None:
    proc = recorded.wfc("why", "pipeline.json", "--node", "prob")
    assert proc.returncode == 2
    assert err(proc.stderr) == (
        "error: pipeline.json: no method node 'prob' (did you mean 'probe'?)",
        "hint: nodes: probe",
    )
    proc = recorded.wfc("why", "pipeline.json", "--node", "probe", "--sample", "s9")
    assert err(proc.stderr) == (
        "error: pipeline.json: node 'probe' has no step with sample 's9'",
        "hint: its steps: probe[s1], probe[s2]",
    )
    proc = recorded.wfc("inspect", "missing.json", "--check")
    assert proc.returncode == 2 and err(proc.stderr)[0].startswith("error: ")
    assert "missing.json" in err(proc.stderr)[0]


def test_cache_pin_unknown_run_and_verbose_traceback(recorded: Proj) -> None:
    proc = recorded.wfc("cache", "pin", "r-nope")
    assert proc.returncode == 2 and err(proc.stderr)[0] == "error: no run 'r-nope'"
    loud = recorded.wfc("show", "r-nope", "--verbose")
    assert loud.returncode == 2 and "Traceback (most recent call last)" in loud.stderr
    assert loud.stderr.strip().splitlines()[-2] == "error: no run 'r-nope'"


def test_json_mode_errors_are_documents(recorded: Proj) -> None:
    proc = recorded.wfc("show", "r-nope", "--json")
    assert proc.returncode == 2 and proc.stderr == ""
    assert '"error": "no run \'r-nope\'"' in proc.stdout and '"exit_code": 2' in proc.stdout
