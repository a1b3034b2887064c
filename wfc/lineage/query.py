"""The read side of the lineage database: history, one run in full, lineage closures, pins.

Every function takes an open :class:`~wfc.lineage.db.Database` (any URL) and issues a bounded
number of queries whatever the size of the answer: a lineage closure is one recursive query
plus one query each for the runs and the inputs it reaches, never one query per node.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select, update

from wfc.errors import UsageError
from wfc.lineage.db import Database
from wfc.lineage.records import InputRecord, OutputRecord, PipelineRunRecord, RunRecord, now
from wfc.lineage.schema import Pin, PipelineRun, Pruned, Run, RunInput, RunOutput, Sample, SavedImage
from wfc.lineage.sqla import to_record
from wfc.model.status import Status


@dataclass(frozen=True)
class RunFilter:
    """Filters of ``wfc runs``; None means any."""

    pipeline: str | None = None
    node: str | None = None
    sample: str | None = None
    status: str | None = None
    since: datetime | None = None
    limit: int = 20


@dataclass(frozen=True)
class RunDetail:
    """Everything recorded about one step run."""

    run: RunRecord
    pipeline_run: PipelineRunRecord
    inputs: list[InputRecord]
    outputs: list[OutputRecord]
    source_nodes: dict[str, str]  # upstream run id -> its node id


LAST = "last:"


def find_run(db: Database, ref: str, pipeline: str | None = None) -> RunRecord:
    """A step run by id or unique id prefix, or ``last:STEP``: the newest run (by start time, not
    counting reproductions) of a step named ``node``, ``node[sample]`` or ``node[sample|variant]``,
    in the pipeline named ``pipeline`` (a name or a pipeline run id) when one is given.

    Raises:
        UsageError: No run, or several, match ``ref``.
    """
    if ref.startswith(LAST):
        return _last_run(db, ref.removeprefix(LAST), pipeline)
    with db.session() as s:
        rows = list(s.execute(select(Run).where(Run.id.startswith(ref, autoescape=True)).limit(2)).scalars())
    if not rows:
        raise UsageError(f"no run '{ref}'", "list runs with `wfc runs --steps`; step run ids start with r-")
    if len(rows) > 1:
        raise UsageError(f"run id '{ref}' is ambiguous", "give more characters of the id")
    return to_record(RunRecord, rows[0])


def _last_run(db: Database, step: str, pipeline: str | None) -> RunRecord:
    _check_step_name(step)
    node, _, rest = step.partition("[")
    sample, _, variant = rest.removesuffix("]").partition("|")
    stmt = select(Run).where(
        Run.node_id == node, Run.reproduces_id.is_(None)
    )  # a re-check is no newer result
    if rest:
        stmt = stmt.where(Run.sample == sample) if sample else stmt.where(Run.sample.is_(None))
        stmt = stmt.where(Run.variant == variant) if variant else stmt
    if pipeline:
        stmt = stmt.join(PipelineRun, PipelineRun.id == Run.pipeline_run_id).where(_named(pipeline))
    with db.session() as s:
        row = s.execute(stmt.order_by(Run.started_at.desc(), Run.id.desc()).limit(1)).scalar_one_or_none()
    if row is None:
        where = f" in pipeline '{pipeline}'" if pipeline else ""
        raise UsageError(
            f"no run of step '{step}'{where}",
            "name a step as NODE or NODE[SAMPLE]; list them with `wfc runs --steps`",
        )
    return to_record(RunRecord, row)


def _named(pipeline: str) -> Any:
    """Pipeline runs of the pipeline named ``pipeline``, or the one pipeline run with that id."""
    return (PipelineRun.name == pipeline) | (PipelineRun.id == pipeline)


def _check_step_name(step: str) -> None:
    """Refuse a ``last:`` reference that is not ``NODE``, ``NODE[SAMPLE]`` or ``NODE[SAMPLE|VARIANT]``."""
    opened, closed = step.count("["), step.count("]")
    if opened != closed:
        problem = "unbalanced [ ]"
    elif opened > 1 or (opened and not (step.endswith("]") and step.index("[") > 0)):
        problem = "not a step name"
    elif not step:
        problem = "names no step"
    else:
        return
    raise UsageError(
        f"bad run reference '{LAST}{step}': {problem}",
        "write last:NODE or last:NODE[SAMPLE] (last:NODE[SAMPLE|VARIANT] for a variant)",
    )


def find_pipeline_run(db: Database, ref: str) -> PipelineRunRecord:
    """A pipeline run by id or unique id prefix.

    Raises:
        UsageError: No pipeline run, or several, start with ``ref``.
    """
    with db.session() as s:
        stmt = select(PipelineRun).where(PipelineRun.id.startswith(ref, autoescape=True)).limit(2)
        rows = list(s.execute(stmt).scalars())
    if not rows:
        raise UsageError(
            f"no pipeline run '{ref}'", "list pipeline runs with `wfc runs`; their ids start with p-"
        )
    if len(rows) > 1:
        raise UsageError(f"pipeline run id '{ref}' is ambiguous", "give more characters of the id")
    return to_record(PipelineRunRecord, rows[0])


def pipeline_runs(db: Database, where: RunFilter) -> list[PipelineRunRecord]:
    """The newest pipeline runs matching the filter (pipeline name, since), newest first."""
    stmt = select(PipelineRun)
    if where.pipeline:
        stmt = stmt.where(_named(where.pipeline))
    if where.since:
        stmt = stmt.where(PipelineRun.started_at >= where.since)
    stmt = stmt.order_by(PipelineRun.started_at.desc(), PipelineRun.id.desc()).limit(where.limit)
    with db.session() as s:
        return [to_record(PipelineRunRecord, r) for r in s.execute(stmt).scalars()]


def step_runs(db: Database, where: RunFilter, pipeline_run_ids: list[str]) -> list[RunRecord]:
    """The step runs of these pipeline runs matching the filter's node, sample, status and since."""
    stmt = select(Run).where(Run.pipeline_run_id.in_(pipeline_run_ids))
    for column, value in ((Run.node_id, where.node), (Run.sample, where.sample), (Run.status, where.status)):
        if value is not None:
            stmt = stmt.where(column == value)
    if where.since:
        stmt = stmt.where(Run.started_at >= where.since)
    with db.session() as s:
        rows = s.execute(stmt.order_by(Run.id.desc())).scalars()
        return [to_record(RunRecord, r) for r in rows]


