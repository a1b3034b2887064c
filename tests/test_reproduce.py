"""``wfc reproduce``: a recorded step re-run from its record alone (kept code, inputs by hash,
params, image by digest), compared byte for byte, recorded as a reproduction; the original and
the cache untouched."""

from __future__ import annotations

import contextlib
import json
import sqlite3
import subprocess
import sys
import time
import uuid

import docker

from tests.conftest import Proj, probe_pipeline, project_containers, run_pipeline, wfc_json


def _table(proj: Proj, table: str) -> list[tuple[object, ...]]:
    return proj.rows(f"SELECT * FROM {table} ORDER BY 1")


def test_a_deterministic_step_reproduces_bit_identically(probe_project: Proj) -> None:
    done = probe_project.run_step("probe", "--sample", "s1")
    before = {t: _table(probe_project, t) for t in ("runs", "run_outputs", "run_inputs")}
    # the project moves on: the method's code changes; the record still says what ran
    main = probe_project.root / "methods" / "t" / "probe" / "main.py"
    main.write_text(main.read_text().replace("sample=", "SAMPLE="))
    proc = probe_project.wfc("reproduce", done["run_id"])
    assert proc.returncode == 0, proc.stderr
    assert f"probe[s1]: identical ({done['run_id']} -> r-" in proc.stderr
    assert "1 of 1 step reproduced bit-identically; recorded as p-" in proc.stderr
    runs = probe_project.rows("SELECT id, status, key, reproduces_id, pipeline_run_id FROM runs ORDER BY id")
    _, again = runs
    assert again[1:4] == ("completed", None, done["run_id"])  # no key: never a cache source
    assert [r for r in _table(probe_project, "runs") if r[0] == done["run_id"]] == [
        r for r in before["runs"] if r[0] == done["run_id"]
    ]  # the original's record is untouched
    name = probe_project.rows("SELECT name FROM pipeline_runs WHERE id = ?", again[4])
    assert name == [("reproduce:probe",)]
    shown = probe_project.wfc("show", done["run_id"], check=True).stdout
    assert f"confirmed    by {again[0]} at " in shown and "(identical)" in shown
    assert wfc_json(probe_project, "show", again[0])["kind"] == "reproduction"
    listed = wfc_json(probe_project, "runs", "--steps")["pipeline_runs"]
    assert [s["kind"] for pr in listed for s in pr["steps"]] == ["reproduction", "execution"]
    assert not (probe_project.root / ".wfc" / "reproduce" / again[0]).exists()  # scratch removed


def test_a_timestamp_is_named_as_not_reproducible(probe_project: Proj) -> None:
    probe_project.write_pipeline(probe_pipeline({"mode": "stamp"}))
    done = probe_project.run_step("probe", "--sample", "s1")
    proc = probe_project.wfc("reproduce", done["run_id"], "--json")
    assert proc.returncode == 1  # some output differs: the document still says it all
    doc = json.loads(proc.stdout)
    step = doc["steps"][0]
    assert step["identical"] is False and doc["identical"] is False
    out = step["outputs"][0]
    assert out["slot"] == "out" and out["identical"] is False
    assert out["original"]["hash"] != out["reproduced"]["hash"]
    assert out["diff"].startswith("--- original/out.txt\n+++ reproduced/out.txt\n")
    proc = probe_project.wfc("reproduce", done["run_id"])
    assert proc.returncode == 1
    assert "probe[s1]: DIFFERENT" in proc.stderr and "  out: not reproducible" in proc.stderr
    assert "not reproducible: probe[s1] (out)" in proc.stderr
    status = probe_project.rows("SELECT status, error FROM runs WHERE reproduces_id IS NOT NULL ORDER BY id")
    assert status[0] == ("failed", f"not reproducible: output out differs from {done['run_id']}")
    shown = probe_project.wfc("show", done["run_id"], check=True).stdout
    assert "reproduced   by r-" in shown and ": NOT identical: not reproducible: output out differs" in shown
    again = probe_project.run_step("probe", "--sample", "s1")  # a reproduction is never a cache source
    assert again["status"] == "cached" and again["cache_source"] == done["run_id"]


