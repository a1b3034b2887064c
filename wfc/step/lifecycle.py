"""``run_step``: the whole lifecycle of one concrete step (BRIEF §6).

resolve -> key -> (hit? record ``cached``) -> claim -> re-check -> stage inputs -> execute ->
collect -> archive -> record. The invariant that matters: a run is recorded ``completed`` in one
transaction with its outputs, after every output object is durably in the store; a crash anywhere
before that leaves the run ``running`` (taken over and failed by the next claimant), never a
``completed`` run without its bytes.
"""

from __future__ import annotations

import os
import shutil
import sys
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from wfc import __version__, metrics
from wfc.cache.hashing import hash_bytes
from wfc.compile.variables import resolve_variables
from wfc.errors import StepFailed, UsageError
from wfc.failpoints import failpoint
from wfc.lineage import open_lineage
from wfc.lineage.ids import PIPELINE_PREFIX, STEP_PREFIX, keyed_id, new_id
from wfc.lineage.records import (
    HOST,
    InputRecord,
    Lineage,
    OutputRecord,
    PipelineRunRecord,
    RunRecord,
    now,
)
from wfc.model.pipeline import Pipeline, load_pipeline
from wfc.model.status import Status
from wfc.project import Project
from wfc.runtime.base import Runtime
from wfc.step.claim import claim
from wfc.step.execute import Execution, execute
from wfc.step.resolve import ResolvedStep, Resolver, Warm
from wfc.store.local import ObjectCorrupt, ObjectMissing, ObjectStore


@dataclass(frozen=True)
class StepOutcome:
    """What ``run_step`` did, as shown by the CLI (and ``--json``)."""

    run_id: str
    pipeline_run_id: str
    name: str
    key: str
    status: Status
    reason: str | None = None
    cache_source: str | None = None
    outputs: dict[str, dict[str, Any]] = field(default_factory=dict)
    error: str | None = None
    exit_code: int | None = None
    log_dir: str | None = None
    seconds: float = 0.0
    phases: dict[str, float] = field(default_factory=dict)  # resolve, restore, run, archive, total
    metrics: dict[str, Any] | None = None  # the method's own (of the reused run, for a hit)

    def to_json(self) -> dict[str, Any]:
        """The ``--json`` document of ``wfc run-step``."""
        return {"schema": "wfc.run-step/1", **{k: getattr(self, k) for k in self.__dataclass_fields__}}


def run_step(
    project: Project,
    pipeline_path: Path,
    node: str,
    sample: str | None = None,
    variant: str | None = None,
    *,
    pipeline_run_id: str | None = None,
    force: bool = False,
    echo: bool = False,
    runtime: Runtime | None = None,
    variables: dict[str, str] | None = None,
    warm: Warm | None = None,
    pipeline_run_key: str | None = None,
) -> StepOutcome:
    """Run one concrete step of a pipeline document: a hit is recorded ``cached``, a miss executes.

    Args:
        project: The project.
        pipeline_path: The pipeline document.
        node: The node id.
        sample: The sample, for a per-sample node.
        variant: A variant name declared by the node.
        pipeline_run_id: Record into this pipeline run; by default an ad-hoc one is created.
        force: Execute even when a completed run with the same key exists.
        echo: Stream the method's output to the terminal.
        runtime: The runtime (default: the project's, Docker).
        variables: ``--var`` values of pipeline variables (over ``$WFC_VAR_*`` and defaults).
        warm: Caches shared with the other steps of a pipeline run in this process.
        pipeline_run_key: Record into the pipeline run named by this external key (created by
            the first step that uses it; e.g. an Argo workflow uid).

    Raises:
        UsageError: Bad document, node, params, or upstream steps that have not run.
        InfraError: Docker or the database is unreachable.
    """
    started = time.monotonic()
    warm = warm or Warm()
    pipeline, raw = _load(pipeline_path, warm)
    lineage = open_lineage(project.database_url)
    store = project.object_store()
    values = resolve_variables(pipeline, os.environ, variables or {})
    step = Resolver(project, pipeline, lineage, str(pipeline_path), values, warm).resolve(
        node, sample, variant
    )
    resolved = time.monotonic()
    ad_hoc = pipeline_run_id is None and not pipeline_run_key
    if pipeline_run_id is not None and not lineage.has_pipeline_run(pipeline_run_id):
        raise UsageError(
            f"unknown pipeline run '{pipeline_run_id}'",
            "pass the id of a recorded pipeline run, or leave --pipeline-run out",
        )
    if pipeline_run_id is None and pipeline_run_key:
        pipeline_run_id = keyed_id(PIPELINE_PREFIX, pipeline_run_key)
        if not lineage.has_pipeline_run(pipeline_run_id):
            start_pipeline_run(lineage, project, pipeline, raw, pipeline_run_id)
    pr_id = pipeline_run_id or start_pipeline_run(lineage, project, pipeline, raw)
    status = Status.FAILED
    try:
        life = _Lifecycle(project, lineage, store, step, pr_id, runtime, echo, warm)
        outcome = life.run(force)
        status = outcome.status
    except KeyboardInterrupt:
        status = Status.CANCELLED
        raise
    finally:
        if ad_hoc:
            final = Status.COMPLETED if status in (Status.COMPLETED, Status.CACHED) else status
            lineage.finish_pipeline_run(pr_id, final)
        elif pipeline_run_key:
            _settle(lineage, pr_id)
        lineage.close()
    total = time.monotonic() - started
    phases = {"resolve": resolved - started, **life.phases, "total": total}
    outcome = replace(outcome, seconds=round(total, 3), phases={k: round(v, 4) for k, v in phases.items()})
    if project.get("pushgateway"):
        push_step(project.get("pushgateway"), outcome, step, warm)
    return outcome