def run_detail(db: Database, run: RunRecord) -> RunDetail:
    """A run with its pipeline run, inputs, outputs and the node of every upstream run."""
    with db.session() as s:
        pr = s.get(PipelineRun, run.pipeline_run_id)
        ins = list(
            s.execute(
                select(RunInput).where(RunInput.run_id == run.id).order_by(RunInput.slot, RunInput.position)
            ).scalars()
        )
        outs = s.execute(select(RunOutput).where(RunOutput.run_id == run.id).order_by(RunOutput.slot))
        sources = {i.source_run_id for i in ins if i.source_run_id}
        nodes: list[Any] = (
            list(s.execute(select(Run.id, Run.node_id).where(Run.id.in_(sources)))) if sources else []
        )
        return RunDetail(
            run,
            to_record(PipelineRunRecord, pr) if pr else _unknown_pipeline_run(run.pipeline_run_id),
            [to_record(InputRecord, i) for i in ins],
            [to_record(OutputRecord, o) for o in outs.scalars()],
            {rid: node for rid, node in nodes},
        )


def closure(db: Database, run: RunRecord, *, down: bool) -> tuple[list[RunRecord], list[InputRecord]]:
    """The runs reachable from ``run`` through input edges (ancestors, or descendants with
    ``down``), with the input rows of each: two queries (each one recursive CTE) whatever the depth.

    Going down from a cache hit starts at the run it reused as well, so its consumers are found.
    """
    seeds = [run.id] + ([run.cache_source_id] if down and run.cache_source_id else [])
    base = select(Run.id.label("id")).where(Run.id.in_(seeds)).cte("reach", recursive=True)
    step: Any
    if down:
        step = select(RunInput.run_id).join(base, RunInput.source_run_id == base.c.id)
    else:
        step = select(RunInput.source_run_id).join(base, RunInput.run_id == base.c.id)
    reach = base.union(step.where(RunInput.source_run_id.is_not(None)))
    with db.session() as s:
        runs = s.execute(select(Run).join(reach, Run.id == reach.c.id)).scalars()
        found = [to_record(RunRecord, r) for r in runs]
        inputs = s.execute(select(RunInput).join(reach, RunInput.run_id == reach.c.id)).scalars()
        return found, [to_record(InputRecord, i) for i in inputs]


def run_by_id(db: Database, run_id: str) -> RunRecord | None:
    """A run by its exact id."""
    with db.session() as s:
        row = s.get(Run, run_id)
        return to_record(RunRecord, row) if row else None


