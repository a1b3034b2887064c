"""``wfc run-pipeline``: compile to a Snakefile, let Snakemake order and parallelise the steps,
serve every step from a warm in-process worker, then complete the record (BRIEF §11, ADR 0009).

After Snakemake returns, every expected concrete step has a record in the pipeline run: the ones
Snakemake skipped as up to date are recorded ``cached`` here (no process per step), the ones that
never ran because an upstream failed are ``cancelled`` with that failure as their cause, and on
Ctrl-C / SIGTERM the running ones are ``cancelled`` ("cancelled by user") and their containers
removed.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import closing, contextmanager, nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import wfc
from wfc.atomic import write_text_atomic
from wfc.compile.expand import ConcreteStep, step_name
from wfc.compile.snakefile import run_step_argv, step_id
from wfc.compile.variables import env_name, resolve_variables
from wfc.errors import UsageError
from wfc.lineage import open_lineage
from wfc.lineage.ids import STEP_PREFIX, new_id
from wfc.lineage.records import Lineage, RunRecord, now
from wfc.model.pipeline import MethodNode, Pipeline, load_pipeline
from wfc.model.status import Status
from wfc.pipeline.generate import generate
from wfc.pipeline.worker import Worker
from wfc.project import Project
from wfc.step.command import Reply, invoke
from wfc.step.lifecycle import record_hit, start_pipeline_run
from wfc.step.resolve import Resolver, Warm

SNAKEMAKE = (
    "import sys; sys.setrecursionlimit(1000000); from snakemake.cli import main; "
    "sys.argv[0] = 'snakemake'; sys.exit(main())"
)
USER_CANCEL = "cancelled by user"


@dataclass
class PipelineResult:
    """What a pipeline run did."""

    pipeline_run_id: str
    status: Status
    steps: list[dict[str, Any]]
    seconds: float
    snakemake_log: str

    @property
    def counts(self) -> dict[str, int]:
        """Steps by status."""
        found = {s.value: 0 for s in Status if s is not Status.RUNNING}
        for step in self.steps:
            found[step["status"]] = found.get(step["status"], 0) + 1
        return found

    def to_json(self) -> dict[str, Any]:
        """The ``--json`` document of ``wfc run-pipeline``."""
        return {
            "schema": "wfc.run-pipeline/1",
            "pipeline_run": self.pipeline_run_id,
            "status": self.status.value,
            "counts": self.counts,
            "seconds": round(self.seconds, 3),
            "steps": self.steps,
            "snakemake_log": self.snakemake_log,
        }


@dataclass
class Progress:
    """Counts steps as the worker finishes them and reports a line per step (or one live line)."""

    total: int
    say: Callable[[str], None]
    started: float = field(default_factory=time.monotonic)
    counts: dict[str, int] = field(default_factory=lambda: {"completed": 0, "cached": 0, "failed": 0})
    running: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __call__(self, event: str, argv: list[str], reply: Reply | None) -> None:
        """The worker's listener."""
        with self._lock:
            if event == "start":
                self.running += 1
                return
            self.running -= 1
            status = reply.status if reply and reply.status else "failed"
            self.counts[status] = self.counts.get(status, 0) + 1
            name = reply.name if reply and reply.name else " ".join(argv[1:])
            self.say(self.line(f"{name} {status}"))
            if status == "failed" and reply is not None:
                errors = [ln for ln in reply.stderr.splitlines() if ln.startswith("error:")]
                self.say("  " + (errors[0] if errors else "error: see the step's log"))

    def line(self, last: str) -> str:
        """``[done/total] last step (completed, cached, failed, running, ETA)``."""
        done = sum(self.counts.values())
        elapsed = time.monotonic() - self.started
        eta = elapsed / done * (self.total - done) if done else 0.0
        c = self.counts
        return (
            f"[{done}/{self.total}] {last} ({c['completed']} ran, {c['cached']} cached, "
            f"{c['failed']} failed, {self.running} running, ETA {int(eta) // 60}:{int(eta) % 60:02d})"
        )


