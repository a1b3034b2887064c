"""The complete record of a pipeline run (BRIEF §11): after Snakemake returns, every expected
concrete step has a run in the pipeline run.

Steps Snakemake skipped as up to date are recorded ``cached`` here (no process per step; a step
whose outputs vanished from the store runs after all); steps that never ran because an upstream
step failed are ``cancelled`` with the nearest failed ancestor as their cause; after a Ctrl-C or
a cancel, the ones left are ``cancelled by user``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from wfc.compile.expand import ConcreteStep, step_name
from wfc.errors import UsageError
from wfc.lineage.ids import STEP_PREFIX, new_id
from wfc.lineage.records import Lineage, RunRecord, now
from wfc.model.pipeline import MethodNode
from wfc.model.status import Status
from wfc.project import Project
from wfc.step.lifecycle import record_hit
from wfc.step.resolve import Resolver

USER_CANCEL = "cancelled by user"
StepRef = tuple[str, str | None, str | None]  # node, sample, variant label


@dataclass(frozen=True)
class Completion:
    """How the run ended, for completing its record."""

    stopped: bool  # Snakemake did not finish cleanly
    interrupted: bool  # Ctrl-C, SIGTERM or a cancel token


def complete(
    project: Project,
    resolver: Resolver,
    lineage: Lineage,
    pr_id: str,
    steps: list[ConcreteStep],
    how: Completion,
    run_missing: Callable[[ConcreteStep], None],
) -> dict[StepRef, RunRecord]:
    """Give every expected step a record in this pipeline run; return them by step.

    ``run_missing`` runs a step Snakemake found up to date whose outputs are not reusable after
    all (the store lost them), exactly as any step runs.
    """
    latest = _recorded(lineage, pr_id)
    if not how.stopped and not how.interrupted:  # Snakemake found these up to date: record the hits
        store = project.object_store()
        for step in steps:
            if _ref(step) in latest:
                continue
            node = resolver.pipeline.node(step.node)
            assert isinstance(node, MethodNode)
            try:
                resolved = resolver.resolve_in(node, step.sample, step.variant)
                hit = record_hit(project, lineage, store, resolved, pr_id, resolver.warm)
            except UsageError:
                hit = None
            if hit is None:
                run_missing(step)
        latest = _recorded(lineage, pr_id)
    first_failed = next((r for r in latest.values() if r.status == Status.FAILED), None)
    for step in steps:
        if _ref(step) not in latest:
            cause = _failed_cause(resolver, latest, step)
            message = (
                USER_CANCEL if how.interrupted and cause is None else _cause_message(cause, first_failed)
            )
            cause = cause or first_failed
            latest[_ref(step)] = _record_cancelled(
                resolver, lineage, pr_id, step, message, cause.id if cause else None
            )
    return latest


def final_status(records: list[RunRecord], interrupted: bool) -> Status:
    """The pipeline run's status: cancelled when interrupted, failed when any step failed or was
    cancelled, else completed."""
    if interrupted:
        return Status.CANCELLED
    if any(r.status in (Status.FAILED, Status.CANCELLED) for r in records):
        return Status.FAILED
    return Status.COMPLETED


def _ref(step: ConcreteStep) -> StepRef:
    return step.node, step.sample, step.variant.label


def _recorded(lineage: Lineage, pr_id: str) -> dict[StepRef, RunRecord]:
    return {(r.node_id, r.sample, r.variant): r for r in lineage.runs_of(pr_id)}


def _failed_cause(
    resolver: Resolver, latest: dict[StepRef, RunRecord], step: ConcreteStep
) -> RunRecord | None:
    """The nearest failed ancestor step's run, if any (through cancelled ones)."""
    frontier = resolver.expansion.upstream_steps(step)
    seen = set()
    while frontier:
        nxt = []
        for up in frontier:
            run = latest.get(_ref(up))
            if run is not None and run.status == Status.FAILED:
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
