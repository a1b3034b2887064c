"""run-step against the real Docker engine: execute, cache, fail, refuse, race, crash."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import FIXTURES, Proj, probe_pipeline, project_containers
from wfc_client import contract

pytestmark = pytest.mark.docker


def test_executed_then_cached_without_running_the_method(probe_project: Proj) -> None:
    first = probe_project.wfc("run-step", "pipeline.json", "--node", "probe", "--sample", "s1", "--stream")
    assert first.returncode == 0, first.stderr
    assert "TOKEN=" in first.stderr and "completed" in first.stderr
    runs_before = sorted((probe_project.root / ".wfc" / "runs").iterdir())

    second = probe_project.wfc("run-step", "pipeline.json", "--node", "probe", "--sample", "s1", "--stream")
    assert second.returncode == 0, second.stderr
    assert "TOKEN=" not in second.stderr  # the method did not run: its unique token never reappears
    assert "cached" in second.stderr
    assert sorted((probe_project.root / ".wfc" / "runs").iterdir()) == runs_before

    rows = probe_project.rows("SELECT id, status, cache_source_id FROM runs ORDER BY id")
    assert [r[1] for r in rows] == ["completed", "cached"]
    assert rows[1][2] == rows[0][0]
    outs = probe_project.rows("SELECT run_id, content_hash FROM run_outputs ORDER BY run_id")
    assert outs[0][1] == outs[1][1]
    ins = probe_project.rows("SELECT run_id, sample_name, sample_version FROM run_inputs ORDER BY run_id")
    assert [(r[1], r[2]) for r in ins] == [("s1", 1), ("s1", 1)]


def test_output_bytes_and_store_object_are_read_only(probe_project: Proj) -> None:
    doc = probe_project.run_step("probe", "--sample", "s2")
    assert doc["status"] == "completed"
    digest = doc["outputs"]["out"]["hash"]
    obj = probe_project.root / ".wfc" / "store" / "objects" / digest[7:9] / digest[9:]
    assert obj.read_text() == "beta\nk=1 sample=s2\n"
    assert oct(obj.stat().st_mode & 0o777) == "0o444"


def test_container_contract_isolation(probe_project: Proj) -> None:
    probe_project.write_pipeline(probe_pipeline({"mode": "whoami"}))
    doc = probe_project.run_step("probe", "--sample", "s1")
    assert doc["status"] == "completed", doc
    digest = doc["outputs"]["out"]["hash"]
    seen = json.loads((probe_project.root / ".wfc/store/objects" / digest[7:9] / digest[9:]).read_text())
    assert seen["uid"] == 1000  # non-root
    assert seen["nets"] == ["lo"]  # --network none
    assert seen["input_writable"] is False and seen["method_writable"] is False
    env = seen["env"]
    assert set(env) == set(contract.ALL_VARIABLES)
    assert env["WFC_SAMPLE"] == "s1" and env["WFC_NODE_ID"] == "probe" and env["WFC_RUN_ID"] == doc["run_id"]
    assert json.loads(env["WFC_PARAMS"])["mode"] == "whoami"
    assert json.loads(env["WFC_INPUT_PATHS"]) == {"data": ["/wfc/inputs/data/0/s1.txt"]}
    assert env["WFC_RUN_DIR"] == "/wfc/run"


@pytest.mark.parametrize("damage", ["corrupt", "delete"])
def test_damaged_store_object_is_detected_and_step_reexecutes(probe_project: Proj, damage: str) -> None:
    first = probe_project.run_step("probe", "--sample", "s1")
    digest = first["outputs"]["out"]["hash"]
    obj = probe_project.root / ".wfc/store/objects" / digest[7:9] / digest[9:]
    good = obj.read_bytes()
    if damage == "corrupt":
        obj.chmod(0o644)
        obj.write_bytes(b"wrong bytes")
    else:
        obj.unlink()

    second = probe_project.run_step("probe", "--sample", "s1")
    assert second["status"] == "completed"  # re-executed, not served from the damaged object
    assert second["reason"].startswith("outputs missing: object " + digest)
    assert ("corrupt" if damage == "corrupt" else "missing") in second["reason"]
    assert second["outputs"]["out"]["hash"] == digest
    assert obj.read_bytes() == good
    reasons = probe_project.rows("SELECT reason FROM runs WHERE status='completed' ORDER BY id")
    assert reasons[1][0] == second["reason"]
    if damage == "corrupt":
        assert (probe_project.root / ".wfc/store/quarantine" / digest[7:]).read_bytes() == b"wrong bytes"


def test_missing_required_output_names_slot_and_found_files(probe_project: Proj) -> None:
    probe_project.write_pipeline(probe_pipeline({"mode": "missing"}))
    doc = probe_project.run_step("probe", "--sample", "s1")
    assert doc["_exit"] == 1 and doc["status"] == "failed"
    assert doc["error"] == "required output 'out' (out.txt) is missing; the run directory has: other.txt"
    row = probe_project.rows("SELECT status, error FROM runs")[0]
    assert row == ("failed", doc["error"])


def test_nonzero_exit_records_last_stderr_line(probe_project: Proj) -> None:
    probe_project.write_pipeline(probe_pipeline({"mode": "fail"}))
    proc = probe_project.wfc("run-step", "pipeline.json", "--node", "probe", "--sample", "s1")
    assert proc.returncode == 1
    assert "error: step probe[s1] failed: ValueError: the input is bad" in proc.stderr
    status, error, code, tail = probe_project.rows("SELECT status, error, exit_code, error_tail FROM runs")[0]
    assert (status, error, code) == ("failed", "ValueError: the input is bad", 3)
    assert "Traceback" in tail
    # the logs are archived in the store too
    stderr_obj = probe_project.rows("SELECT stderr_object FROM runs")[0][0]
    assert stderr_obj and stderr_obj.startswith("blake3:")


def test_error_reported_in_results_file_fails_the_step(probe_project: Proj) -> None:
    probe_project.write_pipeline(probe_pipeline({"mode": "reported_error"}))
    doc = probe_project.run_step("probe", "--sample", "s1")
    assert (doc["status"], doc["error"]) == ("failed", "model did not converge")


@pytest.mark.parametrize(
    ("mode", "message"),
    [
        ("dotdot", "output 'out' path '../escape.txt' escapes the run directory"),
        ("absolute", "output 'out' path '/etc/passwd' escapes the run directory"),
        ("link", "output 'out' (out.txt) is a link that escapes the run directory (to /etc/passwd)"),
    ],
)
def test_outputs_escaping_the_run_dir_are_refused(probe_project: Proj, mode: str, message: str) -> None:
    probe_project.write_pipeline(probe_pipeline({"mode": mode}))
    doc = probe_project.run_step("probe", "--sample", "s1")
    assert doc["status"] == "failed"
    assert doc["error"] == message
    assert probe_project.rows("SELECT count(*) FROM run_outputs")[0][0] == 0


def test_timeout_and_oom_are_named(probe_project: Proj) -> None:
    method = probe_project.root / "methods/t/probe/method.yaml"
    method.write_text(method.read_text().replace("timeout: 20", "timeout: 2"))
    probe_project.write_pipeline(probe_pipeline({"sleep": 30}))
    doc = probe_project.run_step("probe", "--sample", "s1")
    assert (doc["status"], doc["error"]) == ("failed", "timed out after 2 s (resources.timeout)")

    probe_project.write_pipeline(probe_pipeline({"mode": "oom"}))
    doc = probe_project.run_step("probe", "--sample", "s1")
    assert doc["status"] == "failed"
    assert doc["error"] == "out of memory: killed by the kernel at the 64m limit (resources.memory)"
    assert not project_containers(probe_project)  # nothing left behind


def test_four_concurrent_run_steps_execute_once(probe_project: Proj) -> None:
    probe_project.write_pipeline(probe_pipeline({"sleep": 2}))
    env = probe_project.env()
    argv = [sys.executable, "-m", "wfc", "run-step", "pipeline.json", "--node", "probe", "--sample", "s1"]
    procs = [
        subprocess.Popen(
            argv, cwd=probe_project.root, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        for _ in range(4)
    ]
    errs = [p.communicate(timeout=120)[1] for p in procs]
    assert [p.returncode for p in procs] == [0, 0, 0, 0], errs
    statuses = sorted(r[0] for r in probe_project.rows("SELECT status FROM runs"))
    assert statuses == ["cached", "cached", "cached", "completed"]
    source = probe_project.rows("SELECT id FROM runs WHERE status='completed'")[0][0]
    assert {r[0] for r in probe_project.rows("SELECT cache_source_id FROM runs WHERE status='cached'")} == {
        source
    }


def test_sigkill_during_archiving_never_leaves_a_false_completed(probe_project: Proj) -> None:
    _kill_at(probe_project, "archive.after_output")
    assert probe_project.rows("SELECT status FROM runs") == [("running",)]
    assert probe_project.rows("SELECT count(*) FROM run_outputs")[0][0] == 0
    _verify_store(probe_project)  # every object present is correct

    again = probe_project.run_step("probe", "--sample", "s1")
    assert again["status"] == "completed"
    rows = probe_project.rows("SELECT status, error FROM runs ORDER BY id")
    assert rows[0] == ("failed", "the process running this step died (claim taken over by a later run)")
    assert rows[1] == ("completed", None)


def test_docker_unreachable_is_exit_3_with_hint(probe_project: Proj) -> None:
    proc = probe_project.wfc(
        "run-step",
        "pipeline.json",
        "--node",
        "probe",
        "--sample",
        "s1",
        env={"DOCKER_HOST": "unix:///nonexistent/docker.sock"},
    )
    assert proc.returncode == 3
    lines = proc.stderr.strip().splitlines()
    assert lines[0] == "error: Docker is not reachable: /nonexistent/docker.sock: No such file or directory"
    assert (
        lines[1] == "hint: start the Docker engine (e.g. `dockerd &`) or point DOCKER_HOST at a running one"
    )
    assert probe_project.rows("SELECT count(*) FROM runs")[0][0] == 0  # refused before anything ran


def test_renamed_node_and_reformatted_document_reuse_the_work(probe_project: Proj) -> None:
    first = probe_project.run_step("probe", "--sample", "s1")
    doc = probe_pipeline()
    doc["nodes"][1]["id"] = "renamed"
    doc["links"][0]["to"] = "renamed.data"
    (probe_project.root / "other.json").write_text(json.dumps(doc))  # no indentation: other whitespace
    again = probe_project.run_step("renamed", "--sample", "s1", pipeline="other.json")
    assert again["status"] == "cached" and again["key"] == first["key"]


def _kill_at(project: Proj, failpoint: str) -> None:
    """Run the step and have it SIGKILL itself at a named fail point."""
    argv = ("run-step", "pipeline.json", "--node", "probe", "--sample", "s1")
    killed = project.wfc(*argv, env={"WFC_FAILPOINT": failpoint})
    assert killed.returncode == -9


def _verify_store(project: Proj) -> None:
    """Re-hash every object of the project's store in a fresh process."""
    code = (
        "import sys; from pathlib import Path; from wfc.store.local import ObjectStore; "
        "store = ObjectStore(Path(sys.argv[1])); [store.verify(d) for d in store.iter_objects()]"
    )
    subprocess.run(
        [sys.executable, "-c", code, str(project.root / ".wfc/store")], env=project.env(), check=True
    )