def run_pipeline(
    project: Project,
    pipeline_path: Path,
    *,
    cores: int = 1,
    keep_going: bool = False,
    variables: dict[str, str] | None = None,
    snakemake_args: list[str] | None = None,
    say: Callable[[str], None] = lambda _: None,
    progress_line: Callable[[str], None] | None = None,
) -> PipelineResult:
    """Run every step of a pipeline through Snakemake and record the complete outcome.

    ``say`` receives messages; ``progress_line`` (default: ``say``) one progress line per finished
    step, for a terminal to show in place.

    Raises:
        UsageError: An invalid document, method, param or variable; an environment not built.
        InfraError: Docker or the database is unreachable (checked before anything runs).
        KeyboardInterrupt: After cancelling the run (the record is complete).
    """
    started = time.monotonic()
    pipeline, raw = load_pipeline(pipeline_path)
    given = variables or {}
    values = resolve_variables(pipeline, os.environ, given)
    with closing(open_lineage(project.database_url)) as lineage:
        warm = Warm()
        resolver = Resolver(project, pipeline, lineage, str(pipeline_path), values, warm)
        steps = resolver.expansion.steps()
        fingerprints = _preflight(resolver, steps)
        workdir, lock = _workdir(project, pipeline, pipeline_path)
        with lock:
            snakefile = workdir / "Snakefile"
            write_text_atomic(snakefile, generate(project, pipeline_path, "snakemake")["Snakefile"])
            write_text_atomic(
                workdir / "fingerprints.json", json.dumps(fingerprints, sort_keys=True, indent=1)
            )
            pr_id = start_pipeline_run(lineage, project, pipeline, raw)
            where = project.relative(workdir)
            say(f"pipeline run {pr_id}: {len(steps)} steps, {cores} cores (Snakemake in {where})")
            progress = Progress(len(steps), progress_line or say)
            log = workdir / "snakemake.log"
            interrupted = False
            with Worker(pr_id, given, progress, warm) as worker:
                argv = _snakemake_argv(project, snakefile, workdir, cores, keep_going, snakemake_args or [])
                env = _snakemake_env(worker.path, pr_id, pipeline, given)
                try:
                    code = _run_snakemake(argv, env, log)
                except KeyboardInterrupt:
                    interrupted, code = True, 130
                    _cancel(lineage, pr_id, say)
            if code not in (0, 130) and not any(r.status == "failed" for r in lineage.runs_of(pr_id)):
                say(f"Snakemake stopped with exit code {code}; the end of {project.relative(log)}:")
                for line in log.read_text(errors="replace").splitlines()[-15:]:
                    say(f"  {line}")
            records = _complete(
                project,
                resolver,
                lineage,
                pr_id,
                steps,
                pipeline_path,
                given,
                stopped=code != 0,
                interrupted=interrupted,
            )
            status = _final_status(records, interrupted)
            lineage.finish_pipeline_run(pr_id, status)
    result = PipelineResult(pr_id, status, records, time.monotonic() - started, project.relative(log))
    if interrupted:
        raise KeyboardInterrupt
    return result


def _preflight(resolver: Resolver, steps: list[ConcreteStep]) -> dict[str, dict[str, str]]:
    """Refuse before anything runs (bad params, environments not built, Docker unreachable); return
    every step's fingerprint."""
    fingerprints: dict[str, dict[str, str]] = {}
    digests: dict[str, str] = {}
    for step in steps:
        node = resolver.pipeline.node(step.node)
        assert isinstance(node, MethodNode)
        fingerprints.setdefault(step.node, {})[step_id(step)] = resolver.fingerprint(
            node, step.sample, step.variant
        )
        env = resolver.method(node.method).spec.env
        digests[env] = resolver.lock(env).image_id
    if resolver.project.get("runtime") == "docker" and steps:
        from wfc.runtime.docker import docker_client, require_image

        client = docker_client()
        for env, digest in sorted(digests.items()):
            require_image(client, env, digest)
    return fingerprints