def finish_reproduction(
    db: Database, run_id: str, outputs: list[OutputRecord], values: dict[str, Any]
) -> None:
    """Close a reproduction (``wfc reproduce``) with its verdict and outputs: one transaction.
    ``values`` are :func:`~wfc.lineage.records.completion` or ``failure`` columns; a failed
    reproduction keeps its outputs too, so that the difference can be exported."""
    with db.session() as s, s.begin():
        done = s.execute(
            update(Run).where(Run.id == run_id, Run.status == Status.RUNNING.value).values(**values)
        )
        if done.rowcount:  # type: ignore[attr-defined]
            s.add_all(RunOutput(**asdict(o)) for o in outputs)


def running_reproductions(db: Database, host: str) -> list[RunRecord]:
    """This host's reproductions still marked ``running`` (those whose process died are stale)."""
    stmt = select(Run).where(
        Run.reproduces_id.is_not(None), Run.status == Status.RUNNING.value, Run.host == host
    )
    with db.session() as s:
        return [to_record(RunRecord, r) for r in s.execute(stmt).scalars()]


def reproductions_of(db: Database, run_id: str) -> list[RunRecord]:
    """The finished reproductions of a run, newest first (``wfc show``: when it was last confirmed)."""
    stmt = select(Run).where(Run.reproduces_id == run_id, Run.status != Status.RUNNING.value)
    with db.session() as s:
        return [to_record(RunRecord, r) for r in s.execute(stmt.order_by(Run.id.desc())).scalars()]


def pin(db: Database, run_id: str, note: str) -> bool:
    """Pin a run's outputs against ``gc``; False when it was pinned already."""
    with db.session() as s, s.begin():
        if s.get(Pin, run_id) is not None:
            return False
        s.add(Pin(run_id=run_id, note=note, pinned_at=now()))
        return True


def unpin(db: Database, run_id: str) -> bool:
    """Remove a pin; False when there was none."""
    with db.session() as s, s.begin():
        row = s.get(Pin, run_id)
        if row is None:
            return False
        s.delete(row)
        return True


def referenced(db: Database, keep_last: int | None) -> dict[str, set[str]]:
    """What ``gc`` must keep and ``verify`` expects, by kind: ``file`` and ``dir`` (output, sample
    and saved-image objects, kept code trees; a dir is a tree whose files count too), ``log`` and
    ``meta`` (code and contract listings that ``wfc why`` reads; older runs may lack them), and
    ``kept`` naming, among the files and dirs, what is kept for ``wfc reproduce`` and is not data
    (code and environment trees, saved images).

    Kept: every sample version and saved image, and the objects of every run not pruned, or with
    ``keep_last`` of the runs of the newest N pipeline runs of each pipeline plus pinned runs.
    """
    runs = _kept_runs(keep_last) if keep_last is not None else select(Run.id)
    runs = runs.where(Run.id.not_in(select(Pruned.run_id)))
    found = _objects_of(db, runs, select(Sample.content_hash, Sample.kind))
    with db.session() as s:
        saved = set(s.execute(select(SavedImage.object)).scalars())
    found["file"] |= saved
    found["kept"] |= saved
    return found


def pipeline_run_objects(db: Database, pipeline_run_id: str) -> dict[str, set[str]]:
    """The objects of one pipeline run, by kind as :func:`referenced` says: what its steps read
    (samples and upstream outputs) and wrote, their logs and their code and contract listings."""
    runs = select(Run.id).where(Run.pipeline_run_id == pipeline_run_id)
    inputs = select(RunInput.content_hash, RunInput.kind).where(RunInput.run_id.in_(runs))
    return _objects_of(db, runs, inputs)


def _objects_of(db: Database, runs: Any, more: Any) -> dict[str, set[str]]:
    found: dict[str, set[str]] = {"file": set(), "dir": set(), "log": set(), "meta": set(), "kept": set()}
    with db.session() as s:
        outputs = select(RunOutput.content_hash, RunOutput.kind).where(RunOutput.run_id.in_(runs))
        for digest, kind in [*s.execute(outputs), *s.execute(more)]:
            found["dir" if kind == "dir" else "file"].add(digest)
        columns = (Run.stdout_object, Run.stderr_object, Run.code_hash, Run.contract_hash)
        kept = (Run.code_tree, Run.env_tree)  # v4: what `wfc reproduce` re-runs from
        for out, err, code, contract, code_tree, env_tree in s.execute(
            select(*columns, *kept).where(Run.id.in_(runs))
        ):
            found["log"].update(d for d in (out, err) if d)
            found["meta"].update((code, contract))
            found["dir"].update(d for d in (code_tree, env_tree) if d)
            found["kept"].update(d for d in (code_tree, env_tree) if d)
    return found


