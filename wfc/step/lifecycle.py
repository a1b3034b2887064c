"""``run_step``: the whole lifecycle of one concrete step (BRIEF §6).

resolve -> key -> (hit? record ``cached``) -> claim -> re-check -> stage inputs -> execute ->
collect -> archive -> record. The invariant that matters: a run is recorded ``completed`` in one
transaction with its outputs, after every output object is durably in the store; a crash anywhere
before that leaves the run ``running`` (taken over and failed by the next claimant), never a
``completed`` run without its bytes.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from wfc.compile.variables import resolve_variables
from wfc.errors import StepFailed, UsageError
from wfc.failpoints import failpoint
from wfc.lineage import open_lineage
from wfc.lineage.ids import STEP_PREFIX, new_id
from wfc.lineage.records import HOST, InputRecord, Lineage, OutputRecord, RunRecord, now
from wfc.model.pipeline import Pipeline, load_pipeline
from wfc.model.status import Status
from wfc.project import Project
from wfc.runtime.base import OutputSink, Runtime
from wfc.runtime.factory import make_runtime
from wfc.step.claim import claim, store_guard
from wfc.step.compare import Comparer
from wfc.step.execute import ExecOutput, Execution, execute, keep_sources
from wfc.step.outcome import StepOutcome, push_metrics
from wfc.step.pipeline_run import enter_pipeline_run, leave_pipeline_run
from wfc.step.resolve import ResolvedStep, Resolver, Warm
from wfc.store.archive import archive_outputs
from wfc.store.local import ObjectCorrupt, ObjectMissing, ObjectStore

Reusable = tuple[RunRecord, list[OutputRecord]]
NO_EARLIER_RUN = "no earlier run with this key"


def run_step(
    project: Project,
    pipeline_path: Path,
    node: str,
    sample: str | None = None,
    variant: str | None = None,
    *,
    pipeline_run_id: str | None = None,
    pipeline_run_key: str | None = None,
    force: bool = False,
    output: OutputSink | None = None,
    runtime: Runtime | None = None,
    variables: dict[str, str] | None = None,
    bundle: str | None = None,
    warm: Warm | None = None,
) -> StepOutcome:
    """Run one concrete step of a pipeline document: a hit is recorded ``cached``, a miss executes.

    Args:
        project: The project.
        pipeline_path: The pipeline document (with ``bundle``: its path inside the bundle).
        node: The node id.
        sample: The sample, for a per-sample node.
        variant: A variant name declared by the node.
        pipeline_run_id: Record into this pipeline run; by default an ad-hoc one is created.
        pipeline_run_key: Record into the pipeline run named by this external key (created by
            the first step that uses it; e.g. an Argo workflow uid).
        force: Execute even when a completed run with the same key exists.
        output: Receives the method's output as it is written (stream name, bytes).
        runtime: The runtime (default: the project's ``runtime`` setting, Docker).
        variables: Values of pipeline variables (over ``$WFC_VAR_*`` and defaults).
        bundle: Run the document and methods archived in the store under this digest.
        warm: Caches shared with the other steps of a pipeline run in this process.

    Raises:
        UsageError: Bad document, node, params, or upstream steps that have not run.
        InfraError: Docker or the database is unreachable.
    """
    started = time.monotonic()
    if bundle:
        from wfc.bundle import open_bundle

        project, pipeline_path = open_bundle(project, bundle, pipeline_path)
    own_warm, warm = warm is None, warm or Warm()
    pipeline, raw = _load(pipeline_path, warm)
    lineage = open_lineage(project.database_url)
    values = resolve_variables(pipeline, os.environ, variables or {})
    try:
        step = Resolver(project, pipeline, lineage, str(pipeline_path), values, warm).resolve(
            node, sample, variant
        )
        resolved = time.monotonic()
        pr_id = enter_pipeline_run(lineage, project, pipeline, raw, pipeline_run_id, pipeline_run_key)
    except BaseException:
        lineage.close()
        raise
    life = Lifecycle(
        project, lineage, project.object_store(), step, pr_id, runtime, output, warm, pipeline=pipeline.name
    )
    status = Status.FAILED
    try:
        outcome = life.run(force)
        status = outcome.status
    except KeyboardInterrupt:
        status = Status.CANCELLED
        raise
    finally:
        ad_hoc = pipeline_run_id is None and not pipeline_run_key
        leave_pipeline_run(lineage, pr_id, ad_hoc=ad_hoc, keyed=pipeline_run_id is None, status=status)
        lineage.close()
        if own_warm:
            warm.close()
    total = time.monotonic() - started
    phases = {"resolve": resolved - started, **life.phases, "total": total}
    outcome = replace(outcome, seconds=round(total, 3), phases={k: round(v, 4) for k, v in phases.items()})
    if project.get("pushgateway"):
        push_metrics(project.get("pushgateway"), outcome, step, warm)
    return outcome


def record_hit(
    project: Project,
    lineage: Lineage,
    store: ObjectStore,
    step: ResolvedStep,
    pipeline_run_id: str,
    warm: Warm | None = None,
) -> StepOutcome | None:
    """Record a resolved step as ``cached`` when a verified completed run exists (and push its
    metrics, as ``run_step`` would); None when it is not reusable."""
    if not step.method.spec.cache:
        return None
    started = time.monotonic()
    life = Lifecycle(project, lineage, store, step, pipeline_run_id, None, None, warm or Warm())
    outcome, _ = life.reuse()  # under the shared store's collection lock, like any hit
    if outcome is None:
        return None
    total = time.monotonic() - started
    outcome = replace(
        outcome, seconds=round(total, 3), phases={"resolve": 0.0, **life.phases, "total": total}
    )
    if project.get("pushgateway"):
        push_metrics(project.get("pushgateway"), outcome, step, life.warm)
    return outcome


def find_reusable(lineage: Lineage, store: ObjectStore, key: str) -> tuple[Reusable | None, str | None]:
    """The completed run whose outputs a step with ``key`` can reuse (verified in the store),
    or None and the reason it must run."""
    found = lineage.find_completed(key)
    if found is None:
        return None, NO_EARLIER_RUN
    for out in found[1]:
        try:
            store.verify(out.content_hash, "dir" if out.kind == "dir" else "file")
        except (ObjectMissing, ObjectCorrupt) as exc:
            return None, f"outputs missing: {exc.message}"
    return found, None


@dataclass
class Lifecycle:
    """One resolved step in one pipeline run: look it up, record a hit, or claim and execute it."""

    project: Project
    lineage: Lineage
    store: ObjectStore
    step: ResolvedStep
    pipeline_run_id: str
    runtime: Runtime | None
    output: OutputSink | None
    warm: Warm = field(default_factory=lambda: Warm())
    phases: dict[str, float] = field(default_factory=dict)
    pipeline: str = ""  # the document's name: an executed step's reason compares with its runs first

    def run(self, force: bool) -> StepOutcome:
        """Record a hit, or claim the key and execute (re-checking for a hit once claimed)."""
        spec = self.step.method.spec
        reason: str | None
        if not spec.cache:
            reason = "method declares cache: false"
        elif force:
            reason = "forced"
        else:
            hit_outcome, reason = self.reuse()
            if hit_outcome is not None:
                return hit_outcome
        runtime = self.runtime or self._pooled_runtime()
        try:
            with claim(self.project.state_dir / "locks", self.step.key, self.project.database_url):
                if spec.cache and not force:
                    hit_outcome, _ = self.reuse()  # another claimant may have finished meanwhile
                    if hit_outcome is not None:
                        return hit_outcome
                stale = self.lineage.fail_stale(self.step.key, HOST)
                if stale:  # their process died: so must whatever it left running
                    runtime.reap(stale)
                if reason is None or reason == NO_EARLIER_RUN:
                    reason = Comparer(self.lineage, self.store).reason(self.pipeline, self.step)
                return self.execute(runtime, reason)
        finally:
            if self.runtime is None:
                with self.warm.guard:
                    self.warm.runtimes.append(runtime)

    def reuse(self) -> tuple[StepOutcome | None, str | None]:
        """Record a hit if there is one (under the shared store's collection lock: from finding
        its outputs to naming them); else None and why not."""
        with self._guarded():
            hit, reason = self.lookup()
            return (self.record_hit(*hit) if hit is not None else None), reason

    def lookup(self) -> tuple[Reusable | None, str | None]:
        """The completed run this step can reuse (outputs verified), or None and why not."""
        started = time.monotonic()
        found = find_reusable(self.lineage, self.store, self.step.key)
        self.phases["restore"] = time.monotonic() - started  # a hit's outputs, verified in the store
        return found

    def record_hit(self, source: RunRecord, outputs: list[OutputRecord]) -> StepOutcome:
        """Record this step as ``cached``, reusing ``source``'s outputs, with its own lineage."""
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
        failpoint("hit.before_record")
        self.lineage.record_cached(run, self._input_rows(run_id), rows)
        return self._outcome(run_id, Status.CACHED, rows, cache_source=source.id, metrics=source.metrics)

    def execute(self, runtime: Runtime, reason: str) -> StepOutcome:
        """Run the method (the key must be claimed), then archive and record its outputs, or
        record the failure."""
        run_id = new_id(STEP_PREFIX)
        run_dir = self.project.state_dir / "runs" / run_id
        run_dir.mkdir(parents=True)
        log_dir = self.project.relative(run_dir)
        kept = keep_sources(self.project, self.store, self.step)
        self.lineage.start_run(
            self._new_run(run_id, Status.RUNNING, reason=reason, log_dir=log_dir, **kept),
            self._input_rows(run_id),
        )
        execution = Execution(
            self.project, self.store, self.step, run_id, self.pipeline_run_id, run_dir, runtime, self.output
        )
        try:
            result = execute(execution)
        except KeyboardInterrupt:
            self._fail(run_id, "cancelled by user", Status.CANCELLED)
            raise
        except Exception as exc:
            message = exc.message if isinstance(exc, StepFailed | UsageError) else f"internal error: {exc!r}"
            self._fail(run_id, message, Status.FAILED)
            raise
        self.phases.update(result.phases)
        if result.error is not None:
            self.lineage.fail_run(
                run_id,
                error=result.error,
                tail=result.stderr_tail,
                exit_code=result.exit_code,
                logs=result.logs,
                resources=result.resources,
            )
            return self._outcome(
                run_id,
                Status.FAILED,
                [],
                reason=reason,
                error=result.error,
                stderr_tail=result.stderr_tail,
                exit_code=result.exit_code,
                log_dir=log_dir,
                resources=result.resources,
            )
        archiving = time.monotonic()
        rows = self._archive_and_record(run_id, result)
        failpoint("record.after_commit")
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
            resources=result.resources,
        )

    def _pooled_runtime(self) -> Runtime:
        """A runtime from the warm pool (one per concurrent step), checked like a fresh one."""
        with self.warm.guard:
            runtime = self.warm.runtimes.pop() if self.warm.runtimes else None
        if runtime is None or self.step.env_digest not in self.warm.images:
            runtime = make_runtime(self.project.get("runtime"), self.step.env_name, self.step.env_digest)
            self.warm.images.add(self.step.env_digest)
        return runtime

    def _archive_and_record(self, run_id: str, result: ExecOutput) -> list[OutputRecord]:
        """Put every output into the store, then record the run ``completed`` with them; a disk
        or output that fails on the way records the run ``failed`` (if the database allows)."""
        with self._guarded():  # from the store's answer to the record naming it
            try:
                archived = archive_outputs(self.store, result.out_dir, result.outputs)
                rows = [
                    OutputRecord(
                        run_id=run_id,
                        slot=a.slot,
                        path=a.path,
                        content_hash=a.digest,
                        size=a.size,
                        kind=a.kind,
                    )
                    for a in archived
                ]
                for document in self.step.method.documents:  # for `wfc why`: what the code and contract were
                    self.store.put_bytes(document)
                failpoint("record.before_commit")
            except (OSError, StepFailed) as exc:  # a full or failing disk, a special file: nothing recorded
                message = (
                    exc.message if isinstance(exc, StepFailed) else f"could not store the outputs: {exc}"
                )
                with contextlib.suppress(Exception):  # the database may be on the failing disk too
                    self._fail(run_id, message, Status.FAILED)
                raise
            self.lineage.complete_run(run_id, rows, result.metrics, result.logs, result.resources)
        return rows

    def _guarded(self) -> contextlib.AbstractContextManager[object]:
        """With a shared store, its collection lock, held shared (``store_guard``)."""
        if self.store.remote is None:
            return contextlib.nullcontext()
        return store_guard(self.project.state_dir / "locks", self.project.database_url)

    def _fail(self, run_id: str, message: str, status: Status) -> None:
        self.lineage.fail_run(
            run_id, error=message, tail=None, exit_code=None, logs=(None, None), status=status
        )

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