def _workdir(project: Project, pipeline: Pipeline, pipeline_path: Path) -> tuple[Path, Any]:
    """Snakemake's working directory for this document, reused across runs; a fresh one when a
    concurrent run holds it (single-flight keeps the work from being done twice)."""
    doc = hashlib.blake2b(project.relative(pipeline_path).encode(), digest_size=4).hexdigest()
    safe = re.sub(r"[^\w.-]", "_", pipeline.name)
    base = project.state_dir / "snakemake" / f"{safe}-{doc}"
    base.mkdir(parents=True, exist_ok=True)
    lock_path = base / "wfc.lock"
    fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o644)
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


def _snakemake_argv(
    project: Project, snakefile: Path, workdir: Path, cores: int, keep_going: bool, extra: list[str]
) -> list[str]:
    config = {
        "wfc_project": str(project.root),
        "wfc_markers": "markers",
        "wfc_fingerprints": str(workdir / "fingerprints.json"),
        "wfc_command": json.dumps([sys.executable, "-m", "wfc"]),
    }
    return [
        sys.executable,
        "-c",
        SNAKEMAKE,
        "--snakefile",
        str(snakefile),
        "--directory",
        str(workdir),
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
        *extra,
    ]


def _snakemake_env(worker: Path, pr_id: str, pipeline: Pipeline, given: dict[str, str]) -> dict[str, str]:
    """Jobs reach the worker, record into this pipeline run and run this copy of wfc; ``--var``
    values also travel as ``WFC_VAR_*`` for any job that runs as its own process."""
    package_parent = str(Path(wfc.__file__).resolve().parent.parent)
    env = {
        **os.environ,
        "WFC_WORKER": str(worker),
        "WFC_PIPELINE_RUN": pr_id,
        "PYTHONPATH": os.pathsep.join(filter(None, [package_parent, os.environ.get("PYTHONPATH")])),
    }
    env.update({env_name(name): value for name, value in given.items() if name in pipeline.variables})
    return env


