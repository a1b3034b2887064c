"""``wfc report PIPELINE_RUN -o report.html``: what a pipeline run's report shows, gathered.

:func:`gather` reads one pipeline run from the lineage database (read-only, a fixed number of
queries whatever the number of steps) into a frozen :class:`Report`: the graph of its nodes with
step counts by status, each step (the newest run of each step name) with its times, resources,
reason, cache source, params, environment and outputs, and the run's git commit.
:func:`write_report` renders it (``wfc.ops.report_html``) and writes the file atomically.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, ClassVar

from sqlalchemy import select

from wfc.atomic import write_text_atomic
from wfc.errors import UsageError
from wfc.lineage.db import Database, database
from wfc.lineage.query import RunFilter, find_pipeline_run, step_runs
from wfc.lineage.records import RunRecord
from wfc.lineage.schema import Run, RunInput, RunOutput
from wfc.ops.history import newest_per_step, step_of
from wfc.ops.report_html import render
from wfc.project import Project


@dataclass(frozen=True)
class Output:
    """One archived output of a step."""

    slot: str
    path: str
    hash: str
    size: int


@dataclass(frozen=True)
class Step:
    """One step of the run: its newest run record, flattened for display."""

    run_id: str
    name: str
    node: str
    sample: str | None
    method: str
    status: str
    reason: str | None
    cache_source: str | None
    started_at: datetime
    ended_at: datetime | None
    wall_s: float | None
    cpu_s: float | None
    peak_memory_bytes: int | None
    params: dict[str, Any]
    env_name: str
    env_digest: str
    error: str | None
    error_tail: str | None
    outputs: tuple[Output, ...]


@dataclass(frozen=True)
class Node:
    """One node of the pipeline: ``input`` (samples) or ``method``, with its steps' statuses."""

    id: str
    kind: str
    label: str
    counts: dict[str, int]


@dataclass(frozen=True)
class Report:
    """Everything the HTML report of one pipeline run shows."""

    pipeline_run: str
    pipeline: str
    status: str
    started_at: datetime
    ended_at: datetime | None
    git_commit: str | None
    wfc_version: str
    host: str
    nodes: tuple[Node, ...]
    edges: tuple[tuple[str, str], ...]
    steps: tuple[Step, ...]
    attempts: int  # runs recorded, counting earlier attempts of a step


@dataclass(frozen=True)
class WrittenReport:
    """A report written to ``path`` (``wfc report --json``)."""

    SCHEMA: ClassVar[str] = "wfc.report/1"

    pipeline_run: str
    path: Path
    bytes: int
    steps: int


def gather(db: Database, ref: str) -> Report:
    """The report of pipeline run ``ref`` (an id or a unique prefix).

    Raises:
        UsageError: No pipeline run, or several, start with ``ref``.
    """
    pr = find_pipeline_run(db, ref)
    runs = step_runs(db, RunFilter(), [pr.id])
    newest = {step_of(run): run for run in newest_per_step(runs)}
    mine = select(Run.id).where(Run.pipeline_run_id == pr.id)
    outputs: dict[str, list[Output]] = {}
    with db.session() as s:
        rows = s.execute(select(RunOutput).where(RunOutput.run_id.in_(mine)).order_by(RunOutput.slot))
        for o in rows.scalars():
            outputs.setdefault(o.run_id, []).append(Output(o.slot, o.path, o.content_hash, o.size))
        upstream = select(RunInput.run_id, Run.node_id).join(Run, Run.id == RunInput.source_run_id)
        fed = {(str(a), str(b)) for a, b in s.execute(upstream.where(RunInput.run_id.in_(mine)))}
    node_of = {r.id: r.node_id for r in runs}
    steps = tuple(_step(name, run, outputs) for name, run in sorted(newest.items()))
    declared, links = _document_graph(pr.document)
    edges = links | {(src, node_of[run_id]) for run_id, src in fed if run_id in node_of}
    return Report(
        pipeline_run=pr.id,
        pipeline=pr.name,
        status=pr.status,
        started_at=pr.started_at,
        ended_at=pr.ended_at,
        git_commit=pr.git_commit,
        wfc_version=pr.wfc_version,
        host=pr.host,
        nodes=_nodes(declared, steps, edges),
        edges=tuple(sorted((a, b) for a, b in edges if a != b)),
        steps=steps,
        attempts=len(runs),
    )


