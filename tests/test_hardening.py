"""Hardening (issue 13): each defect an adversarial tester found, with the regression test that
failed before its fix. Special files in outputs, the container's confinement, what the process
runtime passes on, stale temporary objects, oversized params."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Callable

import pytest

from tests.conftest import FIXTURES, Proj, probe_pipeline, project_containers
from wfc_client import contract

pytestmark = pytest.mark.docker


def _special_pipeline(kind: str) -> dict[str, object]:
    return {
        "version": 1,
        "name": "special",
        "nodes": [{"id": "special", "method": "t/special", "params": {"kind": kind}}],
    }


@pytest.mark.parametrize(("kind", "what"), [("fifo", "a FIFO"), ("socket", "a socket")])
def test_a_special_file_in_an_output_fails_the_step_and_never_hangs(
    probe_project: Proj, kind: str, what: str
) -> None:
    probe_project.add_method("t/special", FIXTURES / "methods" / "t" / "special")
    probe_project.write_pipeline(_special_pipeline(kind))
    for _ in range(2):  # the claim is released: the second attempt fails the same way
        doc = probe_project.run_step("special", timeout=120)
        assert (doc["_exit"], doc["status"]) == (1, "failed"), doc["_stderr"]
        assert doc["error"] == f"output 'tree' contains {what}: tree/special"
    assert probe_project.rows("SELECT status FROM runs") == [("failed",), ("failed",)]
    assert probe_project.rows("SELECT count(*) FROM run_outputs") == [(0,)]
    assert not project_containers(probe_project)


def _output(proj: Proj, doc: dict[str, object]) -> dict[str, object]:
    """The JSON a probe run wrote to its ``out`` slot, read from the store."""
    digest = str(doc["outputs"]["out"]["hash"])  # type: ignore[index]
    return dict(json.loads((proj.root / ".wfc/store/objects" / digest[7:9] / digest[9:]).read_text()))


def test_a_method_container_is_confined(probe_project: Proj) -> None:
    probe_project.write_pipeline(probe_pipeline({"mode": "confined"}))
    doc = probe_project.run_step("probe", "--sample", "s1")
    assert doc["status"] == "completed", doc
    seen = _output(probe_project, doc)
    assert seen["cap_eff"] == "0000000000000000"  # --cap-drop ALL
    assert seen["no_new_privs"] == "1"
    assert seen["writable"] == {"/": False, "/etc": False, "/tmp": True, "/wfc/run": True}
    assert seen["pids_max"] == "512"  # resources.pids, by default
    assert seen["home"] == "/tmp"


def test_a_fork_bomb_fails_its_step_only(probe_project: Proj) -> None:
    probe_project.write_pipeline(probe_pipeline({"mode": "forkbomb"}))
    doc = probe_project.run_step("probe", "--sample", "s1", timeout=300)
    assert doc["status"] == "failed"
    spawned = int(doc["error"].split("after ")[1].split()[0]) if "after " in doc["error"] else -1
    assert 0 < spawned < 512, doc["error"]  # stopped by the pids limit, not by the loop's end
    assert not project_containers(probe_project)
    probe_project.write_pipeline(probe_pipeline())
    assert probe_project.run_step("probe", "--sample", "s1")["status"] == "completed"  # the machine is fine


def test_only_the_contract_and_declared_variables_reach_a_method(probe_project: Proj) -> None:
    method = probe_project.root / "methods/t/probe/method.yaml"
    method.write_text(method.read_text() + "pass_env: [PROBE_SETTING, UNSET_ONE]\n")
    probe_project.write_pipeline(probe_pipeline({"mode": "env"}))
    canaries = {"AWS_SECRET_ACCESS_KEY": "canary-aws", "MY_TOKEN": "canary-token", "PROBE_SETTING": "on"}
    for runtime in ("docker", "process"):
        doc = probe_project.run_step("probe", "--sample", "s1", "--runtime", runtime, "--force", env=canaries)
        assert doc.get("status") == "completed", doc
        seen = _output(probe_project, doc)
        assert "AWS_SECRET_ACCESS_KEY" not in seen and "MY_TOKEN" not in seen, runtime
        assert seen["PROBE_SETTING"] == "on" and "UNSET_ONE" not in seen, runtime
        assert not {k for k in seen if k.startswith("WFC_")} - set(contract.ALL_VARIABLES), runtime
    stored = probe_project.root / ".wfc/store/objects"
    assert not [p for p in stored.rglob("*") if p.is_file() and b"canary" in p.read_bytes()]


def _wait_for(condition: Callable[[], bool], seconds: float = 60) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.2)
    return False


def _start(proj: Proj) -> subprocess.Popen[bytes]:
    argv = [sys.executable, "-m", "wfc", "run-step", "pipeline.json", "--node=probe", "--sample=s1"]
    out = subprocess.DEVNULL
    return subprocess.Popen(argv, cwd=proj.root, env=proj.env(), stdout=out, stderr=out)


def test_a_killed_run_step_leaves_no_container(probe_project: Proj) -> None:
    probe_project.write_pipeline(probe_pipeline({"sleep": 60}))
    step = _start(probe_project)
    assert _wait_for(lambda: bool(project_containers(probe_project)))
    step.kill()  # SIGKILL: no handler of wfc runs
    step.wait()
    assert _wait_for(lambda: not project_containers(probe_project), 20)  # its watchdog removed it
    probe_project.write_pipeline(probe_pipeline())
    assert probe_project.run_step("probe", "--sample", "s1")["status"] == "completed"


def test_the_next_claimant_of_a_killed_holder_runs_the_only_container(probe_project: Proj) -> None:
    probe_project.write_pipeline(probe_pipeline({"sleep": 6}))
    holder = _start(probe_project)
    assert _wait_for(lambda: bool(project_containers(probe_project)))
    waiting = _start(probe_project)  # the same key: it waits for the claim
    time.sleep(1)
    holder.kill()
    holder.wait()
    most = 0
    while waiting.poll() is None:  # never two containers for one key
        most = max(most, len(project_containers(probe_project)))
        time.sleep(0.1)
    assert waiting.returncode == 0 and most <= 1
    rows = probe_project.rows("SELECT status, error FROM runs ORDER BY id")
    assert rows == [
        ("failed", "the process running this step died (claim taken over by a later run)"),
        ("completed", None),
    ]
    assert _wait_for(lambda: not project_containers(probe_project), 20)


def test_run_pipeline_reaps_containers_of_runs_that_are_over(probe_project: Proj) -> None:
    image = json.loads((probe_project.root / "environments/python/env.lock.json").read_text())["image_id"]
    labels = ["--label", f"wfc.project={probe_project.root}", "--label", "wfc.run=r-gone"]
    subprocess.run(
        ["docker", "run", "-d", "--network=none", *labels, image, "sleep", "300"],
        check=True,
        capture_output=True,
    )
    assert len(project_containers(probe_project)) == 1  # as if wfc and its watchdog were killed together
    ran = probe_project.wfc("run-pipeline", "pipeline.json", timeout=600)
    assert ran.returncode == 0, ran.stderr
    assert not project_containers(probe_project)


def test_cache_verify_goes_clean_after_a_rerun_repaired_what_was_lost(probe_project: Proj) -> None:
    first = probe_project.run_step("probe", "--sample", "s1")
    (log,) = probe_project.rows("SELECT stdout_object FROM runs WHERE id = ?", first["run_id"])[0]
    path = probe_project.root / ".wfc/store/objects" / log[7:9] / log[9:]
    path.chmod(0o644)
    path.write_text("rotten")  # a log differs on every execution: a rerun cannot bring it back
    broken = probe_project.wfc("cache", "verify")
    assert broken.returncode == 1 and f"corrupt: {log} (used by {first['run_id']})" in broken.stderr
    second = probe_project.run_step("probe", "--sample", "s1", "--force")
    assert second["status"] == "completed"
    again = probe_project.wfc("cache", "verify")
    assert again.returncode == 0, again.stderr
    lines = again.stderr.splitlines()
    assert f"stale: {log} (used by {first['run_id']}; superseded by {second['run_id']}, intact)" in lines
    assert lines[-1].endswith("all good (1 stale: history of superseded runs only, nothing the cache serves)")
