"""``wfc runs``, ``wfc show``, ``wfc logs``: what was recorded, as documents the CLI prints.

Runs are named by id or a unique prefix of it. Logs are streamed as bytes (any encoding, any
size): from the run's log files while they exist, else from the store objects archived with the
run (a cache hit shows the logs of the run it reused).

They only read: the database is opened read-only, and a corrupt log object is reported, not
quarantined.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterable
from contextlib import AbstractContextManager
from dataclasses import asdict, dataclass, replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import IO, Any, ClassVar

from wfc.compile.expand import step_name
from wfc.errors import UsageError
from wfc.lineage.db import Database, database
from wfc.lineage.query import (
    RunFilter,
    find_pipeline_run,
    find_run,
    pipeline_runs,
    reproductions_of,
    run_by_id,
    run_detail,
    step_runs,
)
from wfc.lineage.records import RunRecord, now
from wfc.model.status import Status
from wfc.project import Project

_RELATIVE = re.compile(r"^(\d+)([smhdw])$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def _reading(project: Project) -> AbstractContextManager[Database]:
    return database(project.database_url, read_only=True)


def parse_since(text: str | None) -> datetime | None:
    """``30m``, ``2h``, ``7d``, ``1w`` ago, or an ISO date/time (UTC).

    Raises:
        UsageError: Neither form.
    """
    if text is None:
        return None
    match = _RELATIVE.match(text.strip())
    if match:
        return now() - timedelta(**{_UNITS[match[2]]: int(match[1])})
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise UsageError(
            f"bad --since '{text}'", "give a duration such as 30m, 2h, 7d, or a date such as 2026-11-01"
        ) from None
    return value.replace(tzinfo=None)


@dataclass(frozen=True)
class RunHistory:
    """Recent pipeline runs, newest first, each with its matching step runs (``wfc runs``)."""

    SCHEMA: ClassVar[str] = "wfc.runs/1"

    pipeline_runs: tuple[dict[str, Any], ...]


def history(project: Project, where: RunFilter, *, steps_of: str | None = None) -> list[dict[str, Any]]:
    """Pipeline runs (newest first), each with its matching step runs.

    With a step filter (node, sample or status), pipeline runs without a matching step are left
    out. ``steps_of`` names one pipeline run (id or prefix) to list in full.
    """
    with _reading(project) as db:
        if steps_of is not None:
            prs = [find_pipeline_run(db, steps_of)]
        else:
            prs = pipeline_runs(db, replace(where, limit=where.limit * (20 if _steps_filtered(where) else 1)))
        steps = step_runs(db, where, [pr.id for pr in prs])
    by_pr: dict[str, list[RunRecord]] = {}
    for run in sorted(steps, key=lambda r: r.id):
        by_pr.setdefault(run.pipeline_run_id, []).append(run)
    docs = []
    for pr in prs:
        runs = by_pr.get(pr.id, [])
        if _steps_filtered(where) and not runs:
            continue
        counts: dict[str, int] = {}
        for r in runs:
            counts[r.status] = counts.get(r.status, 0) + 1
        docs.append(
            {
                "id": pr.id,
                "pipeline": pr.name,
                "status": pr.status,
                "started_at": pr.started_at.isoformat(),
                "ended_at": pr.ended_at.isoformat() if pr.ended_at else None,
                "seconds": _seconds(pr.started_at, pr.ended_at),
                "git_commit": pr.git_commit,
                "counts": counts,
                "steps": [_step_doc(r) for r in runs],
            }
        )
    return docs[: where.limit]


def _steps_filtered(where: RunFilter) -> bool:
    return any(v is not None for v in (where.node, where.sample, where.status))


def step_of(run: RunRecord) -> str:
    """The step a run is of: ``node``, ``node[sample]`` or ``node[sample|variant]``."""
    return step_name(run.node_id, run.sample, run.variant)


def newest_per_step(runs: Iterable[RunRecord]) -> list[RunRecord]:
    """One run per step, the newest (by start time), in step-name order: what a pipeline run
    made of each step, whatever attempts came before."""
    newest: dict[str, RunRecord] = {}
    for run in sorted(runs, key=lambda r: (r.started_at, r.id)):
        newest[step_of(run)] = run
    return [newest[k] for k in sorted(newest)]


def run_summary(run: RunRecord) -> dict[str, Any]:
    """The fields that name a step run in every listing (``runs``, ``lineage --format json``)."""
    return {
        "id": run.id,
        "step": step_name(run.node_id, run.sample, run.variant),
        "node": run.node_id,
        "sample": run.sample,
        "variant": run.variant,
        "method": f"{run.module}/{run.method}",
        "status": run.status,
        "kind": run_kind(run),
        "cache_source": run.cache_source_id,
    }


def run_kind(run: RunRecord) -> str:
    """``execution``, ``hit`` (a cache hit) or ``reproduction`` (``wfc reproduce``, linked to
    the run it re-ran)."""
    if run.reproduces_id is not None:
        return "reproduction"
    return "hit" if run.cache_source_id else "execution"


def _step_doc(run: RunRecord) -> dict[str, Any]:
    return {
        **run_summary(run),
        "started_at": run.started_at.isoformat(),
        "seconds": _seconds(run.started_at, run.ended_at),
        "reason": run.reason,
        "error": run.error,
        "resources": run.resources,
        "reproduces": run.reproduces_id,
    }


def _seconds(start: datetime, end: datetime | None) -> float | None:
    return round((end - start).total_seconds(), 3) if end else None


def show(project: Project, ref: str, pipeline: str | None = None) -> dict[str, Any]:
    """Everything recorded about one step run, as the ``wfc show --json`` document."""
    with _reading(project) as db:
        detail = run_detail(db, find_run(db, ref, pipeline))
        # a hit's bytes are its source's: a reproduction of either confirms them
        checked = reproductions_of(db, detail.run.cache_source_id or detail.run.id)
    run, pr = detail.run, detail.pipeline_run
    doc: dict[str, Any] = {k: v for k, v in asdict(run).items() if k not in ("pid",)}
    doc["started_at"] = run.started_at.isoformat()
    doc["ended_at"] = run.ended_at.isoformat() if run.ended_at else None
    doc["seconds"] = _seconds(run.started_at, run.ended_at)
    doc["step"] = step_name(run.node_id, run.sample, run.variant)
    doc["kind"] = run_kind(run)
    doc["pipeline_run"] = {
        "id": pr.id,
        "pipeline": pr.name,
        "status": pr.status,
        "document_hash": pr.document_hash,
        "git_commit": pr.git_commit,
        "wfc_version": pr.wfc_version,
    }
    doc["inputs"] = [
        {
            "slot": i.slot,
            "position": i.position,
            "hash": i.content_hash,
            "kind": i.kind,
            "source": (
                {"sample": i.sample_name, "version": i.sample_version}
                if i.source_run_id is None
                else {
                    "run": i.source_run_id,
                    "slot": i.source_slot,
                    "node": detail.source_nodes.get(i.source_run_id),
                }
            ),
        }
        for i in detail.inputs
    ]
    doc["outputs"] = [
        {"slot": o.slot, "path": o.path, "hash": o.content_hash, "size": o.size, "kind": o.kind}
        for o in detail.outputs
    ]
    doc["logs"] = {stream: _log_paths(project, run, stream) for stream in ("stdout", "stderr")}
    doc["reproductions"] = [
        {
            "id": r.id,
            "identical": r.status == "completed",
            "at": r.ended_at.isoformat() if r.ended_at else None,
            "error": r.error,
        }
        for r in checked
    ]
    return {"schema": "wfc.show/1", **doc}


def _log_paths(project: Project, run: RunRecord, stream: str) -> dict[str, str | None]:
    path = project.root / run.log_dir / f"{stream}.log" if run.log_dir else None
    return {
        "file": project.relative(path) if path is not None and path.is_file() else None,
        "object": run.stdout_object if stream == "stdout" else run.stderr_object,
    }


def logs(
    project: Project,
    ref: str,
    out: IO[bytes],
    *,
    stream: str = "stdout",
    follow: bool = False,
    note: Callable[[str], None] = lambda _m: None,
    poll: float = 0.5,
    pipeline: str | None = None,
) -> None:
    """Copy a run's log to ``out`` as bytes; with ``follow``, until the run ends.

    Raises:
        UsageError: Unknown run, or a run with no log (cancelled before it started).
    """
    with _reading(project) as db:
        run = find_run(db, ref, pipeline)
        path = project.root / run.log_dir / f"{stream}.log" if run.log_dir else None
        if follow and run.status == Status.RUNNING:
            assert path is not None
            _follow(db, run.id, path, out, poll)
            return
    if path is not None and path.is_file():
        with path.open("rb") as f:
            _copy(f, out)
        return
    digest = run.stdout_object if stream == "stdout" else run.stderr_object
    if digest is None:
        raise UsageError(
            f"run {run.id} has no {stream} log ({run.status}: {run.error or 'it never started'})",
            "logs exist for runs that executed; see `wfc show " + run.id + "`",
        )
    if run.cache_source_id:
        note(f"(logs of run {run.cache_source_id}, which cached run {run.id} reused)")
    store = project.object_store().reader()
    store.verify(digest)
    with store.path(digest).open("rb") as f:
        _copy(f, out)


def _follow(db: Database, run_id: str, path: Path, out: IO[bytes], poll: float) -> None:
    while not path.exists():
        time.sleep(poll)
        current = run_by_id(db, run_id)
        if current is None or current.status != Status.RUNNING:
            return
    with path.open("rb") as f:
        while True:
            _copy(f, out)
            current = run_by_id(db, run_id)
            if current is None or current.status != Status.RUNNING:
                _copy(f, out)  # what was written before the run ended
                return
            time.sleep(poll)


def _copy(src: IO[bytes], out: IO[bytes]) -> None:
    while chunk := src.read(1 << 20):
        out.write(chunk)
    out.flush()
