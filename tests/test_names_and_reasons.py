"""Names that find the right run, and reasons that say what changed (issue 11, parts C and D):
an executed step records the explanation ``wfc why`` gives; ``why`` compares with the same
pipeline first; ``last:STEP`` is the newest run, scoped by ``--pipeline``; ``lineage --down`` of a
cache hit follows the run that made its bytes; ``wfc export PIPELINE_RUN DEST/``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import Proj, chain, run_pipeline, wfc_json

pytestmark = pytest.mark.docker


def test_a_re_run_records_what_changed_as_why_explains_it(chained: Proj) -> None:
    run_pipeline(chained)
    chained.write_pipeline(chain(a={"k": 3}))
    explained = wfc_json(chained, "why", "pipeline.json", "--node", "a", "--sample", "s1")
    assert explained["steps"][0]["reasons"] == ["params.k: 1 -> 3"]
    second = run_pipeline(chained)
    by = {s["name"]: s for s in second["steps"]}
    assert by["a[s1]"]["why"] == "params.k: 1 -> 3"
    assert by["b[s1]"]["why"].startswith("input data: slot 'data': upstream a[s1] re-ran and produced")
    shown = wfc_json(chained, "show", by["a[s1]"]["run_id"])
    assert shown["reason"] == "params.k: 1 -> 3"
    text = chained.wfc("run-step", "pipeline.json", "--node", "a", "--sample", "s2", "--force", check=True)
    assert "(run r-" in text.stderr and "; why: forced) in " in text.stderr


def test_why_compares_with_the_same_pipeline_before_another_that_reuses_the_node_id(chained: Proj) -> None:
    run_pipeline(chained)
    other = chain()
    other["name"] = "other"
    other["nodes"][1]["method"] = "t/copy"  # node 'a' runs another method in another pipeline
    chained.write_pipeline(other, "other.json")
    chained.wfc("run-pipeline", "other.json", "--json", check=True, timeout=600)
    chained.write_pipeline(chain(a={"k": 2}))
    explained = wfc_json(chained, "why", "pipeline.json", "--node", "a", "--sample", "s1")
    assert explained["steps"][0]["reasons"] == ["params.k: 1 -> 2"]  # not "method: t/copy -> t/probe"


def test_last_is_the_newest_run_and_pipeline_scopes_it(chained: Proj) -> None:
    first = run_pipeline(chained)
    other = chain()
    other["name"] = "other"
    chained.write_pipeline(other, "other.json")
    second = json.loads(chained.wfc("run-pipeline", "other.json", "--json", check=True, timeout=600).stdout)
    newest = {s["name"]: s["run_id"] for s in second["steps"]}
    assert wfc_json(chained, "show", "last:a[s1]")["id"] == newest["a[s1]"]
    scoped = wfc_json(chained, "show", "last:a[s1]", "--pipeline", "chain")
    assert scoped["id"] == first["ids"]["a[s1]"]
    missing = chained.wfc("show", "last:a[s1]", "--pipeline", "nope")
    assert missing.returncode == 2
    assert missing.stderr.splitlines()[-2:] == [
        "error: no run of step 'a[s1]' in pipeline 'nope'",
        "hint: name a step as NODE or NODE[SAMPLE]; list them with `wfc runs --steps`",
    ]
    listed = wfc_json(chained, "runs", "--pipeline", "other")
    assert [p["id"] for p in listed["pipeline_runs"]] == [second["pipeline_run"]]


def test_lineage_down_from_a_cache_hit_follows_the_run_that_made_the_bytes(chained: Proj) -> None:
    first = run_pipeline(chained)
    second = run_pipeline(chained)
    hit = second["ids"]["a[s1]"]
    tree = chained.wfc("lineage", hit, "--down", check=True).stdout.splitlines()
    assert tree[1] == f"  (cached: its outputs were made by {first['ids']['a[s1]']}; the runs that used them)"
    consumers = [line for line in tree[2:] if " b[s1] " in line]
    assert len(consumers) == 2  # the b[s1] of both pipeline runs read those bytes
    graph = json.loads(chained.wfc("lineage", hit, "--down", "--format", "json", check=True).stdout)
    assert graph["producer"] == first["ids"]["a[s1]"]


def test_export_a_pipeline_run_into_a_results_folder(chained: Proj, tmp_path: Path) -> None:
    done = run_pipeline(chained)
    dest = tmp_path / "results"
    proc = chained.wfc("export", done["pipeline_run"], str(dest), check=True)
    assert proc.stderr.splitlines()[0].startswith(
        f"exported pipeline run {done['pipeline_run']} (chain) to {dest}/: 4 files, "
    )
    manifest = json.loads((dest / "manifest.json").read_text())
    paths = sorted(f["path"] for f in manifest["files"])
    assert paths == ["a/s1/out.txt", "a/s2/out.txt", "b/s1/out.txt", "b/s2/out.txt"]
    entry = next(f for f in manifest["files"] if f["path"] == "a/s1/out.txt")
    assert (entry["step"], entry["run"], entry["slot"]) == ("a[s1]", done["ids"]["a[s1]"], "out")
    assert entry["size"] == (dest / "a" / "s1" / "out.txt").stat().st_size

    again = chained.wfc("export", done["pipeline_run"], str(dest))
    assert again.returncode == 2
    assert again.stderr.splitlines()[-2:] == [
        f"error: {dest} already exists and is not empty: not overwriting it",
        "hint: choose another destination, or pass --force to replace it",
    ]
    (dest / "stale.txt").write_text("old")
    chained.wfc("export", done["pipeline_run"], str(dest), "--force", check=True)
    assert not (dest / "stale.txt").exists() and (dest / "b" / "s2" / "out.txt").is_file()
    slot = chained.wfc("export", done["pipeline_run"], "out", str(dest))
    assert slot.returncode == 2
    assert "error: a pipeline run exports all its outputs: give only DEST" in slot.stderr
