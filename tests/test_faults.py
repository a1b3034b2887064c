"""The fault-injection suite (issue 13; ``pytest -m faults`` runs it alone): SIGKILL at every fail
point of a step, of a cache hit, of ``export``, ``sample add`` and ``gc``, for every output shape;
system-call faults from ``strace -e inject=`` (EIO on fsync, ENOSPC on write and rename) and a
full disk; concurrent claimants of one key with the holder killed; many keys at once on SQLite.

After every fault the same invariants are checked (:func:`violations`): each object's bytes hash
to its name, no run is ``completed`` or ``cached`` without its verified outputs, no container of
the project is left, and the next attempt succeeds first time. The figures (faults injected,
trials, violations found: 0) go to ``bench/results/reliability.json``; docs/reliability.md says
what they prove.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import FIXTURES, Proj, chain, project_containers
from tests.postgres_server import PgServer
from tests.reliability import Tally, count, rows, tallying, violations
from wfc.store.local import ObjectStore

pytestmark = [pytest.mark.docker, pytest.mark.faults]

SHAPES = ["file", "big", "dir", "absent"]
STEP_POINTS = [
    "store.before_rename",  # an object half-written in tmp/
    "archive.after_output",  # some outputs stored, none recorded
    "record.before_commit",  # every output stored, the completing commit not made
    "record.after_commit",  # committed, the run directory not cleaned up
    "hit.before_record",  # a cache hit found and verified, not yet recorded
]


def shapes_pipeline(shape: str, nonce: str) -> dict[str, Any]:
    return {
        "version": 1,
        "name": "shapes",
        "nodes": [{"id": "shapes", "method": "t/shapes", "params": {"shape": shape, "nonce": nonce}}],
    }


@pytest.fixture
def shapes_project(probe_project: Proj) -> Proj:
    probe_project.add_method("t/shapes", FIXTURES / "methods" / "t" / "shapes")
    return probe_project


@pytest.fixture(scope="module")
def tally() -> Iterator[Tally]:
    yield from tallying()


def step(proj: Proj, failpoint: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {"WFC_FAILPOINT": failpoint} if failpoint else {}
    return proj.wfc("run-step", "pipeline.json", "--node=shapes", "--json", env=env, timeout=300)


@pytest.mark.parametrize("failpoint", STEP_POINTS)
def test_a_kill_at_any_point_of_a_step_keeps_every_promise(
    shapes_project: Proj, failpoint: str, tally: Tally
) -> None:
    for shape in SHAPES:
        shapes_project.write_pipeline(shapes_pipeline(shape, f"{failpoint}/{shape}"))
        if failpoint == "hit.before_record":
            assert step(shapes_project).returncode == 0  # something to hit
        killed = step(shapes_project, failpoint)
        assert killed.returncode in (-9, 0), killed.stderr  # 0: the point is not on this shape's path
        found = violations(shapes_project)
        again = step(shapes_project)
        if again.returncode != 0 or json.loads(again.stdout)["status"] not in ("completed", "cached"):
            found.append(f"the next attempt failed: {again.stderr.strip()}")
        found += violations(shapes_project)
        count(tally, f"kill:{failpoint}", fault=killed.returncode == -9, found=found)
        assert not found, (failpoint, shape, found)


def test_a_kill_in_export_sample_add_and_gc_keeps_every_promise(shapes_project: Proj, tally: Tally) -> None:
    proj = shapes_project
    proj.write_pipeline(shapes_pipeline("dir", "ops"))
    assert step(proj).returncode == 0
    dest = proj.root / "exported"
    trials = [
        ("export.before_rename", ["export", "last:shapes", "tree", str(dest)], lambda: not dest.exists()),
        ("sample.before_record", ["sample", "add", "s3", "s1.txt"], lambda: True),
        ("gc.after_remove", ["cache", "gc", "--grace", "0"], lambda: True),
    ]
    for failpoint, argv, untouched in trials:
        if failpoint == "gc.after_remove":  # give gc something to remove: an unreferenced object
            store = ObjectStore(proj.root / ".wfc" / "store")
            store.put_bytes(b"nobody uses this")
        killed = proj.wfc(*argv, env={"WFC_FAILPOINT": failpoint})
        found = violations(proj)
        if not untouched():
            found.append(f"{failpoint}: a partial result is visible")
        again = proj.wfc(*argv)
        if again.returncode != 0:
            found.append(f"{failpoint}: the next attempt failed: {again.stderr.strip()}")
        found += violations(proj)
        count(tally, f"kill:{failpoint}", fault=killed.returncode == -9, found=found)
        assert killed.returncode == -9 and not found, (failpoint, killed.stderr, found)
    assert len(list(dest.rglob("*.txt"))) == 200
    assert proj.rows("SELECT name, version FROM samples WHERE name = 's3'") == [("s3", 1)]


def strace(proj: Proj, inject: str, *argv: str) -> subprocess.CompletedProcess[str]:
    """Run a wfc command under ``strace -f -e inject=…`` (every process it starts, but not the
    containers: Docker starts those)."""
    wfc = [sys.executable, "-m", "wfc", *argv]
    return subprocess.run(
        ["strace", "-f", "-qq", "-o", "/dev/null", "-e", f"inject={inject}", *wfc],
        cwd=proj.root,
        env=proj.env(),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


@pytest.mark.parametrize(
    ("inject", "message"),
    [
        ("fsync:error=EIO", "error: disk error: Input/output error"),
        ("fdatasync:error=EIO", "error: the lineage database could not write: disk I/O error"),
        ("rename:error=ENOSPC", "error: disk error: No space left on device"),
        ("pwrite64:error=ENOSPC", "error: database unreachable"),  # SQLite writes with pwrite64
    ],
)
def test_a_failing_disk_is_a_clear_failure_and_the_next_run_succeeds(
    shapes_project: Proj, inject: str, message: str, tally: Tally
) -> None:
    assert shutil.which("strace"), "strace is missing: apt-get install strace"
    shapes_project.write_pipeline(shapes_pipeline("file", inject))
    hurt = strace(shapes_project, inject, "run-step", "pipeline.json", "--node=shapes")
    found = violations(shapes_project)
    lines = hurt.stderr.strip().splitlines()
    clear = len(lines) == 2 and lines[0].startswith(message) and lines[1].startswith("hint: free space")
    if hurt.returncode != 3 or not clear:
        found.append(f"{inject}: exit {hurt.returncode}, said {hurt.stderr.strip()!r}")
    again = step(shapes_project)
    if again.returncode != 0:
        found.append(f"{inject}: the next attempt failed: {again.stderr.strip()}")
    found += violations(shapes_project)
    count(tally, f"syscall:{inject}", fault=True, found=found)
    assert not found


def test_a_full_store_disk_is_a_clear_failure(shapes_project: Proj, tmp_path: Path, tally: Tally) -> None:
    small = tmp_path / "small-store"  # a 1 MiB disk for a 50 MB output
    small.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(small)], check=True)
    try:
        shapes_project.write_pipeline(shapes_pipeline("big", "full"))
        full = shapes_project.wfc("run-step", "pipeline.json", "--node=shapes", env={"WFC_STORE": str(small)})
        lines = full.stderr.strip().splitlines()
        found = []
        if full.returncode != 3 or not lines[0].startswith("error: disk error: No space left on device"):
            found.append(f"full disk: exit {full.returncode}, said {full.stderr.strip()!r}")
        statuses = shapes_project.rows("SELECT status FROM runs")
        if statuses != [("failed",)]:
            found.append(f"full disk: runs recorded {statuses}")
        leftovers = list((small / "tmp").glob("obj-*")) if (small / "tmp").is_dir() else []
        found += [f"full disk: half-written {p.name} left in the store" for p in leftovers]
    finally:
        subprocess.run(["umount", str(small)], check=True)
    again = step(shapes_project)
    if again.returncode != 0:
        found.append(f"full disk: the next attempt failed: {again.stderr.strip()}")
    found += violations(shapes_project)
    count(tally, "disk:full-store", fault=True, found=found)
    assert not found


@pytest.mark.parametrize("claimants", [2, 4, 8])
def test_concurrent_claimants_with_the_holder_killed_execute_once(
    shapes_project: Proj, claimants: int, tally: Tally
) -> None:
    argv = [sys.executable, "-m", "wfc", "run-step", "pipeline.json", "--node=shapes", "--json"]
    for trial in range(10):
        shapes_project.write_pipeline(shapes_pipeline("file", f"race-{claimants}-{trial}"))
        procs = [
            subprocess.Popen(
                argv,
                cwd=shapes_project.root,
                env=shapes_project.env(),
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for _ in range(claimants)
        ]
        time.sleep(0.8)
        procs[0].kill()  # whoever holds the claim by now, or not: the others must cope
        outs = [p.communicate(timeout=300) for p in procs]
        nonce = f"race-{claimants}-{trial}"
        executed = shapes_project.rows(
            "SELECT count(*) FROM runs WHERE status = 'completed' AND params LIKE ?", f'%"{nonce}"%'
        )[0][0]
        found = violations(shapes_project)
        if executed != 1:
            found.append(f"{claimants} claimants, trial {trial}: {executed} executions of one key")
        found += [
            f"claimant {i} failed: {o[1].strip()}"
            for i, (p, o) in enumerate(zip(procs, outs, strict=True))
            if i and p.returncode != 0
        ]
        count(tally, f"race:{claimants}-claimants-holder-killed", fault=True, found=found)
        assert not found


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_sixty_four_keys_at_once_lose_nothing(
    shapes_project: Proj, backend: str, request: pytest.FixtureRequest, tally: Tally
) -> None:
    url = request.getfixturevalue("postgres").fresh("wfc_many") if backend == "postgresql" else None
    env = shapes_project.env({"WFC_DATABASE_URL": url} if url else {})
    doc = {
        "version": 1,
        "name": "many",
        "nodes": [{"id": f"n{i}", "method": "t/shapes", "params": {"nonce": f"many-{i}"}} for i in range(64)],
    }
    shapes_project.write_pipeline(doc)
    argv = [sys.executable, "-m", "wfc", "run-step", "pipeline.json", "--json"]
    out = subprocess.PIPE
    procs = [
        subprocess.Popen(
            [*argv, f"--node=n{i}"], cwd=shapes_project.root, env=env, stdout=out, stderr=out, text=True
        )
        for i in range(64)
    ]
    outs = [p.communicate(timeout=600) for p in procs]
    found = [
        f"n{i}: {o[1].strip()}" for i, (p, o) in enumerate(zip(procs, outs, strict=True)) if p.returncode
    ]
    recorded = rows(shapes_project, "SELECT count(*) FROM runs WHERE status = 'completed'", url)[0][0]
    if recorded != 64:
        found.append(f"{recorded} of 64 runs recorded completed")
    found += violations(shapes_project, url)
    count(tally, f"concurrency:64-keys-{backend}", fault=False, found=found)
    assert not found


def test_the_database_going_away_mid_pipeline_loses_nothing(
    probe_project: Proj,
    postgres: PgServer,
    tally: Tally,
) -> None:
    url = postgres.fresh("wfc_away")
    env = {"WFC_DATABASE_URL": url}
    probe_project.add_method("t/copy", FIXTURES / "methods" / "t" / "probe")
    probe_project.write_pipeline(chain({"sleep": 3}))
    for name in ("s1", "s2"):
        probe_project.wfc("sample", "add", name, f"{name}.txt", env=env, check=True)
    argv = [sys.executable, "-m", "wfc", "run-pipeline", "pipeline.json", "--cores", "2"]
    out = subprocess.PIPE
    with subprocess.Popen(
        argv, cwd=probe_project.root, env=probe_project.env(env), stdout=out, stderr=out, text=True
    ) as run:
        deadline = time.monotonic() + 60
        while not project_containers(probe_project) and time.monotonic() < deadline:
            time.sleep(0.2)
        postgres.stop()  # mid-step: the steps cannot record their end
        try:
            _, err = run.communicate(timeout=300)
        finally:
            postgres.start()
    found = []
    said = err.strip().splitlines()[-2:]
    named = said[:1] and said[0].startswith("error: the lineage database failed: connection is bad")
    hint = "check that the database (WFC_DATABASE_URL) is reachable, then run again: finished steps are kept"
    hinted = said[1:] == [f"hint: {hint}"]
    if run.returncode != 3 or not named or not hinted or "Traceback" in err:
        found.append(f"database away: exit {run.returncode}, said {err.strip()[-400:]!r}")
    found += violations(probe_project, url)
    again = probe_project.wfc("run-pipeline", "pipeline.json", "--cores", "2", "--json", env=env, timeout=600)
    if again.returncode != 0:
        found.append(f"database back: the rerun failed: {again.stderr.strip()}")
    else:
        statuses = {s["status"] for s in json.loads(again.stdout)["steps"]}
        if not statuses <= {"completed", "cached"}:
            found.append(f"database back: the rerun ended {statuses}")
    found += violations(probe_project, url)
    count(tally, "infra:postgresql-stopped-mid-pipeline", fault=True, found=found)
    assert not found