def push_step(url: str, outcome: StepOutcome, step: ResolvedStep, warm: Warm) -> None:
    """Push a finished step's metrics; one warning per process when the gateway fails."""
    labels = {
        "pipeline_run": outcome.pipeline_run_id,
        "node": step.node.id,
        "sample": step.sample or "",
        "variant": step.variant or "",
    }
    body = metrics.exposition(
        status=outcome.status.value,
        method=step.method.ref,
        phases=outcome.phases,
        output_bytes=sum(int(o["size"]) for o in outcome.outputs.values()),
        metrics=outcome.metrics,
    )

    def warn_once(message: str) -> None:
        if url not in warm.warned:
            warm.warned.add(url)
            sys.stderr.write(message + "\n")

    metrics.push(url, labels, body, warn_once)


@dataclass
class _Lifecycle:
    project: Project
    lineage: Lineage
    store: ObjectStore
    step: ResolvedStep
    pipeline_run_id: str
    runtime: Runtime | None
    echo: bool
    warm: Warm = field(default_factory=lambda: Warm())
    phases: dict[str, float] = field(default_factory=dict)

    def run(self, force: bool) -> StepOutcome:
        spec = self.step.method.spec
        reason: str | None
        if not spec.cache:
            reason = "method declares cache: false"
        elif force:
            reason = "forced"
        else:
            hit, reason = self._lookup()
            if hit is not None:
                return self._record_hit(*hit)
        runtime = self.runtime or self._pooled_runtime()
        try:
            with claim(self.project.state_dir / "locks", self.step.key):
                if spec.cache and not force:
                    hit, _ = self._lookup()  # another claimant may have finished meanwhile
                    if hit is not None:
                        return self._record_hit(*hit)
                self.lineage.fail_stale(self.step.key, HOST)
                return self._execute(runtime, reason or "no earlier run with this key")
        finally:
            if self.runtime is None:
                with self.warm.guard:
                    self.warm.runtimes.append(runtime)

    def _pooled_runtime(self) -> Runtime:
        """A runtime from the warm pool (one per concurrent step), checked like a fresh one."""
        with self.warm.guard:
            runtime = self.warm.runtimes.pop() if self.warm.runtimes else None
        if runtime is None or self.step.env_digest not in self.warm.images:
            runtime = _default_runtime(self.project, self.step)
            self.warm.images.add(self.step.env_digest)
        return runtime

    def _lookup(self) -> tuple[tuple[RunRecord, list[OutputRecord]] | None, str | None]:
        started = time.monotonic()
        found = find_reusable(self.lineage, self.store, self.step.key)
        self.phases["restore"] = time.monotonic() - started  # a hit's outputs, verified in the store
        return found

    def _new_run(self, run_id: str, status: Status, **fields: Any) -> RunRecord:
        step = self.step
        return RunRecord(
            id=run_id,
            pipeline_run_id=self.pipeline_run_id,
            node_id=step.node.id,
            sample=step.sample,
            variant=step.variant,
            members=step.members,
            module=step.method.module,
            method=step.method.name,
            code_hash=step.method.code_hash,
            contract_hash=step.method.contract_hash,
            params=step.params,
            env_name=step.env_name,
            env_digest=step.env_digest,
            key=step.key,
            status=status.value,
            started_at=fields.pop("started_at", None) or now(),
            pid=os.getpid(),
            **fields,
        )

    def _input_rows(self, run_id: str) -> list[InputRecord]:
        return [
            InputRecord(
                run_id=run_id,
                slot=i.slot,
                position=i.position,
                content_hash=i.digest,
                kind=i.kind,
                source_run_id=i.source_run_id,
                source_slot=i.source_slot,
                sample_name=i.sample_name,
                sample_version=i.sample_version,
            )
            for i in self.step.inputs
        ]

    def _record_hit(self, source: RunRecord, outputs: list[OutputRecord]) -> StepOutcome:
        run_id = new_id(STEP_PREFIX)
        moment = now()
        run = self._new_run(
            run_id,
            Status.CACHED,
            cache_source_id=source.id,
            started_at=moment,
            ended_at=moment,
            metrics=source.metrics,
            stdout_object=source.stdout_object,
            stderr_object=source.stderr_object,
            exit_code=0,
        )
        rows = [replace(o, run_id=run_id) for o in outputs]
        self.lineage.record_cached(run, self._input_rows(run_id), rows)
        return self._outcome(run_id, Status.CACHED, rows, cache_source=source.id, metrics=source.metrics)

    def _execute(self, runtime: Runtime, reason: str) -> StepOutcome:
        run_id = new_id(STEP_PREFIX)
        run_dir = self.project.state_dir / "runs" / run_id
        run_dir.mkdir(parents=True)
        log_dir = self.project.relative(run_dir)
        self.lineage.start_run(
            self._new_run(run_id, Status.RUNNING, reason=reason, log_dir=log_dir), self._input_rows(run_id)
        )
        try:
            result = execute(
                Execution(
                    self.project,
                    self.store,
                    self.step,
                    run_id,
                    self.pipeline_run_id,
                    run_dir,
                    runtime,
                    self.echo,
                )
            )
        except KeyboardInterrupt:
            self.lineage.fail_run(
                run_id,
                error="cancelled by user",
                tail=None,
                exit_code=None,
                logs=(None, None),
                status=Status.CANCELLED,
            )
            raise
        except Exception as exc:
            message = exc.message if isinstance(exc, StepFailed | UsageError) else f"internal error: {exc!r}"
            self.lineage.fail_run(run_id, error=message, tail=None, exit_code=None, logs=(None, None))
            raise
        self.phases.update(result.phases)
        if result.error is not None:
            self.lineage.fail_run(
                run_id,
                error=result.error,
                tail=result.stderr_tail,
                exit_code=result.exit_code,
                logs=result.logs,
            )
            return self._outcome(
                run_id,
                Status.FAILED,
                [],
                reason=reason,
                error=result.error,
                exit_code=result.exit_code,
                log_dir=log_dir,
            )
        archiving = time.monotonic()
        rows = []
        for slot, rel in sorted(result.outputs.items()):
            digest, size, kind = self.store.put(result.out_dir / rel)
            rows.append(
                OutputRecord(run_id=run_id, slot=slot, path=rel, content_hash=digest, size=size, kind=kind)
            )
            failpoint("archive.after_output")
        for document in self.step.method.documents:  # for `wfc why`: what the code and contract were
            self.store.put_bytes(document)
        self.lineage.complete_run(run_id, rows, result.metrics, result.logs)
        self.phases["archive"] = time.monotonic() - archiving
        shutil.rmtree(result.out_dir.parent / "inputs", ignore_errors=True)
        shutil.rmtree(result.out_dir, ignore_errors=True)
        return self._outcome(
            run_id,
            Status.COMPLETED,
            rows,
            reason=reason,
            exit_code=0,
            log_dir=log_dir,
            metrics=result.metrics,
        )

    def _outcome(self, run_id: str, status: Status, rows: list[OutputRecord], **extra: Any) -> StepOutcome:
        outputs = {
            r.slot: {"path": r.path, "hash": r.content_hash, "size": r.size, "kind": r.kind} for r in rows
        }
        return StepOutcome(
            run_id=run_id,
            pipeline_run_id=self.pipeline_run_id,
            name=self.step.name,
            key=self.step.key,
            status=status,
            outputs=outputs,
            **extra,
        )


