"""``wfc lineage``: the ancestors of a run down to sample versions, or its descendants, as a tree,
a JSON graph or Graphviz DOT. The graph comes from one closure query (``wfc.lineage.query``)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Literal

from wfc.compile.expand import step_name
from wfc.lineage.db import database
from wfc.lineage.query import closure, find_run
from wfc.lineage.records import InputRecord, RunRecord
from wfc.ops.history import run_summary
from wfc.project import Project

Format = Literal["tree", "json", "dot"]


@dataclass(frozen=True)
class Edge:
    """Data flowing from a run's output slot (or a sample version) into a run's input slot."""

    source: str  # a run id, or "sample:NAME@VERSION"
    target: str
    slot: str
    source_slot: str | None
    hash: str


@dataclass(frozen=True)
class Graph:
    """A lineage closure: the runs, their edges, and the start. Going down from a cache hit,
    ``producer`` is the run that made the bytes it reused: the runs that used them hang off it."""

    root: str
    down: bool
    runs: dict[str, RunRecord]
    edges: list[Edge]
    producer: str | None = None


def lineage_graph(project: Project, ref: str, *, down: bool = False, pipeline: str | None = None) -> Graph:
    """The lineage of a run (by id or prefix) as a graph.

    Raises:
        UsageError: Unknown or ambiguous run id.
    """
    with database(project.database_url, read_only=True) as db:
        start = find_run(db, ref, pipeline)
        runs, inputs = closure(db, start, down=down)
    by_id = {r.id: r for r in runs}
    edges = sorted(
        (e for e in map(_edge, inputs) if e.source in by_id or (not down and e.source.startswith("sample:"))),
        key=lambda e: (e.target, e.slot, e.source),
    )
    producer = start.cache_source_id if down and start.cache_source_id in by_id else None
    return Graph(start.id, down, by_id, edges, producer)


def _edge(i: InputRecord) -> Edge:
    source = i.source_run_id or f"sample:{i.sample_name}@{i.sample_version}"
    return Edge(source, i.run_id, i.slot, i.source_slot, i.content_hash)


def render(graph: Graph, fmt: Format) -> str:
    """The graph as text in ``fmt``."""
    if fmt == "json":
        return _json(graph)
    if fmt == "dot":
        return _dot(graph)
    return _tree(graph)


def _label(run: RunRecord) -> str:
    return (
        f"{run.id} {step_name(run.node_id, run.sample, run.variant)} {run.module}/{run.method} {run.status}"
    )


def _tree(graph: Graph) -> str:
    children: dict[str, list[Edge]] = {}
    for e in graph.edges:
        children.setdefault(e.source if graph.down else e.target, []).append(e)
    lines = [_label(graph.runs[graph.root])]
    seen: set[str] = {graph.root}
    first = children.get(graph.root, [])
    if graph.producer:  # a hit's consumers read the producer's outputs: show them under the hit
        lines.append(f"  (cached: its outputs were made by {graph.producer}; the runs that used them)")
        seen.add(graph.producer)
        first = first + children.get(graph.producer, [])
    frames: list[tuple[list[Edge], int, str]] = [(first, 0, "")]
    while frames:  # iterative depth-first walk: a lineage may be thousands of steps deep
        edges, index, prefix = frames.pop()
        if index >= len(edges):
            continue
        frames.append((edges, index + 1, prefix))
        e = edges[index]
        last = index == len(edges) - 1
        branch, extend = ("└── ", "    ") if last else ("├── ", "│   ")
        other = e.target if graph.down else e.source
        if other.startswith("sample:"):
            lines.append(f"{prefix}{branch}{e.slot} ← sample {other[7:]} {e.hash}")
            continue
        via = f"{e.source_slot} → {e.slot} of" if graph.down else f"{e.slot} ← {e.source_slot} of"
        if other in seen:
            lines.append(f"{prefix}{branch}{via} {other} (shown above)")
            continue
        seen.add(other)
        lines.append(f"{prefix}{branch}{via} {_label(graph.runs[other])}")
        frames.append((children.get(other, []), 0, prefix + extend))
    return "\n".join(lines) + "\n"


def _run_doc(run: RunRecord) -> dict[str, Any]:
    return {**run_summary(run), "pipeline_run": run.pipeline_run_id, "key": run.key}


def _json(graph: Graph) -> str:
    doc = {
        "schema": "wfc.lineage/1",
        "root": graph.root,
        "direction": "down" if graph.down else "up",
        "producer": graph.producer,
        "runs": [_run_doc(graph.runs[k]) for k in sorted(graph.runs)],
        "edges": [
            {"from": e.source, "to": e.target, "slot": e.slot, "source_slot": e.source_slot, "hash": e.hash}
            for e in graph.edges
        ],
    }
    return json.dumps(doc, indent=2, sort_keys=True) + "\n"


def _dot(graph: Graph) -> str:
    lines = ["digraph lineage {", "  rankdir=LR;", '  node [shape=box, fontname="Helvetica"];']
    for run_id in sorted(graph.runs):
        run = graph.runs[run_id]
        label = "\n".join(x for x in (run.node_id, run.sample, run.variant, run.status) if x)
        style = ", style=bold" if run_id == graph.root else ""
        lines.append(f"  {json.dumps(run_id)} [label={json.dumps(label)}{style}];")
    for sample in sorted({e.source for e in graph.edges if e.source.startswith("sample:")}):
        lines.append(f"  {json.dumps(sample)} [shape=ellipse, label={json.dumps(sample[7:])}];")
    for e in graph.edges:
        lines.append(f"  {json.dumps(e.source)} -> {json.dumps(e.target)} [label={json.dumps(e.slot)}];")
    lines.append("}")
    return "\n".join(lines) + "\n"