def prune(db: Database, keep_last: int) -> int:
    """Mark every run outside the newest ``keep_last`` pipeline runs of each pipeline (and not
    pinned) as pruned; return how many were newly marked."""
    with db.session() as s, s.begin():
        kept = _kept_runs(keep_last)
        stmt = select(Run.id).where(Run.id.not_in(kept), Run.id.not_in(select(Pruned.run_id)))
        ids = list(s.execute(stmt).scalars())
        moment = now()
        s.add_all(Pruned(run_id=i, pruned_at=moment) for i in ids)
        return len(ids)


def _kept_runs(keep_last: int) -> Any:
    """The ids of runs in the newest ``keep_last`` pipeline runs of each pipeline, and pinned runs."""
    ranked = select(
        PipelineRun.id,
        func.row_number()
        .over(partition_by=PipelineRun.name, order_by=PipelineRun.started_at.desc())
        .label("n"),
    ).subquery()
    kept_prs = select(ranked.c.id).where(ranked.c.n <= keep_last)
    return select(Run.id).where(Run.pipeline_run_id.in_(kept_prs) | Run.id.in_(select(Pin.run_id)))


def counts(db: Database) -> dict[str, Any]:
    """Run counts by status and the bytes recorded as outputs of executed runs and samples."""
    with db.session() as s:
        by_status: dict[str, int] = {
            str(k): int(v) for k, v in s.execute(select(Run.status, func.count()).group_by(Run.status))
        }
        executed = select(Run.id).where(Run.status == Status.COMPLETED.value)
        out_bytes = s.execute(
            select(func.coalesce(func.sum(RunOutput.size), 0)).where(RunOutput.run_id.in_(executed))
        ).scalar_one()
        cached_bytes = s.execute(
            select(func.coalesce(func.sum(RunOutput.size), 0)).where(
                RunOutput.run_id.in_(select(Run.id).where(Run.status == Status.CACHED.value))
            )
        ).scalar_one()
        sample_bytes = s.execute(select(func.coalesce(func.sum(Sample.size), 0))).scalar_one()
        running = s.execute(
            select(func.min(Run.started_at)).where(Run.status == Status.RUNNING.value)
        ).scalar_one()
    return {
        "by_status": {str(k): int(v) for k, v in by_status.items()},
        "output_bytes": int(out_bytes),
        "cached_bytes": int(cached_bytes),
        "sample_bytes": int(sample_bytes),
        "oldest_running": running,
    }


def users_of(db: Database, digests: set[str]) -> dict[str, list[str]]:
    """Which runs (or samples, as ``sample NAME@V``) reference each of these digests."""
    found: dict[str, list[str]] = {}
    if not digests:
        return found
    with db.session() as s:
        for digest, run_id in _pairs(
            s, select(RunOutput.content_hash, RunOutput.run_id), RunOutput.content_hash, digests
        ):
            found.setdefault(digest, []).append(run_id)
        for digest, name, version in _pairs(
            s, select(Sample.content_hash, Sample.name, Sample.version), Sample.content_hash, digests
        ):
            found.setdefault(digest, []).append(f"sample {name}@{version}")
        for column in (Run.stdout_object, Run.stderr_object):  # logs
            for digest, run_id in _pairs(s, select(column, Run.id), column, digests):
                found.setdefault(digest, []).append(run_id)
    return {d: sorted(set(v)) for d, v in found.items()}


def superseded(db: Database, run_ids: set[str], present: set[str]) -> dict[str, str]:
    """For each of these runs, the newest later ``completed`` run of the same key whose outputs are
    all ``present``, when there is one: the cache serves that run, so the older record is history."""
    found: dict[str, str] = {}
    with db.session() as s:
        for run_id, key, started in _pairs(s, select(Run.id, Run.key, Run.started_at), Run.id, run_ids):
            if key is None:
                continue
            later = s.execute(
                select(Run.id)
                .where(Run.key == key, Run.status == "completed", Run.started_at > started)
                .order_by(Run.started_at.desc())
            ).scalars()
            for candidate in later:
                outputs = s.execute(select(RunOutput.content_hash).where(RunOutput.run_id == candidate))
                if set(outputs.scalars()) <= present:
                    found[run_id] = candidate
                    break
    return found


_CHUNK = 500  # bound on the size of an IN (...) list


def _pairs(s: Any, stmt: Any, column: Any, values: set[str]) -> list[Any]:
    ordered = sorted(values)
    rows: list[Any] = []
    for i in range(0, len(ordered), _CHUNK):
        rows.extend(s.execute(stmt.where(column.in_(ordered[i : i + _CHUNK]))).all())
    return rows


def _unknown_pipeline_run(pr_id: str) -> PipelineRunRecord:
    return PipelineRunRecord(
        id=pr_id, name="?", document_hash="", document="", status="?", started_at=now(), wfc_version="?"
    )