def record_hit(
    project: Project,
    lineage: Lineage,
    store: ObjectStore,
    step: ResolvedStep,
    pipeline_run_id: str,
    warm: Warm | None = None,
) -> bool:
    """Record a resolved step as ``cached`` when a verified completed run exists (and push its
    metrics, as ``run_step`` would); False when not."""
    if not step.method.spec.cache:
        return False
    started = time.monotonic()
    life = _Lifecycle(project, lineage, store, step, pipeline_run_id, None, False)
    found, _ = life._lookup()
    if found is None:
        return False
    outcome = life._record_hit(*found)
    if project.get("pushgateway"):
        total = time.monotonic() - started
        phases = {"resolve": 0.0, **life.phases, "total": total}
        push_step(project.get("pushgateway"), replace(outcome, phases=phases), step, warm or Warm())
    return True


def find_reusable(
    lineage: Lineage, store: ObjectStore, key: str
) -> tuple[tuple[RunRecord, list[OutputRecord]] | None, str | None]:
    """The completed run whose outputs a step with ``key`` can reuse (verified in the store),
    or None and the reason it must run."""
    found = lineage.find_completed(key)
    if found is None:
        return None, "no earlier run with this key"
    for out in found[1]:
        try:
            store.verify(out.content_hash, "dir" if out.kind == "dir" else "file")
        except (ObjectMissing, ObjectCorrupt) as exc:
            return None, f"outputs missing: {exc.message}"
    return found, None