def test_a_pipeline_run_is_reproduced_step_by_step(chained: Proj) -> None:
    first = run_pipeline(chained)
    second = run_pipeline(chained)  # all hits: nothing executed in it to reproduce
    none = chained.wfc("reproduce", second["pipeline_run"])
    assert none.returncode == 2
    assert f"error: pipeline run {second['pipeline_run']} has no completed execution" in none.stderr
    doc = wfc_json(chained, "reproduce", first["pipeline_run"], "--cores", "2")
    assert doc["identical"] is True
    again = wfc_json(chained, "reproduce", doc["pipeline_run"])  # a reproduction re-checks its original
    assert sorted(s["run"] for s in again["steps"]) == sorted(s["run"] for s in doc["steps"])
    assert sorted(s["step"] for s in doc["steps"]) == ["a[s1]", "a[s2]", "b[s1]", "b[s2]"]
    assert doc["reproduces"] == first["pipeline_run"]
    hit = chained.rows(
        "SELECT id, cache_source_id FROM runs WHERE pipeline_run_id = ?", second["pipeline_run"]
    )
    one = wfc_json(chained, "reproduce", hit[0][0])  # a hit: the execution it reused is re-run
    assert one["steps"][0]["run"] == hit[0][1]


def test_what_is_missing_is_named_with_the_command_that_restores_it(probe_project: Proj) -> None:
    done = probe_project.run_step("probe", "--sample", "s1")
    tree = probe_project.rows("SELECT code_tree FROM runs")[0][0]
    objects = probe_project.root / ".wfc" / "store" / "objects"
    (objects / tree[7:9] / tree[9:]).unlink()
    proc = probe_project.wfc("reproduce", done["run_id"])
    assert proc.returncode == 2
    assert proc.stderr.splitlines() == [
        f"error: cannot reproduce run {done['run_id']}: the method code ({tree}) is not in the store",
        f"hint: fetch it with `wfc cache pull --pipeline-run {done['pipeline_run_id']}` from a shared store "
        "that has it, or re-run the step that made it",
    ]
    assert probe_project.rows("SELECT COUNT(*) FROM runs") == [(1,)]  # nothing recorded


def test_an_old_or_failed_run_cannot_be_reproduced(probe_project: Proj) -> None:
    done = probe_project.run_step("probe", "--sample", "s1")
    probe_project.write_pipeline(probe_pipeline({"mode": "fail"}))
    failed = probe_project.run_step("probe", "--sample", "s2")
    proc = probe_project.wfc("reproduce", failed["run_id"])
    assert proc.returncode == 2
    assert f"error: cannot reproduce run {failed['run_id']}: it is failed;" in proc.stderr
    with sqlite3.connect(probe_project.root / ".wfc" / "wfc.db") as db:
        db.execute("UPDATE runs SET code_tree = NULL WHERE id = ?", (done["run_id"],))
    proc = probe_project.wfc("reproduce", done["run_id"])
    assert "it was recorded before wfc kept each method's code" in proc.stderr
    assert "hint: run the step again with --force" in proc.stderr


def test_a_missing_image_is_named_and_a_rebuild_is_not_offered_as_the_same(probe_project: Proj) -> None:
    done = probe_project.run_step("probe", "--sample", "s1")
    gone = "sha256:" + "0" * 64
    with sqlite3.connect(probe_project.root / ".wfc" / "wfc.db") as db:
        db.execute("UPDATE runs SET env_digest = ? WHERE id = ?", (gone, done["run_id"]))
    proc = probe_project.wfc("reproduce", done["run_id"])
    assert proc.returncode == 2
    assert proc.stderr.splitlines() == [
        f"error: cannot reproduce: the image of environment 'python' ({gone}) is not in Docker, nor saved",
        "hint: load a copy you kept with `docker load -i FILE`; `wfc env build python` makes a new image "
        "with another digest (keep images for later with `wfc env save python`)",
    ]


