"""``wfc run-pipeline ... -- --executor cluster-generic`` whose submit command starts every job in a
fresh ``docker run`` container (tests/fixtures/cluster/docker_submit.py) sharing only the project
files, PostgreSQL and the S3 store (SeaweedFS) with the machine that submits: every step runs in
its job, and keys and output hashes equal those of a plain local run."""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from tests.conftest import FIXTURES, chained_copy, last_run
from tests.postgres_server import PgServer
from tests.seaweed_server import SeaweedServer

pytestmark = pytest.mark.docker
STEPS = ("a[s1]", "a[s2]", "b[s1]", "b[s2]")


def test_run_pipeline_with_cluster_generic_jobs_in_docker_matches_a_local_run(
    built_envs: Path, postgres: PgServer, seaweed: SeaweedServer, tmp_path: Path
) -> None:
    database, label = f"cluster_{uuid.uuid4().hex[:8]}", f"wfc.check=cluster-{uuid.uuid4().hex[:8]}"
    team = {
        **seaweed.env(),
        "WFC_STORE": f"s3://{seaweed.bucket}/{uuid.uuid4().hex[:12]}",
        "WFC_DATABASE_URL": postgres.tcp_url(database),
    }
    postgres.fresh(database)
    head = chained_copy(tmp_path / "head", built_envs, team)
    image = json.loads((head.root / "environments/python/env.lock.json").read_text())["image_id"]
    log = tmp_path / "jobs.log"
    submit = f"{sys.executable} {FIXTURES / 'cluster' / 'docker_submit.py'}"
    jobs = {"WFC_JOB_IMAGE": image, "WFC_JOB_LABEL": label, "WFC_JOB_LOG": str(log)}
    try:
        proc = head.wfc(
            "run-pipeline", "pipeline.json", "--json", "--",
            "--executor=cluster-generic", f"--cluster-generic-submit-cmd={submit}", "--jobs=2",
            env={**team, **jobs}, timeout=900,
        )  # fmt: skip
    finally:
        left = subprocess.run(
            ["docker", "ps", "-aq", "--filter", f"label={label}"], capture_output=True, text=True, check=True
        ).stdout.split()
        if left:
            subprocess.run(["docker", "rm", "-f", *left], capture_output=True, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    result = json.loads(proc.stdout)
    assert {s["name"]: s["status"] for s in result["steps"]} == dict.fromkeys(STEPS, "completed")
    assert not left, left  # every job container ended with its job
    # each step ran in a job container of its own (its run records the host it ran on)
    hosts = sorted(last_run(head, step, team)["host"] for step in STEPS)
    assert hosts == sorted(log.read_text().split()), hosts

    local = chained_copy(tmp_path / "local", built_envs)
    plain = json.loads(local.wfc("run-pipeline", "pipeline.json", "--json", check=True, timeout=600).stdout)
    assert {s["status"] for s in plain["steps"]} == {"completed"}
    for step in STEPS:
        in_jobs, here = last_run(head, step, team), last_run(local, step)
        assert in_jobs["status"] == "completed" and in_jobs["key"] == here["key"], step
        assert [o["hash"] for o in in_jobs["outputs"]] == [o["hash"] for o in here["outputs"]], step
