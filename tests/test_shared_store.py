"""The shared store: a local cache in front of S3 (a real SeaweedFS), written through and read
through; ``wfc cache push|pull``; and two project checkouts ("two machines") sharing one PostgreSQL
and one bucket, running the same pipeline at once."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from tests.conftest import Proj, add_environment_sources, add_examples, probe_pipeline
from tests.postgres_server import PgServer
from tests.seaweed_server import SeaweedServer
from wfc.cache.hashing import hash_file
from wfc.store.local import ObjectCorrupt, ObjectMissing, ObjectStore
from wfc.store.s3 import S3Store


@pytest.fixture
def prefix(seaweed: SeaweedServer) -> str:
    """A store URL of this test's own under the session's bucket."""
    return f"s3://{seaweed.bucket}/{uuid.uuid4().hex[:12]}"


@pytest.fixture
def remote(seaweed: SeaweedServer, prefix: str) -> S3Store:
    return S3Store(prefix, env=seaweed.env())


def _tree(root: Path) -> Path:
    (root / "sub" / "empty").mkdir(parents=True)
    (root / "a.txt").write_text("a")
    (root / "sub" / "big.bin").write_bytes(os.urandom(5 << 20))
    return root


def test_objects_are_written_through_and_read_back_through_a_fresh_cache(
    tmp_path: Path, remote: S3Store
) -> None:
    one = ObjectStore(tmp_path / "one", remote=remote)
    (tmp_path / "f.txt").write_text("hello")
    digest, _ = one.put_file(tmp_path / "f.txt")
    tree, _ = one.put_tree(_tree(tmp_path / "dir"))
    files = {str(d) for _p, m, _s, d in one.read_tree(tree) if m != "d"}
    assert remote.list_digests() == {digest, tree, *files}

    other = ObjectStore(tmp_path / "other", remote=remote)  # another machine: an empty cache
    assert not other.has(digest)
    other.materialize(tree, "dir", tmp_path / "back")
    assert hash_file(tmp_path / "back" / "sub" / "big.bin") == hash_file(tmp_path / "dir" / "sub" / "big.bin")
    assert (tmp_path / "back" / "sub" / "empty").is_dir()
    other.verify(digest)
    assert other.path(digest).read_text() == "hello" and other.path(digest).stat().st_mode & 0o777 == 0o444
    assert set(other.iter_objects()) == {digest, tree, *files}
    assert not list((tmp_path / "other" / "tmp").iterdir())


def test_reading_commands_see_shared_objects_without_downloading(tmp_path: Path, remote: S3Store) -> None:
    (tmp_path / "f.txt").write_text("shared")
    digest, _ = ObjectStore(tmp_path / "one", remote=remote).put_file(tmp_path / "f.txt")
    reader = ObjectStore(tmp_path / "reader", remote=remote).reader()
    reader.verify(digest)  # present: in the shared store
    with pytest.raises(ObjectMissing, match=r"^object blake3:0{64} is missing from the store$"):
        reader.verify("blake3:" + "0" * 64)
    assert not (tmp_path / "reader").exists()  # nothing written, not even a directory


def test_a_corrupt_shared_object_is_refused_and_nothing_is_kept(
    tmp_path: Path, remote: S3Store, seaweed: SeaweedServer
) -> None:
    (tmp_path / "f.txt").write_text("the truth")
    digest, _ = ObjectStore(tmp_path / "one", remote=remote).put_file(tmp_path / "f.txt")
    seaweed.client().put_object(Bucket=remote.bucket, Key=remote.key(digest), Body=b"a lie")
    other = ObjectStore(tmp_path / "other", remote=remote)
    with pytest.raises(ObjectCorrupt, match=r"is corrupt \(its bytes hash to blake3:"):
        other.verify(digest)
    assert other.iter_objects() == [] and not list((tmp_path / "other" / "tmp").iterdir())


def test_push_and_pull_need_a_shared_store(project: Proj) -> None:
    for verb in ("push", "pull"):
        proc = project.wfc("cache", verb)
        assert proc.returncode == 2
        assert proc.stderr.strip().splitlines() == [
            "error: this project has no shared store (its store is a local directory)",
            "hint: set WFC_STORE=s3://BUCKET/PREFIX (and WFC_S3_ENDPOINT for a server other than AWS)",
        ]


def _checkout(source: Proj, root: Path) -> Proj:
    """Another machine's copy of a project: its files, none of its state (.wfc)."""
    shutil.copytree(source.root, root, ignore=shutil.ignore_patterns(".wfc"), symlinks=True)
    return Proj(root)


