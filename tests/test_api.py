"""The library API (``wfc.api``): a pipeline run from Python, watched through typed run events,
cancelled through a token; validate returning every problem of a document."""

from __future__ import annotations

import subprocess
import threading
import time
from typing import Any

import pytest

from tests.conftest import FIXTURES, Proj
from wfc import api
from wfc.model.status import Status
from wfc.pipeline.events import (
    PipelineFinished,
    PipelineStarted,
    RunEvent,
    StepFinished,
    StepLog,
    StepQueued,
    StepStarted,
)


def fan_gather(sleep: float = 0.0) -> dict[str, Any]:
    """samples s1..s3 -> probe (one step each) -> gather (one step over all three)."""
    return {
        "version": 1,
        "name": "fan",
        "nodes": [
            {"id": "data", "samples": ["s1", "s2", "s3"]},
            {"id": "probe", "method": "t/probe", "params": {"sleep": sleep}},
            {"id": "all", "method": "t/gather"},
        ],
        "links": [{"from": "data", "to": "probe.data"}, {"from": "probe", "to": "all.data", "gather": True}],
    }


@pytest.fixture
def fan_project(probe_project: Proj) -> Proj:
    probe_project.add_method("t/gather", FIXTURES / "methods" / "t" / "gather")
    (probe_project.root / "s3.txt").write_text("gamma\n")
    probe_project.wfc("sample", "add", "s3", "s3.txt", check=True)
    probe_project.write_pipeline(fan_gather())
    return probe_project


def _db_statuses(proj: Proj, pipeline_run: str) -> dict[str, str]:
    rows = proj.rows("SELECT node_id, sample, status FROM runs WHERE pipeline_run_id = ?", pipeline_run)
    return {f"{node}[{sample}]" if sample else node: status for node, sample, status in rows}


@pytest.mark.docker
def test_run_pipeline_events_follow_the_dag_and_match_the_record(fan_project: Proj) -> None:
    project = api.open_project(fan_project.root)
    events: list[RunEvent] = []
    outcome = api.run_pipeline(project, fan_project.root / "pipeline.json", cores=2, on_event=events.append)

    assert outcome.status is Status.COMPLETED
    assert isinstance(events[0], PipelineStarted) and events[0].pipeline_run == outcome.pipeline_run
    assert isinstance(events[-1], PipelineFinished) and events[-1].status is Status.COMPLETED
    queued = [e.step for e in events if isinstance(e, StepQueued)]
    assert queued == ["probe[s1]", "probe[s2]", "probe[s3]", "all"]
    started = [e.step for e in events if isinstance(e, StepStarted)]
    finished = [e for e in events if isinstance(e, StepFinished)]
    assert sorted(started) == sorted(queued)  # one started event per executed step
    assert sorted(e.step for e in finished) == sorted(queued)  # and one finished event
    order = [e.step for e in events if isinstance(e, StepStarted | StepFinished)]
    gather_started = order.index("all")
    for sample in ("s1", "s2", "s3"):  # dependency order: every member finished before the gather starts
        assert max(i for i, name in enumerate(order) if name == f"probe[{sample}]") < gather_started
    db = _db_statuses(fan_project, outcome.pipeline_run)
    assert {e.step: str(e.status) for e in finished} == db == {name: "completed" for name in queued}
    assert {e.step: e.run_id for e in finished} == {s.name: s.run_id for s in outcome.steps}

    again: list[RunEvent] = []
    second = api.run_pipeline(project, fan_project.root / "pipeline.json", cores=2, on_event=again.append)
    finishes = [e for e in again if isinstance(e, StepFinished)]
    assert [e.status for e in finishes] == [Status.CACHED] * 4
    assert not [e for e in again if isinstance(e, StepStarted)]  # Snakemake ran nothing
    assert _db_statuses(fan_project, second.pipeline_run) == {name: "cached" for name in queued}


@pytest.mark.docker
def test_log_lines_of_a_running_step_when_asked(fan_project: Proj) -> None:
    project = api.open_project(fan_project.root)
    events: list[RunEvent] = []
    api.run_pipeline(project, fan_project.root / "pipeline.json", logs=True, on_event=events.append)
    lines = [e for e in events if isinstance(e, StepLog)]
    assert {e.step for e in lines} >= {"probe[s1]", "probe[s2]", "probe[s3]"}
    assert all("\n" not in e.line for e in lines)


@pytest.mark.docker
def test_cancel_token_stops_the_run_like_ctrl_c(fan_project: Proj) -> None:
    fan_project.write_pipeline(fan_gather(sleep=60.0))
    project = api.open_project(fan_project.root)
    cancel = threading.Event()
    events: list[RunEvent] = []

    def watch(event: RunEvent) -> None:
        events.append(event)
        if isinstance(event, StepStarted):
            threading.Timer(3.0, cancel.set).start()  # while the container runs

    started = time.monotonic()
    outcome = api.run_pipeline(
        project, fan_project.root / "pipeline.json", cores=2, on_event=watch, cancel=cancel
    )
    assert time.monotonic() - started < 90  # never hangs: the steps would sleep 60 s each
    assert outcome.status is Status.CANCELLED
    db = _db_statuses(fan_project, outcome.pipeline_run)
    assert set(db) == {"probe[s1]", "probe[s2]", "probe[s3]", "all"}  # every step recorded
    assert set(db.values()) == {"cancelled"}
    assert {e.step: str(e.status) for e in events if isinstance(e, StepFinished)} == db
    assert fan_project.rows("SELECT status FROM pipeline_runs WHERE id = ?", outcome.pipeline_run) == [
        ("cancelled",)
    ]
    left = subprocess.run(
        ["docker", "ps", "-aq", "--filter", f"label=wfc.pipeline-run={outcome.pipeline_run}"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert left.stdout.split() == []


def test_validate_returns_every_problem_with_its_json_path(project: Proj) -> None:
    project.add_method("t/probe", FIXTURES / "methods" / "t" / "probe")
    document = {
        "version": 1,
        "name": "broken",
        "nodes": [
            {"id": "data", "samples": ["nobody"]},
            {"id": "probe", "method": "t/probe", "params": {"k": "five"}},
            {"id": "ghost", "method": "t/nothing"},
        ],
        "links": [{"from": "data", "to": "probe.dta"}],
    }
    problems = api.validate(api.open_project(project.root), document)
    found = {(p.path, p.severity) for p in problems}
    assert ("nodes[0].samples", "error") in found
    assert ("nodes[2].method", "error") in found
    assert ("links[0].to", "error") in found
    assert any("k" in p.message and "five" in p.message for p in problems)
    assert len([p for p in problems if p.severity == "error"]) >= 4
    assert not (project.root / ".wfc" / "documents").exists()  # a read writes nothing
