"""The unchanged rerun without Snakemake (wfc/pipeline/shortcut.py): when every step is a verified
hit, run-pipeline records the hits itself; the record equals the one made with Snakemake started,
and anything short of "every step a verified hit" still runs under Snakemake."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.conftest import Proj, chain
from wfc.pipeline.shortcut import LOG_NOTE, wants_snakemake

pytestmark = pytest.mark.docker
STEPS = ("a[s1]", "a[s2]", "b[s1]", "b[s2]")


def _run(proj: Proj, *extra: str) -> dict[str, Any]:
    proc = proj.wfc("run-pipeline", "pipeline.json", "--cores", "2", "--json", *extra, timeout=600)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    result = dict(json.loads(proc.stdout))
    result["log"] = (proj.root / result["snakemake_log"]).read_text()
    return result


def _record(proj: Proj, pr_id: str) -> list[tuple[Any, ...]]:
    """A pipeline run's step records without their ids and times: what the run says it did."""
    runs = proj.rows(
        "SELECT r.node_id, r.sample, r.variant, r.status, r.key, r.cache_source_id, r.reason,"
        " r.code_hash, r.params, r.env_digest, r.exit_code, r.error FROM runs r"
        " WHERE r.pipeline_run_id = ? ORDER BY r.node_id, r.sample",
        pr_id,
    )
    outputs = proj.rows(
        "SELECT r.node_id, r.sample, o.slot, o.path, o.content_hash, o.kind FROM run_outputs o"
        " JOIN runs r ON r.id = o.run_id"
        " WHERE r.pipeline_run_id = ? ORDER BY r.node_id, r.sample, o.slot",
        pr_id,
    )
    inputs = proj.rows(
        "SELECT r.node_id, r.sample, i.slot, i.content_hash, i.kind, i.source_slot, i.sample_name"
        " FROM run_inputs i JOIN runs r ON r.id = i.run_id"
        " WHERE r.pipeline_run_id = ? ORDER BY r.node_id, r.sample, i.slot, i.position",
        pr_id,
    )
    return [*runs, *outputs, *inputs]


def _summary(result: dict[str, Any]) -> tuple[Any, ...]:
    return result["status"], result["counts"], [(s["name"], s["status"], s["why"]) for s in result["steps"]]


def test_an_unchanged_rerun_skips_snakemake_and_records_what_snakemake_would(chained: Proj) -> None:
    first = _run(chained)
    assert {s["name"]: s["status"] for s in first["steps"]} == dict.fromkeys(STEPS, "completed")
    assert first["log"] != LOG_NOTE

    skipped = _run(chained)
    assert skipped["log"] == LOG_NOTE  # Snakemake was not started
    assert {s["name"]: s["status"] for s in skipped["steps"]} == dict.fromkeys(STEPS, "cached")

    with_snakemake = _run(chained, "--", "--printshellcmds")  # an option for Snakemake: it runs
    assert with_snakemake["log"] != LOG_NOTE
    assert "Nothing to be done" in with_snakemake["log"]  # the markers the skip left are up to date
    assert _summary(skipped)[:2] == _summary(with_snakemake)[:2]
    assert [s[:2] for s in _summary(skipped)[2]] == [s[:2] for s in _summary(with_snakemake)[2]]
    assert _record(chained, skipped["pipeline_run"]) == _record(chained, with_snakemake["pipeline_run"])
    assert len(_record(chained, skipped["pipeline_run"])) == 12  # 4 runs, 4 outputs, 4 inputs


def test_a_rerun_short_of_every_step_a_verified_hit_runs_under_snakemake(chained: Proj) -> None:
    _run(chained)
    out = chained.rows(
        "SELECT o.content_hash FROM run_outputs o JOIN runs r ON r.id = o.run_id"
        " WHERE r.node_id = 'b' AND r.sample = 's2' AND r.status = 'completed'"
    )[0][0]
    digest = out.split(":")[1]
    (chained.root / ".wfc" / "store" / "objects" / digest[:2] / digest[2:]).unlink()  # lost from the store
    lost = _run(chained)
    assert lost["log"] != LOG_NOTE
    statuses = {s["name"]: s["status"] for s in lost["steps"]}
    assert statuses == {"a[s1]": "cached", "a[s2]": "cached", "b[s1]": "cached", "b[s2]": "completed"}

    chained.write_pipeline(chain(b={"k": 7}))  # one node changed
    changed = _run(chained)
    assert changed["log"] != LOG_NOTE
    statuses = {s["name"]: s["status"] for s in changed["steps"]}
    assert statuses == {"a[s1]": "cached", "a[s2]": "cached", "b[s1]": "completed", "b[s2]": "completed"}

    forced = _run(chained, "--force", "a")
    assert forced["log"] != LOG_NOTE
    statuses = {s["name"]: s["status"] for s in forced["steps"]}  # b's inputs are the same bytes
    assert statuses == {"a[s1]": "completed", "a[s2]": "completed", "b[s1]": "cached", "b[s2]": "cached"}

    assert _run(chained, "--", "--jobs=2")["log"] == LOG_NOTE  # where jobs run: no jobs to run


def test_only_options_about_where_jobs_run_leave_snakemake_out() -> None:
    assert not wants_snakemake([])
    assert not wants_snakemake(["--executor", "slurm", "--jobs=50", "--slurm-no-account", "-j", "4"])
    assert not wants_snakemake(["--default-resources", "slurm_partition=debug", "mem_mb=100"])
    assert wants_snakemake(["--printshellcmds"])
    assert wants_snakemake(["--executor=slurm", "--dry-run"])
    assert wants_snakemake(["-n"]) and wants_snakemake(["--touch"]) and wants_snakemake(["--forceall"])
