"""``wfc run-pipeline ... -- --executor slurm`` on a real one-node SLURM cluster: every step is a
SLURM batch job and runs inside it (not back in run-pipeline's warm worker), and the results equal
those of a plain local ``wfc run-pipeline``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import Proj, chained_copy, last_run
from tests.slurm_cluster import SlurmCluster
from wfc.compile.snakefile import rule_name

pytestmark = [pytest.mark.slurm, pytest.mark.docker]
STEPS = ("a[s1]", "a[s2]", "b[s1]", "b[s2]")
SLURM_ARGS = (
    "--executor=slurm",
    "--jobs=2",
    "--default-resources=slurm_partition=debug",
    "--slurm-no-account",  # no accounting, no accounts (plugin 2.8 ignores it: its guess fails, harmlessly)
    # No accounting: sacct has nothing to read, squeue sees finished jobs for MinJobAge (600 s).
    # The plugin keeps squeue only when MinJobAge >= 3 x the first check's delay.
    "--slurm-status-command=squeue",
    "--slurm-init-seconds-before-status-checks=2",
    "--slurm-keep-successful-logs",  # slurm_logs/rule_RULE/STEP/JOBID.log, read below
)


def test_run_pipeline_on_slurm_matches_a_local_run(
    chained: Proj, built_envs: Path, slurm: SlurmCluster, tmp_path: Path
) -> None:
    before = {job["id"] for job in slurm.jobs()}
    proc = chained.wfc(
        "run-pipeline", "pipeline.json", "--json", "--", *SLURM_ARGS, env=slurm.env(), timeout=600
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    result = json.loads(proc.stdout)
    assert {s["name"]: s["status"] for s in result["steps"]} == dict.fromkeys(STEPS, "completed")

    # Every step was one SLURM batch job of this run that slurmctld saw complete on the node (a step
    # Snakemake ran itself would be missing here): its comment names the step's rule and marker.
    jobs = {job["id"]: job for job in slurm.jobs() if job["id"] not in before}
    assert {(job["state"], job["node"]) for job in jobs.values()} == {("COMPLETED", "localhost")}, jobs
    assert len({job["name"] for job in jobs.values()}) == 1, jobs  # the plugin names jobs by run
    workdir = Path(result["snakemake_log"]).parent
    markers = [(p.parent.name, p.stem) for p in (chained.root / workdir / "markers").glob("*/*.done")]
    assert len(markers) == len(STEPS), markers
    expected = sorted(f"rule_{rule_name(node)}_wildcards_{step}" for node, step in markers)
    assert sorted(job["comment"] for job in jobs.values()) == expected, jobs
    logs = (chained.root / workdir / ".snakemake" / "slurm_logs").rglob("*.log")
    by_log = {p.stem: f"{p.parent.parent.name}_wildcards_{p.parent.name}" for p in logs}
    assert by_log == {job_id: job["comment"] for job_id, job in jobs.items()}, by_log

    local = chained_copy(tmp_path / "local", built_envs)
    plain = json.loads(local.wfc("run-pipeline", "pipeline.json", "--json", check=True, timeout=600).stdout)
    assert {s["status"] for s in plain["steps"]} == {"completed"}
    for step in STEPS:
        on_slurm, here = last_run(chained, step), last_run(local, step)
        assert on_slurm["status"] == "completed" and on_slurm["key"] == here["key"], step
        assert [o["hash"] for o in on_slurm["outputs"]] == [o["hash"] for o in here["outputs"]], step


def test_each_step_runs_in_its_own_slurm_job(probe_project: Proj, slurm: SlurmCluster) -> None:
    proc = probe_project.wfc(
        "run-pipeline", "pipeline.json", "--json", "--", *SLURM_ARGS, env=slurm.env(), timeout=600
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    runs = probe_project.rows("SELECT node_id, sample, status, pid FROM runs")
    assert [status for _, _, status, _ in runs] == ["completed", "completed"], runs
    # The process that ran each step (recorded in its run) is that step's own `wfc run-step` in its
    # SLURM job, not the one run-pipeline process that submitted them all.
    assert len({pid for *_, pid in runs}) == len(runs), runs
