"""What ``wfc reproduce`` will re-run, read from the records and checked before anything runs,
and each step rebuilt from its record as the step lifecycle runs it.

A step run reproduces itself; a cache hit, the execution it reused; a reproduction, its
original; a pipeline run, each of its executed steps (its hits, failures and cancellations are
listed as skipped). Each one must be a completed execution whose code tree (kept since schema
v4), inputs and outputs are all in the store.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from sqlalchemy import select

from wfc.cache.key import StepIdentity
from wfc.errors import UsageError
from wfc.lineage import query
from wfc.lineage.db import Database
from wfc.lineage.records import InputRecord, OutputRecord, RunRecord
from wfc.lineage.schema import RunOutput, Sample
from wfc.methods import Method, parse_method_file
from wfc.model.pipeline import MethodNode
from wfc.model.status import Status
from wfc.ops.history import newest_per_step, step_of
from wfc.step.resolve import InputItem, ResolvedStep
from wfc.store.local import ObjectStore


@dataclass(frozen=True)
class Planned:
    """One recorded execution to re-run: its record, inputs (as recorded and as staged) and outputs."""

    run: RunRecord
    step: str
    inputs: list[InputRecord]
    items: list[InputItem]
    outputs: list[OutputRecord]


def plan(
    db: Database, store: ObjectStore, ref: str, pipeline: str | None
) -> tuple[list[Planned], list[str], str]:
    """The executions ``ref`` names, the steps left out (with why), and the id ``ref`` resolved to.

    Raises:
        UsageError: No such run, nothing executed to reproduce, or a needed object is missing.
    """
    if ref.startswith("p-"):
        pr = query.find_pipeline_run(db, ref)
        runs = newest_per_step(query.step_runs(db, query.RunFilter(), [pr.id]))
        done = [r for r in runs if r.status == Status.COMPLETED and r.cache_source_id is None]
        executed = _originals(db, done)
        skipped = [_skipped(r) for r in runs if r not in done]
        if not executed:
            raise UsageError(
                f"pipeline run {pr.id} has no completed execution to reproduce ({len(skipped)} steps: "
                "cache hits, failures or cancellations)",
                "reproduce the pipeline run whose steps executed (`wfc runs` lists them), or a hit's "
                "source run (`wfc show RUN` names it)",
            )
        return [_checked(db, store, r) for r in executed], skipped, pr.id
    run = query.find_run(db, ref, pipeline)
    asked = run.id
    origin = run.cache_source_id or run.reproduces_id  # a hit or a reproduction: the execution behind
    if origin is not None:
        found = query.run_by_id(db, origin)
        run = found if found is not None else run
    return [_checked(db, store, run)], [], asked


def _checked(db: Database, store: ObjectStore, run: RunRecord) -> Planned:
    """A run as a :class:`Planned`, once it is known to be reproducible here."""
    if run.status != Status.COMPLETED:
        raise UsageError(
            f"cannot reproduce run {run.id}: it is {run.status}; only a completed execution can be re-run",
            "reproduce a completed run (`wfc runs --steps --status completed` lists them)",
        )
    if run.code_tree is None:
        raise UsageError(
            f"cannot reproduce run {run.id}: it was recorded before wfc kept each method's code",
            "run the step again with --force to record an execution that can be reproduced",
        )
    detail = query.run_detail(db, run)
    needed = [("the method code", run.code_tree)]
    needed += [(f"input '{i.slot}'", i.content_hash) for i in detail.inputs]
    needed += [(f"output '{o.slot}'", o.content_hash) for o in detail.outputs]
    for what, digest in needed:
        if not store.has(digest):
            raise UsageError(
                f"cannot reproduce run {run.id}: {what} ({digest}) is not in the store",
                f"fetch it with `wfc cache pull --pipeline-run {run.pipeline_run_id}` from a shared "
                "store that has it, or re-run the step that made it",
            )
    items = [_item(db, i) for i in detail.inputs]
    return Planned(run, step_of(run), detail.inputs, items, detail.outputs)


def _item(db: Database, row: InputRecord) -> InputItem:
    """An input as the lifecycle stages it: under the name it had (a sample's original file name,
    an upstream output's file name)."""
    with db.session() as s:
        if row.source_run_id is None:
            stmt = select(Sample.original_name).where(
                Sample.name == row.sample_name, Sample.version == row.sample_version
            )
        else:
            stmt = select(RunOutput.path).where(
                RunOutput.run_id == row.source_run_id, RunOutput.slot == row.source_slot
            )
        found = s.execute(stmt).scalar()
    name = PurePosixPath(str(found or row.content_hash.split(":")[-1]).rstrip("/")).name
    return InputItem(
        row.slot,
        row.position,
        row.content_hash,
        "dir" if row.kind == "dir" else "file",
        name,
        sample_name=row.sample_name,
        sample_version=row.sample_version,
        source_run_id=row.source_run_id,
        source_slot=row.source_slot,
    )


def _originals(db: Database, runs: list[RunRecord]) -> list[RunRecord]:
    """Executions as themselves, reproductions as the runs they re-ran (each once): reproducing a
    ``reproduce:`` pipeline run re-checks the originals, never a copy of them."""
    found: dict[str, RunRecord] = {}
    for run in runs:
        original = query.run_by_id(db, run.reproduces_id) if run.reproduces_id else run
        if original is not None:
            found.setdefault(original.id, original)
    return list(found.values())


def _skipped(run: RunRecord) -> str:
    source = f" of {run.cache_source_id}" if run.cache_source_id else ""
    return f"{step_of(run)} ({run.status}{source})"


def rebuilt(store: ObjectStore, planned: Planned, method_dir: Path) -> ResolvedStep:
    """The step as the lifecycle runs it, made from the record and the kept code tree."""
    run = planned.run
    store.copying().materialize(str(run.code_tree), "dir", method_dir)  # never a link into the store
    ref = f"{run.module}/{run.method}"
    spec = parse_method_file(method_dir / "method.yaml", f"{ref} (kept code of {run.id})")
    method = Method(run.module, run.method, method_dir, spec, run.code_hash, run.contract_hash, (b"", b""))
    slots: dict[str, list[str]] = {}
    for item in planned.items:
        slots.setdefault(item.slot, []).append(item.digest)
    identity = StepIdentity(
        module=run.module,
        method=run.method,
        code=run.code_hash,
        contract=run.contract_hash,
        params=run.params,
        env_digest=run.env_digest,
        inputs=slots,
        sample=run.sample,
        members=run.members,
    )
    return ResolvedStep(
        node=MethodNode(id=run.node_id, method=ref),
        method=method,
        params=run.params,
        env_name=run.env_name,
        env_digest=run.env_digest,
        sample=run.sample,
        variant=run.variant,
        members=run.members,
        inputs=list[InputItem](planned.items),
        identity=identity,
        key=run.key or "",
    )
