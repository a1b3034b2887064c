"""Snakemake as ``run-pipeline``'s scheduler (BRIEF §6a, ADR 0009): its working directory under
``.wfc/``, its command line and environment, and running it to the end, a cancel or Ctrl-C.

Snakemake runs as a child process in its own session, through :mod:`wfc.pipeline.snakemake_cli`
(the recursion limit raised, its exit not held by its timers), with the greedy scheduler; its jobs
reach this run's warm worker through ``$WFC_WORKER``. Stopping it stops its whole process group.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from pathlib import Path

import wfc
from wfc.compile.snakefile import path_segment
from wfc.compile.variables import env_name
from wfc.lineage.ids import new_id
from wfc.model.pipeline import Pipeline
from wfc.pipeline.events import CancelToken
from wfc.project import Project

POLL_S = 0.2  # how often a cancel token is looked at while Snakemake runs


def workdir(
    project: Project, pipeline: Pipeline, pipeline_path: Path
) -> tuple[Path, AbstractContextManager[None]]:
    """Snakemake's working directory for this document, reused across runs, and the lock held
    while it is used; a fresh directory when a concurrent run holds it (single-flight keeps the
    work from being done twice)."""
    doc = hashlib.blake2b(project.relative(pipeline_path).encode(), digest_size=4).hexdigest()
    base = project.state_dir / "snakemake" / f"{path_segment(pipeline.name)}-{doc}"
    base.mkdir(parents=True, exist_ok=True)
    fd = os.open(base / "wfc.lock", os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        fresh = base.with_name(f"{base.name}-{new_id('')}")
        fresh.mkdir(parents=True)
        return fresh, nullcontext()

    @contextmanager
    def holding() -> Iterator[None]:
        try:
            yield
        finally:
            os.close(fd)

    return base, holding()


def argv(
    project: Project,
    snakefile: Path,
    directory: Path,
    *,
    cores: int,
    keep_going: bool,
    forcerun: list[str],
    extra: list[str],
) -> list[str]:
    """The Snakemake command line of one pipeline run."""
    config = {
        "wfc_project": str(project.root),
        "wfc_markers": "markers",
        "wfc_fingerprints": str(directory / "fingerprints.json"),
        # -S: a job's run-step only forwards to the worker, and skipping site-packages' start-up
        # (.pth files) saves a third of its process; run-step loads them when it runs the step itself
        "wfc_command": json.dumps([sys.executable, "-S", "-m", "wfc"]),
    }
    return [
        sys.executable,
        "-m",
        "wfc.pipeline.snakemake_cli",
        "--snakefile",
        str(snakefile),
        "--directory",
        str(directory),
        "--cores",
        str(cores),
        "--scheduler",
        "greedy",
        "--rerun-triggers",
        "mtime",
        "params",
        "input",
        "--config",
        *(f"{k}={v}" for k, v in config.items()),
        *(["--keep-going"] if keep_going else []),
        *(["--forcerun", *forcerun] if forcerun else []),
        *extra,
    ]


def environment(
    project: Project, worker: Path, pr_id: str, pipeline: Pipeline, given: dict[str, str]
) -> dict[str, str]:
    """Jobs reach the worker, record into this pipeline run and run this copy of wfc; settings
    given as options and ``--var`` values also travel as environment variables (``WFC_STORE``,
    ``WFC_VAR_*``…) for any job that runs as its own process (an executor's job elsewhere)."""
    package_parent = str(Path(wfc.__file__).resolve().parent.parent)
    env = {
        **os.environ,
        "WFC_WORKER": str(worker),
        "WFC_PIPELINE_RUN": pr_id,
        "PYTHONPATH": os.pathsep.join(filter(None, [package_parent, os.environ.get("PYTHONPATH")])),
    }
    env.update({s.spec.env: s.value for s in project.settings.values() if s.source == "option"})
    env.update({env_name(name): value for name, value in given.items() if name in pipeline.variables})
    return env


def run(command: list[str], env: dict[str, str], log: Path, cancel: CancelToken | None) -> int | None:
    """Run Snakemake to the end: its exit code, or None when ``cancel`` was set (it is stopped).
    On Ctrl-C or SIGTERM it is stopped too and KeyboardInterrupt re-raised."""
    main = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGTERM, _raise_interrupt) if main else None
    with log.open("w") as out:
        proc = subprocess.Popen(
            command, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
        try:
            while True:
                try:
                    return proc.wait(timeout=POLL_S if cancel is not None else None)
                except subprocess.TimeoutExpired:
                    if cancel is not None and cancel.is_set():
                        stop(proc)
                        return None
        except KeyboardInterrupt:
            stop(proc)
            raise
        finally:
            if main:
                signal.signal(signal.SIGTERM, previous)


def stop(proc: subprocess.Popen[bytes]) -> None:
    """Stop Snakemake and its jobs: SIGTERM to the group, then SIGKILL."""
    for sig, wait in ((signal.SIGTERM, 10), (signal.SIGKILL, 10)):
        try:
            os.killpg(proc.pid, sig)
            proc.wait(timeout=wait)
            return
        except (ProcessLookupError, subprocess.TimeoutExpired):
            continue


def _raise_interrupt(_signum: int, _frame: object) -> None:
    raise KeyboardInterrupt