def test_stale_tmp_files_are_not_objects(probe_project: Proj) -> None:
    _kill_at(probe_project, "store.before_rename")
    assert list(
        (probe_project.root / ".wfc/store/tmp").iterdir()
    )  # the half-written object stayed a temp file
    _verify_store(probe_project)
    assert probe_project.run_step("probe", "--sample", "s1")["status"] == "completed"


def test_sigterm_cancels_the_step_and_removes_its_container(probe_project: Proj) -> None:
    probe_project.write_pipeline(probe_pipeline({"sleep": 60}))
    env = probe_project.env()
    argv = [sys.executable, "-m", "wfc", "run-step", "pipeline.json", "--node", "probe", "--sample", "s1"]
    proc = subprocess.Popen(
        argv, cwd=probe_project.root, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    deadline = time.monotonic() + 60
    while not project_containers(probe_project) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert project_containers(probe_project), "the method's container never started"
    proc.terminate()
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130
    assert err.strip().splitlines()[-1] == "error: interrupted"
    assert project_containers(probe_project) == []
    assert probe_project.rows("SELECT status, error FROM runs") == [("cancelled", "cancelled by user")]
    assert probe_project.rows("SELECT status FROM pipeline_runs") == [("cancelled",)]


def test_directory_output_is_a_tree_and_feeds_a_downstream_step(probe_project: Proj) -> None:
    probe_project.add_method("t/tree", FIXTURES / "methods" / "t" / "tree")
    doc = probe_pipeline()
    doc["nodes"].append({"id": "tree", "method": "t/tree"})
    doc["links"] = [{"from": "data", "to": "tree.data"}, {"from": "tree", "to": "probe.data"}]
    probe_project.write_pipeline(doc)
    made = probe_project.run_step("tree", "--sample", "s1")
    assert made["status"] == "completed", made
    assert made["outputs"]["tree"]["kind"] == "dir" and made["outputs"]["tree"]["path"] == "tree"
    digest = made["outputs"]["tree"]["hash"]
    listing = json.loads((probe_project.root / ".wfc/store/objects" / digest[7:9] / digest[9:]).read_text())
    assert [(e[0], e[1]) for e in listing["entries"]] == [
        ("a.txt", "f"),
        ("empty", "d"),
        ("run.sh", "x"),
        ("sub/b.txt", "f"),
    ]

    used = probe_project.run_step("probe", "--sample", "s1")
    assert used["status"] == "completed", used
    out = used["outputs"]["out"]["hash"]
    text = (probe_project.root / ".wfc/store/objects" / out[7:9] / out[9:]).read_text()
    assert text == "A:alpha\n#!/bin/sh\necho hi\nB\nk=1 sample=s1\n"
    source = probe_project.rows(
        "SELECT source_run_id, source_slot, kind FROM run_inputs WHERE run_id=?", used["run_id"]
    )
    assert source == [(made["run_id"], "tree", "dir")]


def test_retries_rerun_a_failed_execution_within_one_run(probe_project: Proj) -> None:
    spec = probe_project.root / "methods/t/probe/method.yaml"
    spec.write_text(spec.read_text() + "retries: 2\n")
    probe_project.write_pipeline(probe_pipeline({"mode": "fail"}))
    doc = probe_project.run_step("probe", "--sample", "s1")
    assert doc["status"] == "failed" and doc["error"] == "ValueError: the input is bad"
    stdout = (probe_project.root / doc["log_dir"] / "stdout.log").read_text()
    assert stdout.count("TOKEN=") == 3
    assert "=== wfc: attempt 3 of 3 ===" in stdout
    assert probe_project.rows("SELECT count(*) FROM runs") == [(1,)]


def test_cache_false_always_executes_and_records(probe_project: Proj) -> None:
    spec = probe_project.root / "methods/t/probe/method.yaml"
    spec.write_text(spec.read_text() + "cache: false\n")
    first = probe_project.run_step("probe", "--sample", "s1")
    second = probe_project.run_step("probe", "--sample", "s1")
    assert (first["status"], second["status"]) == ("completed", "completed")
    assert second["reason"] == "method declares cache: false"
    assert first["key"] == second["key"]


def test_project_option_and_force(probe_project: Proj, tmp_path: Path) -> None:
    first = probe_project.run_step("probe", "--sample", "s1")
    outside = Proj(tmp_path)  # runs from tmp_path, which holds the project but is not inside it
    argv = [
        str(probe_project.root / "pipeline.json"),
        "--node",
        "probe",
        "--sample",
        "s1",
        "--force",
        "--json",
    ]
    proc = outside.wfc("run-step", *argv, "--project", str(probe_project.root), env={"WFC_PROJECT": ""})
    forced = json.loads(proc.stdout)
    assert (forced["status"], forced["reason"]) == ("completed", "forced")
    assert forced["outputs"] == first["outputs"]


@pytest.mark.parametrize(
    ("mode", "message"),
    [
        ("bad_results", "_wfc_results.json is invalid: version must be 1, got 2"),
        ("unknown_slot", "_wfc_results.json names unknown output slots ['extra']"),
    ],
)
def test_invalid_results_file_fails_the_step(probe_project: Proj, mode: str, message: str) -> None:
    probe_project.write_pipeline(probe_pipeline({"mode": mode}))
    doc = probe_project.run_step("probe", "--sample", "s1")
    assert (doc["status"], doc["error"]) == ("failed", message)