def _transfer(proj: Proj, verb: str, env: dict[str, str], *args: str) -> dict[str, object]:
    proc = proj.wfc("cache", verb, "--json", *args, env=env)
    assert proc.returncode == 0, proc.stderr
    return dict(json.loads(proc.stdout))


def test_push_then_pull_move_only_what_is_missing_and_a_killed_pull_resumes(
    chained: Proj, prefix: str, seaweed: SeaweedServer, tmp_path: Path
) -> None:
    (chained.root / "s3.txt").write_text("not in the pipeline\n")
    chained.wfc("sample", "add", "s3", "s3.txt", check=True)
    ran = chained.wfc("run-pipeline", "pipeline.json", "--json", timeout=600)  # a laptop: local store only
    assert ran.returncode == 0, ran.stderr
    pr = json.loads(ran.stdout)["pipeline_run"]
    shared = {**seaweed.env(), "WFC_STORE": prefix}  # the same .wfc/store is now the cache in front
    local = len(ObjectStore(chained.root / ".wfc" / "store").iter_objects())
    first = _transfer(chained, "push", shared)
    assert (first["moved"], first["present"], first["missing"]) == (local, 0, [])
    again = chained.wfc("cache", "push", env=shared)
    assert again.stderr == f"pushed 0 objects (0 bytes) to {prefix}; {local} already there\n"

    other = _checkout(chained, tmp_path / "other")
    env = {**shared, "WFC_DATABASE_URL": f"sqlite:///{chained.root / '.wfc' / 'wfc.db'}"}
    killed = other.wfc(
        "cache", "pull", "--pipeline-run", pr, env={**env, "WFC_FAILPOINT": "store.before_rename"}
    )
    assert killed.returncode == -9
    cache = ObjectStore(other.root / ".wfc" / "store")
    assert all(hash_file(cache.path(d))[0] == d for d in cache.iter_objects())  # nothing half-written
    pulled = _transfer(other, "pull", env, "--pipeline-run", pr)
    assert pulled["moved"] and pulled["missing"] == []
    wanted = int(pulled["moved"]) + int(pulled["present"])  # type: ignore[call-overload]
    assert wanted < local  # the closure of one pipeline run, not the whole store (not sample s3)
    assert _transfer(other, "pull", env, "--pipeline-run", pr)["moved"] == 0
    assert all(hash_file(cache.path(d))[0] == d for d in cache.iter_objects())


def _outputs(url: str) -> dict[str, set[tuple[str, str]]]:
    """Output hashes by step key, of every recorded run in the shared database."""
    from sqlalchemy import create_engine, text

    engine = create_engine(url)
    with engine.connect() as conn:
        rows = conn.execute(
            text("SELECT r.key, o.slot, o.content_hash FROM runs r JOIN run_outputs o ON o.run_id = r.id")
        )
        found: dict[str, set[tuple[str, str]]] = {}
        for key, slot, digest in rows:
            found.setdefault(key, set()).add((slot, digest))
    engine.dispose()
    return found


