"""Cache care on real runs: verify finds corrupt and missing objects, gc keeps what is needed and
removes the rest, stats counts, pins hold."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import Proj, chain, run_pipeline, start_running_step, wfc_json

pytestmark = pytest.mark.docker


def obj_path(proj: Proj, digest: str) -> Path:
    hexpart = digest.split(":")[1]
    return proj.root / ".wfc" / "store" / "objects" / hexpart[:2] / hexpart[2:]


def outputs(proj: Proj, run_id: str) -> list[dict[str, Any]]:
    return list(wfc_json(proj, "show", run_id)["outputs"])


def test_verify_reports_corrupt_and_missing_objects_with_their_runs(chained: Proj) -> None:
    ids = run_pipeline(chained)["ids"]
    ok = wfc_json(chained, "cache", "verify")
    assert ok["problems"] == [] and ok["objects"] > 8
    assert "all good" in chained.wfc("cache", "verify", check=True).stderr

    [a_out] = outputs(chained, ids["a[s1]"])
    [b_out] = outputs(chained, ids["b[s2]"])
    rotten = obj_path(chained, a_out["hash"])
    rotten.chmod(0o644)
    rotten.write_bytes(b"bit rot")
    obj_path(chained, b_out["hash"]).unlink()
    proc = chained.wfc("cache", "verify")
    assert proc.returncode == 1
    lines = proc.stderr.splitlines()
    assert f"corrupt: {a_out['hash']} (used by {ids['a[s1]']})" in lines
    assert f"missing: {b_out['hash']} (used by {ids['b[s2]']})" in lines
    assert lines[-2].endswith(": 2 problems")
    assert (chained.root / ".wfc" / "store" / "quarantine" / a_out["hash"].split(":")[1]).is_file()
    doc = json.loads(chained.wfc("cache", "verify", "--json").stdout)
    assert {(p["problem"], p["hash"]) for p in doc["problems"]} == {
        ("missing", a_out["hash"]),  # quarantined by the first verify: now missing
        ("missing", b_out["hash"]),
    }
    rerun = run_pipeline(chained)  # both are re-made ("outputs missing")
    assert rerun["counts"]["completed"] == 2
    assert wfc_json(chained, "cache", "verify")["problems"] == []


def test_gc_keeps_referenced_and_recent_objects_and_keep_last_prunes(chained: Proj) -> None:
    first = run_pipeline(chained)["ids"]
    chained.write_pipeline(chain(a={"k": 2}))
    second = run_pipeline(chained)["ids"]
    everything = wfc_json(chained, "cache", "gc", "--grace", "0")
    assert everything["removed"] == []  # every object belongs to a recorded run or sample

    dry = wfc_json(chained, "cache", "gc", "--keep-last", "1", "--grace", "0", "--dry-run")
    old = {o["hash"] for name in ("a[s1]", "a[s2]", "b[s1]", "b[s2]") for o in outputs(chained, first[name])}
    assert old <= set(dry["removed"]) and dry["dry_run"]
    assert all(obj_path(chained, d).exists() for d in dry["removed"])

    pinned = first["b[s1]"]
    chained.wfc("cache", "pin", pinned, "--note", "figure 1", check=True)
    done = wfc_json(chained, "cache", "gc", "--keep-last", "1", "--grace", "0")
    shown = wfc_json(chained, "show", pinned)
    pinned_objects = {shown["outputs"][0]["hash"], *(v["object"] for v in shown["logs"].values())}
    assert all(obj_path(chained, d).exists() for d in pinned_objects)
    assert set(done["removed"]) == set(dry["removed"]) - pinned_objects
    assert all(not obj_path(chained, d).exists() for d in done["removed"])
    for name in second:
        for out in outputs(chained, second[name]):
            assert obj_path(chained, out["hash"]).exists()
    assert wfc_json(chained, "cache", "verify")["problems"] == []  # pruned runs are no longer expected
    assert run_pipeline(chained)["counts"]["cached"] == 4

    chained.write_pipeline(chain())
    back = run_pipeline(chained)  # the pruned outputs are made again
    assert back["counts"]["completed"] == 3  # a[s1], a[s2], b[s2]; b[s1] is pinned, so still there


def test_gc_spares_objects_written_while_a_step_runs(chained: Proj) -> None:
    run_pipeline(chained)
    chained.write_pipeline(chain(a={"sleep": 6}))
    step, _ = start_running_step(chained)
    try:
        time.sleep(1)
        orphan = _orphan(chained)  # as if the running step had just archived an output
        during = wfc_json(chained, "cache", "gc", "--grace", "0")
        assert orphan not in during["removed"] and during["kept_recent"] >= 1
        assert step.wait(timeout=60) == 0
    finally:
        step.kill()
    path = obj_path(chained, orphan)
    os.utime(path, (time.time() - 3600, time.time() - 3600))
    after = wfc_json(chained, "cache", "gc", "--grace", "60")
    assert after["removed"] == [orphan] and not path.exists()


def _orphan(proj: Proj) -> str:
    code = (
        "import sys; from pathlib import Path; from wfc.store.local import ObjectStore; "
        "print(ObjectStore(Path(sys.argv[1])).put_bytes(b'orphan bytes'))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, str(proj.root / ".wfc" / "store")],
        env=proj.env(),
        capture_output=True,
        text=True,
        check=True,
    )
    return out.stdout.strip()


def test_stats_counts_objects_dedup_and_hit_rate(chained: Proj) -> None:
    run_pipeline(chained)
    run_pipeline(chained)
    doc = wfc_json(chained, "cache", "stats")
    assert doc["runs"] == {"completed": 4, "cached": 4}
    assert doc["hit_rate"] == 0.5
    assert doc["objects"] > 0 and doc["bytes"] > doc["data_bytes"] > 0
    samples = sum(os.path.getsize(chained.root / f"s{i}.txt") for i in (1, 2))
    assert doc["logical_bytes"] == 2 * doc["bytes_reused_by_hits"] + samples  # each output twice
    assert doc["dedup_ratio"] == round(doc["logical_bytes"] / doc["data_bytes"], 3) > 1.5
    text = chained.wfc("cache", "stats", check=True).stdout
    assert "hit rate" in text and "50.0%" in text