def _default_runtime(project: Project, step: ResolvedStep) -> Runtime:
    """The project's runtime, checked before anything runs (engine reachable, image present)."""
    name = project.get("runtime")
    if name == "process":
        from wfc.runtime.process import ProcessRuntime

        return ProcessRuntime()  # wfc runs inside the environment's image already
    if name != "docker":
        raise UsageError(f"unknown runtime '{name}'", "set WFC_RUNTIME / runtime to docker or process")
    from wfc.runtime.docker import DockerRuntime, require_image

    runtime = DockerRuntime()
    require_image(runtime.client, step.env_name, step.env_digest)
    return runtime


def _load(path: Path, warm: Warm) -> tuple[Pipeline, bytes]:
    """Load a pipeline document, once per content version in a warm process."""
    try:
        st = path.stat()
    except OSError:
        return load_pipeline(path)  # reports the missing file
    key = (str(path.resolve()), st.st_mtime_ns, st.st_size)
    if key not in warm.pipelines:
        warm.pipelines[key] = load_pipeline(path)
    return warm.pipelines[key]


def _settle(lineage: Lineage, pr_id: str) -> None:
    """The status of a keyed pipeline run after one of its steps: running while any step runs,
    failed when any failed or was cancelled, else completed (the last step to end decides)."""
    statuses = {r.status for r in lineage.runs_of(pr_id)}
    if Status.RUNNING.value in statuses:
        return
    failed = statuses & {Status.FAILED.value, Status.CANCELLED.value}
    lineage.finish_pipeline_run(pr_id, Status.FAILED if failed else Status.COMPLETED)


def start_pipeline_run(
    lineage: Lineage, project: Project, pipeline: Pipeline, raw: bytes, pr_id: str | None = None
) -> str:
    """Record a new ``running`` pipeline run of a document (frozen with its hash); return its id.
    With ``pr_id`` (a keyed run) a concurrent creator may win: that is fine."""
    wanted = pr_id
    pr_id = pr_id or new_id(PIPELINE_PREFIX)
    record = PipelineRunRecord(
        id=pr_id,
        name=pipeline.name,
        document_hash=hash_bytes(raw),
        document=raw.decode("utf-8", "replace"),
        status=Status.RUNNING.value,
        started_at=now(),
        wfc_version=__version__,
        git_commit=git_commit(project.root),
    )
    try:
        lineage.create_pipeline_run(record)
    except Exception:
        if wanted is None or not lineage.has_pipeline_run(wanted):
            raise
    return pr_id


def git_commit(root: Path) -> str | None:
    """The commit checked out in the repository holding ``root``, read from ``.git`` (no subprocess)."""
    for directory in (root, *root.parents):
        git = directory / ".git"
        if git.is_dir():
            head = (git / "HEAD").read_text().strip()
            if not head.startswith("ref: "):
                return head
            ref = head.removeprefix("ref: ")
            if (git / ref).is_file():
                return (git / ref).read_text().strip()
            packed = git / "packed-refs"
            if packed.is_file():
                for line in packed.read_text().splitlines():
                    if line.endswith(" " + ref):
                        return line.split(" ", 1)[0]
            return None
    return None
