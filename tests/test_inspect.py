"""Inspecting what ran, on real pipelines (Docker + Snakemake + SQLite): runs, show, logs,
lineage, why, export. Every assertion reads the real CLI's output."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import Proj, chain, run_pipeline, start_running_step, wfc_json

pytestmark = pytest.mark.docker


def test_runs_lists_pipeline_runs_and_filters_steps(chained: Proj) -> None:
    first = run_pipeline(chained)
    second = run_pipeline(chained)
    doc = wfc_json(chained, "runs")
    assert [d["id"] for d in doc["pipeline_runs"]] == [second["pipeline_run"], first["pipeline_run"]]
    newest = doc["pipeline_runs"][0]
    assert newest["pipeline"] == "chain" and newest["status"] == "completed"
    assert newest["counts"] == {"cached": 4}
    assert sorted(s["node"] + str(s["sample"]) for s in newest["steps"]) == ["as1", "as2", "bs1", "bs2"]

    only_b = wfc_json(chained, "runs", "--node", "b", "--sample", "s2")
    steps = [s for d in only_b["pipeline_runs"] for s in d["steps"]]
    assert [(s["node"], s["sample"]) for s in steps] == [("b", "s2"), ("b", "s2")]
    completed = wfc_json(chained, "runs", "--status", "completed")
    assert [d["id"] for d in completed["pipeline_runs"]] == [first["pipeline_run"]]
    assert (
        wfc_json(chained, "runs", "--since", "1h", "--limit", "1")["pipeline_runs"][0]["id"]
        == (second["pipeline_run"])
    )
    assert wfc_json(chained, "runs", "--since", "2999-01-01")["pipeline_runs"] == []

    text = chained.wfc("runs", check=True).stdout
    assert "chain" in text and first["pipeline_run"] in text
    steps_text = chained.wfc("runs", first["pipeline_run"][:12], check=True).stdout
    assert steps_text.count("completed") == 4 and "b[s1]" in steps_text


def test_show_has_everything_recorded(chained: Proj) -> None:
    subprocess.run(["git", "init", "-q", str(chained.root)], check=True)
    subprocess.run(
        [
            "git",
            "-C",
            str(chained.root),
            "-c",
            "user.name=t",
            "-c",
            "user.email=t@t",
            "commit",
            "-q",
            "--allow-empty",
            "-m",
            "start",
        ],
        check=True,
    )
    head = subprocess.run(
        ["git", "-C", str(chained.root), "rev-parse", "HEAD"], capture_output=True, text=True, check=True
    ).stdout.strip()
    ids = run_pipeline(chained)["ids"]
    b = wfc_json(chained, "show", ids["b[s1]"])
    assert b["schema"] == "wfc.show/1" and b["status"] == "completed"
    assert (b["module"], b["method"], b["node_id"], b["sample"]) == ("t", "copy", "b", "s1")
    assert b["code_hash"].startswith("blake3:") and b["contract_hash"].startswith("blake3:")
    assert b["params"] == {"k": 1, "mode": "ok", "sleep": 0.0, "token": ""}
    assert b["env_name"] == "python" and b["env_digest"].startswith("sha256:")
    assert b["key"].startswith("blake3:") and b["host"] and b["ended_at"] >= b["started_at"]
    assert b["pipeline_run"]["git_commit"] == head
    [inp] = b["inputs"]
    assert inp["slot"] == "data" and inp["source"] == {"run": ids["a[s1]"], "slot": "out", "node": "a"}
    [out] = b["outputs"]
    assert out["slot"] == "out" and out["path"] == "out.txt" and out["kind"] == "file"
    assert out["size"] == len((chained.root / "s1.txt").read_bytes()) + len(b"k=1 sample=s1\n") * 2
    assert b["logs"]["stdout"]["file"] == f".wfc/runs/{ids['b[s1]']}/stdout.log"
    assert b["logs"]["stdout"]["object"].startswith("blake3:")

    a = wfc_json(chained, "show", ids["a[s1]"][:20])  # a unique prefix is enough
    [root_input] = a["inputs"]
    assert root_input["source"] == {"sample": "s1", "version": 1} and root_input["hash"].startswith("blake3:")

    text = chained.wfc("show", "last:b[s1]", check=True).stdout
    for expected in (ids["b[s1]"], "t/copy", "run " + ids["a[s1]"], head, "out.txt"):
        assert expected in text


def test_logs_are_bytes_of_any_size_and_survive_the_run_dir(chained: Proj) -> None:
    chained.write_pipeline(chain(a={"mode": "noisy"}))
    ids = run_pipeline(chained)["ids"]
    run_id = ids["a[s1]"]
    log_file = chained.root / ".wfc" / "runs" / run_id / "stdout.log"
    expected = log_file.read_bytes()
    assert len(expected) > 6_000_000 and b"caf\xe9" in expected

    def raw(*args: str) -> subprocess.CompletedProcess[bytes]:
        return subprocess.run(
            [sys.executable, "-m", "wfc", *args], env=chained.env(), capture_output=True, check=False
        )

    got = raw("logs", run_id)
    assert got.returncode == 0 and got.stdout == expected
    shutil.rmtree(log_file.parent)  # the store keeps the logs
    again = raw("logs", run_id)
    assert again.returncode == 0 and again.stdout == expected
    assert raw("logs", run_id, "--stderr").stdout == b""
    cached = run_pipeline(chained)["ids"]["a[s1]"]
    via_hit = raw("logs", cached)
    assert via_hit.stdout == expected and f"which cached run {cached} reused".encode() in via_hit.stderr


def test_logs_follow_streams_until_the_run_ends(chained: Proj) -> None:
    chained.write_pipeline(chain(a={"sleep": 4, "token": "-followed"}))
    step, run_id = start_running_step(chained)
    try:
        follow = chained.wfc("logs", run_id, "--follow", timeout=60)
        assert step.wait(timeout=60) == 0
    finally:
        step.kill()
    assert follow.returncode == 0
    assert "-followed" in follow.stdout  # printed by the method before it slept
    shown = wfc_json(chained, "show", run_id)
    assert shown["status"] == "completed"  # --follow returned only once the run had ended


def test_lineage_up_down_across_pipeline_runs_and_formats(chained: Proj) -> None:
    first = run_pipeline(chained)["ids"]
    chained.write_pipeline(chain(b={"k": 2}))  # only b re-runs; it reads a's first outputs
    second = run_pipeline(chained)["ids"]
    tree = chained.wfc("lineage", second["b[s1]"], check=True).stdout
    assert tree.splitlines()[0].startswith(second["b[s1]"] + " b[s1] t/copy completed")
    assert f"data ← out of {first['a[s1]']} a[s1] t/probe completed" in tree
    assert "data ← sample s1@1 blake3:" in tree
    assert "s2" not in tree

    down = json.loads(chained.wfc("lineage", first["a[s1]"], "--down", "--format", "json", check=True).stdout)
    consumers = {r["id"] for r in down["runs"]} - {first["a[s1]"]}
    assert {first["b[s1]"], second["b[s1]"]} <= consumers  # across both pipeline runs
    assert all(e["from"] == first["a[s1]"] for e in down["edges"])
    hit_down = json.loads(chained.wfc("lineage", second["a[s1]"], "--down", "--format", "json").stdout)
    assert second["b[s1]"] in {r["id"] for r in hit_down["runs"]}  # a cache hit leads to its source's users

    dot = chained.wfc("lineage", second["b[s1]"], "--format", "dot", check=True).stdout
    assert dot.startswith("digraph lineage {") and f'"{first["a[s1]"]}" -> "{second["b[s1]"]}"' in dot
    assert '"sample:s1@1" -> "' + first["a[s1]"] + '"' in dot


def test_why_names_each_changed_component(chained: Proj, built_envs: Path) -> None:
    run_pipeline(chained)
    same = wfc_json(chained, "why", "pipeline.json", "--node", "b", "--sample", "s1")["steps"]
    assert same[0]["status"] == "cached" and same[0]["reasons"][0].startswith("same key as run ")

    chained.write_pipeline(chain(a={"k": 5}, b={"token": "x"}))
    helper = chained.root / "methods" / "t" / "copy" / "inc" / "helper.py"
    helper.parent.mkdir()
    helper.write_text("VALUE = 1\n")
    out = chained.wfc("why", "pipeline.json", "--node", "b", "--sample", "s1", check=True).stdout
    assert "b[s1]: will run" in out
    assert '  - params.token: "" -> "x"' in out
    assert "  - code: methods/t/copy/inc/helper.py added" in out
    assert "  - input data: unknown until upstream steps run (a[s1])" in out

    a_run = chained.run_step("a", "--sample", "s1")
    assert a_run["status"] == "completed"
    out = chained.wfc("why", "pipeline.json", "--node", "b", "--sample", "s1", check=True).stdout
    assert (
        "  - input data: slot 'data': upstream a[s1] re-ran and produced different bytes"
        f" (run {a_run['run_id']})" in out
    )
    a_why = wfc_json(chained, "why", "pipeline.json", "--node", "a", "--sample", "s2")["steps"][0]
    assert a_why["reasons"] == ["params.k: 1 -> 5"]

    (chained.root / "methods" / "t" / "probe" / "main.py").write_text(
        (chained.root / "methods" / "t" / "probe" / "main.py").read_text() + "\n# edited\n"
    )
    lock_path = chained.root / "environments" / "python" / "env.lock.json"
    lock = json.loads(lock_path.read_text())
    other = json.loads((built_envs / "shell" / "env.lock.json").read_text())["image_id"]
    lock_path.write_text(json.dumps({**lock, "image_id": other}))
    (chained.root / "s2.txt").write_text("gamma\n")
    chained.wfc("sample", "add", "s2", "s2.txt", check=True)
    reasons = wfc_json(chained, "why", "pipeline.json", "--node", "a", "--sample", "s2")["steps"][0][
        "reasons"
    ]
    assert reasons == [
        "code: methods/t/probe/main.py changed",
        "params.k: 1 -> 5",
        f"environment: image digest changed ({lock['image_id'][:19]} -> {other[:19]})",
        "input data: slot 'data': sample s2 changed (version 1 -> 2)",
    ]
    plan = chained.wfc("plan", "pipeline.json", "--explain", check=True).stdout
    assert "a[s2]: will run" in plan and "sample s2 changed (version 1 -> 2)" in plan


def test_why_after_a_failure_and_with_missing_outputs(chained: Proj) -> None:
    chained.write_pipeline(chain(a={"mode": "fail"}))
    chained.wfc("run-pipeline", "pipeline.json", "--keep-going", timeout=600)
    why = wfc_json(chained, "why", "pipeline.json", "--node", "a", "--sample", "s1")["steps"][0]
    assert why["status"] == "will run"
    assert why["reasons"] == [
        f"same key as run {why['compared_with']}, but it failed: ValueError: the input is bad"
    ]


def test_export_copies_verified_bytes_and_refuses_to_overwrite(chained: Proj) -> None:
    ids = run_pipeline(chained)["ids"]
    dest = chained.root / "exported"
    dest.mkdir()
    done = wfc_json(chained, "export", ids["b[s1]"], "out", str(dest))
    target = dest / "out.txt"
    assert done["dest"] == str(target) and target.read_bytes().endswith(b"k=1 sample=s1\n")
    assert os.access(target, os.W_OK)  # the user's copy is writable, unlike the store's
    again = chained.wfc("export", ids["b[s1]"], str(dest))
    assert again.returncode == 2
    assert again.stderr.splitlines() == [
        f"error: {target} already exists: not overwriting it",
        "hint: choose another destination, or pass --force to replace it",
    ]
    target.write_text("changed by hand")
    chained.wfc("export", ids["b[s1]"], str(target), "--force", check=True)
    assert target.read_bytes().endswith(b"k=1 sample=s1\n")

    hit = run_pipeline(chained)["ids"]["b[s1]"]
    shown = chained.wfc("export", hit, str(dest / "from-hit.txt"), check=True)
    assert f"(outputs of run {ids['b[s1]']})" in shown.stderr

    digest = done["hash"].split(":")[1]
    obj = chained.root / ".wfc" / "store" / "objects" / digest[:2] / digest[2:]
    obj.chmod(0o644)
    obj.write_bytes(b"rotten")
    bad = chained.wfc("export", ids["b[s1]"], str(dest / "never.txt"))
    assert bad.returncode == 1 and "is corrupt" in bad.stderr.splitlines()[0]
    assert not (dest / "never.txt").exists()