def test_two_machines_run_one_pipeline_at_once_and_execute_each_key_once(
    chained: Proj, postgres: PgServer, seaweed: SeaweedServer, prefix: str, tmp_path: Path
) -> None:
    url = postgres.fresh(f"wfc_two_{uuid.uuid4().hex[:8]}")
    env = {**seaweed.env(), "WFC_STORE": prefix, "WFC_DATABASE_URL": url}
    for name in ("s1", "s2"):
        chained.wfc("sample", "add", name, f"{name}.txt", env=env, check=True)
    a, b, c = chained, _checkout(chained, tmp_path / "b"), _checkout(chained, tmp_path / "c")
    argv = [sys.executable, "-m", "wfc", "run-pipeline", "pipeline.json", "--json"]
    out = subprocess.PIPE
    procs = [
        subprocess.Popen(argv, cwd=m.root, env=m.env(env), stdout=out, stderr=out, text=True) for m in (a, b)
    ]
    results = [p.communicate(timeout=900) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], [r[1] for r in results]
    statuses = sorted(s["status"] for r in results for s in json.loads(r[0])["steps"])
    assert statuses == ["cached"] * 4 + ["completed"] * 4  # 4 keys, each executed by one machine only

    third = json.loads(
        c.wfc("run-pipeline", "pipeline.json", "--json", env=env, check=True, timeout=600).stdout
    )
    assert {s["status"] for s in third["steps"]} == {"cached"}
    outputs = _outputs(url)
    assert len(outputs) == 4 and all(len({d for _s, d in v}) == len(v) for v in outputs.values())
    cache = ObjectStore(c.root / ".wfc" / "store")
    fetched = set(cache.iter_objects())
    recorded = {d for v in outputs.values() for _s, d in v}
    assert fetched and fetched <= recorded | _tree_files(cache, recorded)  # pulled only what it needed


def _tree_files(store: ObjectStore, digests: set[str]) -> set[str]:
    files: set[str] = set()
    for d in digests:
        if store.has(d):
            try:
                files.update(str(f) for _p, m, _s, f in store.read_tree(d) if m != "d")
            except (ObjectCorrupt, ValueError):
                continue  # a file object, not a tree
    return files


def test_gc_of_the_shared_store_waits_for_a_step_about_to_record_and_keeps_what_it_names(
    chained: Proj, postgres: PgServer, seaweed: SeaweedServer, prefix: str, remote: S3Store, tmp_path: Path
) -> None:
    chained.write_pipeline(probe_pipeline(samples=["s1"]))
    scout = _checkout(
        chained, tmp_path / "scout"
    )  # another team's records: its objects are unreferenced here
    scout.wfc("sample", "add", "s1", "s1.txt", env={**seaweed.env(), "WFC_STORE": prefix}, check=True)
    assert scout.run_step("probe", "--sample", "s1", env={**seaweed.env(), "WFC_STORE": prefix})["_exit"] == 0
    (tmp_path / "junk").write_bytes(b"nobody names this")
    junk = hash_file(tmp_path / "junk")[0]
    remote.put_file(junk, tmp_path / "junk")

    env = {
        **seaweed.env(),
        "WFC_STORE": prefix,
        "WFC_DATABASE_URL": postgres.fresh(f"wfc_gc_{uuid.uuid4().hex[:8]}"),
    }
    chained.wfc("sample", "add", "s1", "s1.txt", env=env, check=True)
    pause = tmp_path / "paused"
    paused = {**env, "WFC_PAUSEPOINT": "record.before_commit", "WFC_PAUSE_FILE": str(pause)}
    argv = [
        sys.executable,
        "-m",
        "wfc",
        "run-step",
        "pipeline.json",
        "--node=probe",
        "--sample",
        "s1",
        "--json",
    ]
    out = subprocess.PIPE
    with subprocess.Popen(
        argv, cwd=chained.root, env=chained.env(paused), stdout=out, stderr=out, text=True
    ) as step:
        deadline = time.monotonic() + 120
        while not pause.exists() and step.poll() is None and time.monotonic() < deadline:
            time.sleep(0.1)
        assert pause.exists(), step.communicate()  # archived (the same bytes as the scout's), not recorded
        gc_argv = [sys.executable, "-m", "wfc", "cache", "gc", "--shared", "--grace", "0", "--json"]
        with subprocess.Popen(
            gc_argv, cwd=chained.root, env=chained.env(env), stdout=out, stderr=out, text=True
        ) as gc:
            time.sleep(2)
            assert gc.poll() is None  # waiting for the step to record what it found in the store
            pause.unlink()
            step_out, step_err = step.communicate(timeout=120)
            gc_out, gc_err = gc.communicate(timeout=120)
    assert step.returncode == 0, step_err
    assert gc.returncode == 0, gc_err
    recorded = json.loads(step_out)
    report = json.loads(gc_out)
    assert junk in report["removed"]
    names = {o["hash"] for o in recorded["outputs"].values()}
    assert names and not names & set(report["removed"])
    assert names <= remote.list_digests()  # what the record names is still there for every machine
    rerun = _checkout(chained, tmp_path / "third").run_step("probe", "--sample", "s1", env=env)
    assert rerun["status"] == "cached" and rerun["_exit"] == 0
    again = chained.wfc("cache", "gc", "--shared", "--grace", "0", "--dry-run", env=env)
    assert re.fullmatch(
        r"would remove 0 objects \(0 bytes\); kept \d+ referenced and 0 recent\n", again.stderr
    )