def _run_snakemake(argv: list[str], env: dict[str, str], log: Path) -> int:
    """Run Snakemake to the end; on Ctrl-C or SIGTERM stop it (and its jobs) and re-raise."""
    previous = signal.signal(signal.SIGTERM, _raise_interrupt)
    with log.open("w") as out:
        proc = subprocess.Popen(argv, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        try:
            return proc.wait()
        except KeyboardInterrupt:
            _stop(proc)
            raise
        finally:
            signal.signal(signal.SIGTERM, previous)


def _stop(proc: subprocess.Popen[bytes]) -> None:
    for sig, wait in ((signal.SIGTERM, 10), (signal.SIGKILL, 10)):
        try:
            os.killpg(proc.pid, sig)
            proc.wait(timeout=wait)
            return
        except (ProcessLookupError, subprocess.TimeoutExpired):
            continue


def _raise_interrupt(_signum: int, _frame: object) -> None:
    raise KeyboardInterrupt


def _cancel(lineage: Lineage, pr_id: str, say: Callable[[str], None]) -> None:
    """Mark running steps cancelled, then stop and remove this pipeline run's containers."""
    cancelled = lineage.cancel_running(pr_id, USER_CANCEL)
    removed = 0
    try:
        from wfc.runtime.docker import docker_client

        client = docker_client()
        for container in client.containers.list(all=True, filters={"label": f"wfc.pipeline-run={pr_id}"}):
            container.remove(force=True)
            removed += 1
    except Exception as exc:  # cancelling must go on: report and continue
        say(f"warning: could not remove this run's containers: {exc}")
    say(f"interrupted: {cancelled} running steps cancelled, {removed} containers removed")


def _complete(
    project: Project,
    resolver: Resolver,
    lineage: Lineage,
    pr_id: str,
    steps: list[ConcreteStep],
    pipeline_path: Path,
    given: dict[str, str],
    *,
    stopped: bool,
    interrupted: bool,
) -> list[dict[str, Any]]:
    """Give every expected step a record in this pipeline run, and return them all in order."""

    def recorded() -> dict[tuple[str, str | None, str | None], RunRecord]:
        return {(r.node_id, r.sample, r.variant): r for r in lineage.runs_of(pr_id)}

    latest = recorded()
    if not stopped and not interrupted:  # Snakemake found these up to date: record the hits here
        store = project.object_store()
        document = str(pipeline_path.resolve())
        for step in steps:
            if (step.node, step.sample, step.variant.label) in latest:
                continue
            node = resolver.pipeline.node(step.node)
            assert isinstance(node, MethodNode)
            try:
                resolved = resolver.resolve_in(node, step.sample, step.variant)
                hit = record_hit(project, lineage, store, resolved, pr_id, resolver.warm)
            except UsageError:
                hit = False
            if not hit:
                # not reusable after all (the store lost it): run it like any step
                invoke(
                    [document, *run_step_argv(step)],
                    project.root,
                    pipeline_run=pr_id,
                    variables=given,
                    warm=resolver.warm,
                )
        latest = recorded()
    first_failed = next((r for r in latest.values() if r.status == Status.FAILED.value), None)
    summary = []
    for step in steps:
        key = (step.node, step.sample, step.variant.label)
        if key not in latest:
            cause = _failed_cause(resolver, latest, step)
            message = USER_CANCEL if interrupted and cause is None else _cause_message(cause, first_failed)
            cause = cause or first_failed
            latest[key] = _record_cancelled(
                resolver, lineage, pr_id, step, message, cause.id if cause else None
            )
        run = latest[key]
        why = run.error or run.reason or (f"from {run.cache_source_id}" if run.cache_source_id else "")
        summary.append({"name": step.name, "status": run.status, "run_id": run.id, "why": why})
    return summary


def _failed_cause(
    resolver: Resolver, latest: dict[tuple[str, str | None, str | None], RunRecord], step: ConcreteStep
) -> RunRecord | None:
    """The nearest failed ancestor step's run, if any (through cancelled ones)."""
    frontier = resolver.expansion.upstream_steps(step)
    seen = set()
    while frontier:
        nxt = []
        for up in frontier:
            run = latest.get((up.node, up.sample, up.variant.label))
            if run is not None and run.status == Status.FAILED.value:
                return run
            if (up.node, up.sample, up.variant) not in seen:
                seen.add((up.node, up.sample, up.variant))
                nxt.extend(resolver.expansion.upstream_steps(up))
        frontier = nxt
    return None


def _cause_message(cause: RunRecord | None, first_failed: RunRecord | None) -> str:
    if cause is not None:
        return f"not run: upstream step {_name(cause)} failed"
    if first_failed is not None:
        return f"not run: the pipeline stopped after {_name(first_failed)} failed"
    return "not run: Snakemake stopped before this step (see its log)"


def _name(run: RunRecord) -> str:
    return step_name(run.node_id, run.sample, run.variant)


def _record_cancelled(
    resolver: Resolver, lineage: Lineage, pr_id: str, step: ConcreteStep, message: str, cause: str | None
) -> RunRecord:
    node = resolver.pipeline.node(step.node)
    assert isinstance(node, MethodNode)
    method = resolver.method(node.method)
    run = RunRecord(
        id=new_id(STEP_PREFIX),
        pipeline_run_id=pr_id,
        node_id=step.node,
        sample=step.sample,
        variant=step.variant.label,
        members=None,
        module=method.module,
        method=method.name,
        code_hash=method.code_hash,
        contract_hash=method.contract_hash,
        params=resolver.params_of(node, step.sample, step.variant),
        env_name=method.spec.env,
        env_digest=resolver.lock(method.spec.env).image_id,
        key=None,
        status=Status.CANCELLED.value,
        started_at=now(),
        ended_at=now(),
        error=message,
        cancel_cause_id=cause,
    )
    lineage.record_cached(run, [], [])
    return run


def _final_status(steps: list[dict[str, Any]], interrupted: bool) -> Status:
    if interrupted:
        return Status.CANCELLED
    if any(s["status"] in (Status.FAILED.value, Status.CANCELLED.value) for s in steps):
        return Status.FAILED
    return Status.COMPLETED