def read_report(project: Project, ref: str) -> Report:
    """The report of pipeline run ``ref`` in ``project``, read from its database opened read-only.

    Raises:
        UsageError: No pipeline run, or several, start with ``ref``.
    """
    with database(project.database_url, read_only=True) as db:
        return gather(db, ref)


def write_report(project: Project, ref: str, dest: Path, *, force: bool = False) -> WrittenReport:
    """Write the HTML report of pipeline run ``ref`` to ``dest`` (atomically).

    Raises:
        UsageError: Unknown pipeline run, ``dest`` exists (without ``force``) or is a directory.
    """
    if dest.is_dir():
        raise UsageError(f"{dest} is a directory", "give the report a file name, e.g. -o report.html")
    if dest.exists() and not force:
        raise UsageError(
            f"{dest} already exists: not overwriting it", "choose another file, or pass --force to replace it"
        )
    if not dest.parent.is_dir():
        raise UsageError(f"no directory {dest.parent} for the report", "create it, or choose another path")
    report = read_report(project, ref)
    text = render(report)
    write_text_atomic(dest, text)
    return WrittenReport(report.pipeline_run, dest, len(text.encode("utf-8")), len(report.steps))


def _step(name: str, run: RunRecord, outputs: dict[str, list[Output]]) -> Step:
    used = run.resources or {}
    return Step(
        run_id=run.id,
        name=name,
        node=run.node_id,
        sample=run.sample,
        method=f"{run.module}/{run.method}",
        status=run.status,
        reason=run.reason,
        cache_source=run.cache_source_id,
        started_at=run.started_at,
        ended_at=run.ended_at,
        wall_s=_number(used.get("wall_s")),
        cpu_s=_number(used.get("cpu_s")),
        peak_memory_bytes=_int(used.get("peak_memory_bytes")),
        params=dict(run.params or {}),
        env_name=run.env_name,
        env_digest=run.env_digest,
        error=run.error,
        error_tail=run.error_tail,
        outputs=tuple(outputs.get(run.id, ())),
    )


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def _int(value: Any) -> int | None:
    number = _number(value)
    return None if number is None else int(number)


def _document_graph(document: str) -> tuple[dict[str, Node], set[tuple[str, str]]]:
    """The nodes and links of the stored pipeline document, read leniently: a document that is not
    a pipeline (an ad-hoc run, an older format) gives none, and the graph comes from the steps."""
    try:
        doc = json.loads(document)
    except ValueError:
        return {}, set()
    if not isinstance(doc, dict):
        return {}, set()
    nodes: dict[str, Node] = {}
    for item in doc.get("nodes") or []:
        if isinstance(item, dict) and isinstance(item.get("id"), str):
            method = item.get("method")
            if isinstance(method, str):
                nodes[item["id"]] = Node(item["id"], "method", method, {})
            else:
                samples = item.get("samples")
                label = f"{len(samples)} samples" if isinstance(samples, list) else "samples"
                nodes[item["id"]] = Node(item["id"], "input", label, {})
    links = set()
    for link in doc.get("links") or []:
        if isinstance(link, dict) and isinstance(link.get("from"), str) and isinstance(link.get("to"), str):
            links.add((link["from"].partition(".")[0], link["to"].partition(".")[0]))
    return nodes, links


def _nodes(
    declared: dict[str, Node], steps: tuple[Step, ...], edges: set[tuple[str, str]]
) -> tuple[Node, ...]:
    """Declared nodes in document order, then any node only the steps or edges name."""
    counts: dict[str, dict[str, int]] = {}
    methods: dict[str, str] = {}
    for step in steps:
        by_status = counts.setdefault(step.node, {})
        by_status[step.status] = by_status.get(step.status, 0) + 1
        methods.setdefault(step.node, step.method)
    found = {k: Node(n.id, n.kind, n.label, counts.get(k, {})) for k, n in declared.items()}
    for node_id in [*methods, *sorted({n for edge in edges for n in edge})]:
        if node_id not in found:
            kind, label = ("method", methods[node_id]) if node_id in methods else ("input", "samples")
            found[node_id] = Node(node_id, kind, label, counts.get(node_id, {}))
    return tuple(found.values())