def test_gc_of_the_shared_store_needs_one(project: Proj) -> None:
    proc = project.wfc("cache", "gc", "--shared")
    assert proc.returncode == 2
    assert (
        proc.stderr.strip().splitlines()[0]
        == "error: this project has no shared store (its store is a local directory)"
    )


def test_a_bundled_task_with_no_project_needs_a_shared_store(tmp_path: Path) -> None:
    task = Proj(tmp_path / "scratch" / "project")  # an Argo task's empty project, no volume
    task.root.parent.mkdir()
    env = {"WFC_STORE": "/data/store"}
    proc = task.wfc("run-step", "p.json", "--node", "n", "--bundle", "blake3:" + "0" * 64, env=env)
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr == (
        f"error: {task.root} is not a wfc project and WFC_STORE names no shared store to fetch the "
        "bundle from\nhint: mount the project volume, or set WFC_STORE=s3://BUCKET/PREFIX where "
        "`wfc compile` archived it\n"
    )
    assert not task.root.exists()  # nothing made


def test_a_bundled_task_fills_an_empty_project_from_the_shared_store(
    project: Proj, seaweed: SeaweedServer, prefix: str, tmp_path: Path
) -> None:
    shared = {**seaweed.env(), "WFC_STORE": prefix}
    doc = "examples/pipelines/quickstart.json"
    add_environment_sources(add_examples(project))
    compiled = project.wfc("compile", doc, "--backend", "argo", env=shared, check=True).stdout
    bundle = re.findall(r"blake3:[0-9a-f]{64}", compiled)[0]
    task = Proj(tmp_path / "scratch" / "project")
    task.root.parent.mkdir()
    proc = task.wfc("run-step", doc, "--node", "clean", "--sample", "west", "--bundle", bundle, env=shared)
    for name in ("wfc.toml", "environments/python/Dockerfile", "environments/shell/Dockerfile"):
        assert (task.root / name).read_bytes() == (project.root / name).read_bytes(), name
    assert not (task.root / "methods").exists()  # the methods are read in the bundle
    assert proc.returncode == 2 and "west" in proc.stderr, proc.stderr  # the step resolved against it


def test_settings_given_as_options_travel_to_executor_jobs(project: Proj) -> None:
    from wfc.model.pipeline import Pipeline
    from wfc.pipeline.snakemake import environment
    from wfc.project import Project

    given = Project.load(project.root, {"store": "s3://team/cache", "runtime": "process"})
    pipeline = Pipeline.model_validate(probe_pipeline())
    env = environment(given, project.root / "worker.sock", "pr-1", pipeline, {})
    assert (env["WFC_STORE"], env["WFC_RUNTIME"], env["WFC_PIPELINE_RUN"]) == (
        "s3://team/cache",
        "process",
        "pr-1",
    )
    assert "WFC_DATABASE_URL" not in env or env["WFC_DATABASE_URL"] == os.environ["WFC_DATABASE_URL"]
