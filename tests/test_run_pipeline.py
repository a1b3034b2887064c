"""run-pipeline against real Snakemake and Docker: DAG shapes, caching, record, cancellation."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from typing import Any

import pytest

from tests.conftest import FIXTURES, Proj, project_containers

pytestmark = pytest.mark.docker


def _run(
    proj: Proj, *extra: str, doc: str = "pipeline.json", env: dict[str, str] | None = None
) -> dict[str, Any]:
    proc = proj.wfc("run-pipeline", doc, "--cores", "2", "--json", *extra, env=env, timeout=600)
    result = dict(json.loads(proc.stdout))
    result["_exit"] = proc.returncode
    result["_stderr"] = proc.stderr
    result["by_name"] = {s["name"]: s for s in result["steps"]}
    return result


def _statuses(result: dict[str, Any]) -> dict[str, str]:
    return {s["name"]: s["status"] for s in result["steps"]}


def _samples(proj: Proj, names: list[str]) -> None:
    for name in names:
        if not (proj.root / f"{name}.txt").exists():
            (proj.root / f"{name}.txt").write_text(f"{name}\n")
            proj.wfc("sample", "add", name, f"{name}.txt", check=True)


def _node(node_id: str, **extra: Any) -> dict[str, Any]:
    return {"id": node_id, "method": "t/probe", **extra}


def test_diamond_then_unchanged_rerun_is_all_cached(probe_project: Proj) -> None:
    probe_project.write_pipeline(
        {
            "version": 1,
            "name": "diamond",
            "nodes": [
                {"id": "data", "samples": ["s1"]},
                _node("top"),
                _node("left", params={"k": 2}),
                _node("right", params={"k": 3}),
                {"id": "join", "method": "t/split"},
            ],
            "links": [
                {"from": "data", "to": "top.data"},
                {"from": "top", "to": "left.data"},
                {"from": "top", "to": "right.data"},
                {"from": "left", "to": "join.data"},
                {"from": "right", "to": "join.data"},
            ],
        }
    )
    spec = probe_project.root / "methods/t/split"
    probe_project.add_method("t/split", FIXTURES / "methods/t/split")
    yaml = spec / "method.yaml"
    yaml.write_text(
        yaml.read_text().replace("data: {required: false}", "data: {required: false, multiple: true}")
    )
    first = _run(probe_project)
    assert first["_exit"] == 0, first["_stderr"]
    assert _statuses(first) == {
        "top[s1]": "completed",
        "left[s1]": "completed",
        "right[s1]": "completed",
        "join[s1]": "completed",
    }
    second = _run(probe_project)
    assert set(_statuses(second).values()) == {"cached"} and second["status"] == "completed"
    assert second["pipeline_run"] != first["pipeline_run"]


def test_fan_out_then_gather_and_dropping_a_sample(probe_project: Proj) -> None:
    names = ["s1", "s2", "s3", "s4", "s5"]
    _samples(probe_project, names)
    doc = {
        "version": 1,
        "name": "fan",
        "nodes": [{"id": "data", "samples": names}, _node("each"), _node("all")],
        "links": [{"from": "data", "to": "each.data"}, {"from": "each", "to": "all.data", "gather": True}],
    }
    spec = probe_project.root / "methods/t/probe/method.yaml"
    spec.write_text(
        spec.read_text().replace("data: {required: false}", "data: {required: false, multiple: true}")
    )
    probe_project.write_pipeline(doc)
    first = _run(probe_project)
    assert list(_statuses(first).values()).count("completed") == 6 and first["_exit"] == 0
    again = _run(probe_project)
    assert list(_statuses(again).values()) == ["cached"] * 6
    doc["nodes"][0]["samples"] = names[:4]
    probe_project.write_pipeline(doc)
    dropped = _run(probe_project)
    assert _statuses(dropped) == {**{f"each[{n}]": "cached" for n in names[:4]}, "all": "completed"}


def test_param_change_reruns_exactly_the_node_and_descendants(probe_project: Proj) -> None:
    def doc(k: int) -> dict[str, Any]:
        return {
            "version": 1,
            "name": "chain",
            "nodes": [
                {"id": "data", "samples": ["s1", "s2"]},
                _node("a"),
                _node("b", params={"k": k}),
                _node("c"),
                _node("side", params={"k": 3}),
            ],
            "links": [
                {"from": "data", "to": "a.data"},
                {"from": "a", "to": "b.data"},
                {"from": "b", "to": "c.data"},
                {"from": "a", "to": "side.data"},
            ],
        }

    probe_project.write_pipeline(doc(1))
    assert _run(probe_project)["_exit"] == 0
    probe_project.write_pipeline(doc(7))
    changed = _run(probe_project)
    ran = sorted(n for n, s in _statuses(changed).items() if s == "completed")
    assert ran == ["b[s1]", "b[s2]", "c[s1]", "c[s2]"]
    assert {s for n, s in _statuses(changed).items() if n not in ran} == {"cached"}
    probe_project.write_pipeline(doc(1))
    back = _run(probe_project)
    assert set(_statuses(back).values()) == {"cached"}
    helper = probe_project.root / "methods/t/probe/helper.txt"  # a code change re-runs every probe step
    helper.write_text("new helper file\n")
    edited = _run(probe_project)
    assert set(_statuses(edited).values()) == {"completed"}, _statuses(edited)


def test_two_output_node_routes_each_slot_and_swapping_changes_the_key(probe_project: Proj) -> None:
    probe_project.add_method("t/split", FIXTURES / "methods/t/split")
    doc = {
        "version": 1,
        "name": "route",
        "nodes": [
            {"id": "data", "samples": ["s1"]},
            {"id": "split", "method": "t/split"},
            _node("l"),
            _node("r"),
        ],
        "links": [
            {"from": "data", "to": "split.data"},
            {"from": "split.left", "to": "l.data"},
            {"from": "split.right", "to": "r.data"},
        ],
    }
    probe_project.write_pipeline(doc)
    first = _run(probe_project)
    assert first["_exit"] == 0, first["_stderr"]
    outputs = dict(
        probe_project.rows(
            "SELECT r.node_id, o.content_hash FROM runs r JOIN run_outputs o ON o.run_id = r.id "
            "WHERE r.status = 'completed' AND r.node_id IN ('l', 'r')"
        )
    )
    texts = {
        n: (probe_project.root / ".wfc/store/objects" / h[7:9] / h[9:]).read_text()
        for n, h in outputs.items()
    }
    assert texts == {"l": "L:alpha\nk=1 sample=s1\n", "r": "R:alpha\nk=1 sample=s1\n"}
    doc["links"][1:] = [{"from": "split.right", "to": "l.data"}, {"from": "split.left", "to": "r.data"}]
    probe_project.write_pipeline(doc)
    swapped = _run(probe_project)
    # each consumer's key changed; l now reads the right output, which r consumed before: same key, a hit
    assert _statuses(swapped) == {"split[s1]": "cached", "l[s1]": "cached", "r[s1]": "cached"}
    keys = probe_project.rows("SELECT node_id, pipeline_run_id, key FROM runs WHERE node_id IN ('l', 'r')")
    before = {n: k for n, p, k in keys if p == first["pipeline_run"]}
    after = {n: k for n, p, k in keys if p == swapped["pipeline_run"]}
    assert before["l"] != after["l"] and after["l"] == before["r"] and after["r"] == before["l"]


@pytest.mark.parametrize("keep_going", [False, True])
def test_failure_leaves_a_complete_record(probe_project: Proj, keep_going: bool) -> None:
    probe_project.write_pipeline(
        {
            "version": 1,
            "name": "fails",
            "nodes": [
                {"id": "data", "samples": ["s1", "s2"]},
                _node("bad", overrides={"s1": {"mode": "fail"}}),
                _node("after"),
                _node("last"),
            ],
            "links": [
                {"from": "data", "to": "bad.data"},
                {"from": "bad", "to": "after.data"},
                {"from": "after", "to": "last.data"},
            ],
        }
    )
    result = _run(probe_project, *(["--keep-going"] if keep_going else []))
    assert result["_exit"] == 1 and result["status"] == "failed"
    steps = result["by_name"]
    assert steps["bad[s1]"]["status"] == "failed"
    assert steps["after[s1]"]["status"] == "cancelled" and steps["last[s1]"]["status"] == "cancelled"
    assert steps["after[s1]"]["why"] == "not run: upstream step bad[s1] failed"
    assert len(result["steps"]) == 6  # nothing silently absent
    causes = dict(
        probe_project.rows(
            "SELECT r.node_id, c.node_id FROM runs r JOIN runs c ON c.id = r.cancel_cause_id "
            "WHERE r.sample = 's1' AND r.status = 'cancelled'"
        )
    )
    assert causes == {"after": "bad", "last": "bad"}
    if keep_going:  # the independent branch finished
        assert [steps[f"{n}[s2]"]["status"] for n in ("bad", "after", "last")] == ["completed"] * 3
    else:
        assert {steps[f"{n}[s2]"]["status"] for n in ("bad", "after", "last")} <= {"completed", "cancelled"}


def test_two_identical_pipelines_at_once_execute_each_key_once(probe_project: Proj) -> None:
    probe_project.write_pipeline(
        {
            "version": 1,
            "name": "twice",
            "nodes": [{"id": "data", "samples": ["s1", "s2"]}, _node("a", params={"sleep": 1.0}), _node("b")],
            "links": [{"from": "data", "to": "a.data"}, {"from": "a", "to": "b.data"}],
        }
    )
    argv = [sys.executable, "-m", "wfc", "run-pipeline", "pipeline.json", "--cores", "2"]
    procs = [
        subprocess.Popen(
            argv,
            cwd=probe_project.root,
            env=probe_project.env(),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    errs = [p.communicate(timeout=300)[1] for p in procs]
    assert [p.returncode for p in procs] == [0, 0], errs
    executed = probe_project.rows(
        "SELECT node_id, sample, count(*) FROM runs WHERE status = 'completed' GROUP BY node_id, sample"
    )
    assert sorted(executed) == [("a", "s1", 1), ("a", "s2", 1), ("b", "s1", 1), ("b", "s2", 1)]
    assert probe_project.rows("SELECT count(*) FROM runs WHERE status = 'cached'") == [(4,)]


def test_sigterm_cancels_running_steps_and_removes_containers(probe_project: Proj) -> None:
    probe_project.write_pipeline(
        {
            "version": 1,
            "name": "long",
            "nodes": [
                {"id": "data", "samples": ["s1", "s2"]},
                _node("slow", params={"sleep": 60.0}),
                _node("next"),
            ],
            "links": [{"from": "data", "to": "slow.data"}, {"from": "slow", "to": "next.data"}],
        }
    )
    proc = subprocess.Popen(
        [sys.executable, "-m", "wfc", "run-pipeline", "pipeline.json", "--cores", "2"],
        cwd=probe_project.root,
        env=probe_project.env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 90
    while len(project_containers(probe_project)) < 2 and time.monotonic() < deadline:
        time.sleep(0.3)
    assert len(project_containers(probe_project)) == 2, "both slow steps should be running"
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    assert project_containers(probe_project) == []
    rows = probe_project.rows("SELECT node_id, status, error FROM runs ORDER BY node_id, sample")
    assert rows == [
        ("next", "cancelled", "cancelled by user"),
        ("next", "cancelled", "cancelled by user"),
        ("slow", "cancelled", "cancelled by user"),
        ("slow", "cancelled", "cancelled by user"),
    ]
    assert probe_project.rows("SELECT status FROM pipeline_runs") == [("cancelled",)]