def test_a_saved_image_is_loaded_back_when_docker_has_lost_it(project: Proj, docker_engine: None) -> None:
    """`wfc env save` keeps the image in the store; a reproduction after `docker rmi` loads it."""
    env_dir = project.root / "environments" / "tiny"
    env_dir.mkdir(parents=True)
    unique = uuid.uuid4().hex  # a label of its own: an image no other test shares
    env_dir.joinpath("Dockerfile").write_text(
        f"ARG WFC_BASE_IMAGE=wfc-base:bookworm\nFROM ${{WFC_BASE_IMAGE}}\nLABEL wfc.test.tiny={unique}\n"
    )
    project.wfc("env", "build", "tiny", "--quiet", check=True, timeout=600)
    method = project.root / "methods" / "t" / "tiny"
    method.mkdir(parents=True)
    method.joinpath("method.yaml").write_text(
        'env: tiny\ncommand: [sh, -c, \'echo "$WFC_SAMPLE" > "$WFC_RUN_DIR/out.txt"\']\n'
        "inputs:\n  data: {required: false}\noutputs:\n  out: {file: out.txt}\n"
    )
    (project.root / "s1.txt").write_text("x\n")
    project.wfc("sample", "add", "s1", "s1.txt", check=True)
    project.write_pipeline(
        {
            **probe_pipeline(samples=["s1"]),
            "nodes": [{"id": "data", "samples": ["s1"]}, {"id": "probe", "method": "t/tiny"}],
        }
    )
    done = project.run_step("probe", "--sample", "s1")
    assert done["status"] == "completed", done
    image = json.loads((env_dir / "env.lock.json").read_text())["image_id"]
    saved = wfc_json(project, "env", "save", "tiny")
    assert saved["image_id"] == image and saved["already"] is False and saved["size"] > 0
    again = project.wfc("env", "save", "tiny", check=True)
    assert f"environment 'tiny' ({image}) was already saved: object {saved['object']}" in again.stderr
    client = docker.from_env()
    try:
        client.images.remove(image, force=True)
        proc = project.wfc("reproduce", done["run_id"])
        assert proc.returncode == 0, proc.stderr
        assert "probe[s1]: identical" in proc.stderr
        assert client.images.get(image).id == image  # the very image, back from the store
    finally:
        with contextlib.suppress(docker.errors.ImageNotFound):
            client.images.remove(image, force=True)
        client.close()
    assert project.rows("SELECT object FROM saved_images") == [(saved["object"],)]
    project.wfc("cache", "gc", "--grace", "0", check=True)  # a saved image is kept like a sample
    objects = project.root / ".wfc" / "store" / "objects"
    assert (objects / saved["object"][7:9] / saved["object"][9:]).is_file()


def test_a_killed_reproduction_leaves_no_container_and_is_failed_by_the_next(probe_project: Proj) -> None:
    probe_project.write_pipeline(probe_pipeline({"sleep": 4}))
    done = probe_project.run_step("probe", "--sample", "s1")
    proc = subprocess.Popen(
        [sys.executable, "-m", "wfc", "reproduce", done["run_id"]],
        cwd=probe_project.root,
        env=probe_project.env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    query = "SELECT id FROM runs WHERE reproduces_id IS NOT NULL AND status = 'running'"
    for _ in range(100):
        if probe_project.rows(query) and project_containers(probe_project):
            break
        time.sleep(0.1)
    killed = probe_project.rows(query)[0][0]
    proc.kill()  # SIGKILL: no handler runs
    proc.wait()
    for _ in range(100):  # the watchdog removes the container of a process that died
        if not project_containers(probe_project):
            break
        time.sleep(0.1)
    assert project_containers(probe_project) == []
    again = probe_project.wfc("reproduce", done["run_id"])
    assert again.returncode == 0, again.stderr
    status, error = probe_project.rows("SELECT status, error FROM runs WHERE id = ?", killed)[0]
    assert status == "failed" and error.startswith("the process running this reproduction died (pid ")
    statuses = probe_project.rows(
        "SELECT status FROM pipeline_runs WHERE name = 'reproduce:probe' ORDER BY id"
    )
    assert statuses == [("failed",), ("completed",)]
    assert probe_project.rows("SELECT status, cache_source_id FROM runs WHERE id = ?", done["run_id"]) == [
        ("completed", None)
    ]
