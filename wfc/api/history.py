"""The API verbs that read what happened: ``runs``, ``show``, ``logs``, ``lineage``, ``why``,
``export`` and ``export_results``."""

from __future__ import annotations

import os
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from wfc.api.documents import Document, reading, shown
from wfc.project import Project

if TYPE_CHECKING:
    from wfc.model.problem import Problem as Problem
    from wfc.ops.care import GcReport as GcReport
    from wfc.ops.care import StoreCheck as StoreCheck
    from wfc.ops.doctor import Health as Health
    from wfc.ops.export import Exported as Exported
    from wfc.ops.history import RunHistory as RunHistory
    from wfc.ops.lineage_view import Graph
    from wfc.ops.results import ExportedRun as ExportedRun
    from wfc.ops.why import Why as Why
    from wfc.pipeline.plan import Plan as Plan
    from wfc.pipeline.run import PipelineOutcome as PipelineOutcome
    from wfc.pipeline.validate import Validation as Validation
    from wfc.step.outcome import StepOutcome as StepOutcome
    from wfc.store.remote import Transfer as Transfer


def runs(
    project: Project,
    *,
    pipeline_run: str | None = None,
    pipeline: str | None = None,
    node: str | None = None,
    sample: str | None = None,
    status: str | None = None,
    since: str | datetime | None = None,
    limit: int = 20,
) -> RunHistory:
    """Recent pipeline runs (newest first) with their matching step runs; ``pipeline_run`` (an id
    or unique prefix) lists one in full; ``since`` is a datetime, a duration (``30m``, ``2h``,
    ``7d``) or a date.

    Raises:
        UsageError: An unknown status, a bad ``since``, or no such pipeline run.
    """
    from wfc.errors import UsageError
    from wfc.lineage.query import RunFilter
    from wfc.model.status import Status
    from wfc.ops.history import RunHistory, history, parse_since

    if status is not None and status not in {s.value for s in Status}:
        raise UsageError(f"unknown status '{status}'", "statuses: " + ", ".join(s.value for s in Status))
    when = since if isinstance(since, datetime) or since is None else parse_since(since)
    where = RunFilter(pipeline, node, sample, status, when, limit)
    return RunHistory(tuple(history(project, where, steps_of=pipeline_run)))


def show(project: Project, run: str, *, pipeline: str | None = None) -> dict[str, Any]:
    """Everything recorded about a step run (an id, a unique prefix or ``last:STEP``, the newest
    run of a step, of the pipeline named ``pipeline`` when given): method, hashes, params, image,
    inputs and their sources, outputs, metrics, status, times, logs.

    Raises:
        UsageError: No such run, or an ambiguous prefix.
    """
    from wfc.ops.history import show as _show

    return _show(project, run, pipeline)


def logs(
    project: Project,
    run: str,
    out: IO[bytes],
    *,
    stderr: bool = False,
    follow: bool = False,
    pipeline: str | None = None,
) -> None:
    """Copy a step run's standard output (or error) to ``out``, bytes unchanged; with ``follow``,
    until the run ends."""
    from wfc.ops.history import logs as _logs

    _logs(project, run, out, stream="stderr" if stderr else "stdout", follow=follow, pipeline=pipeline)


def lineage(project: Project, run: str, *, down: bool = False, pipeline: str | None = None) -> Graph:
    """A run's ancestors down to sample versions (or, ``down``, its descendants), across pipeline
    runs; render it with :func:`wfc.ops.lineage_view.render` as a tree, JSON or Graphviz DOT."""
    from wfc.ops.lineage_view import lineage_graph

    return lineage_graph(project, run, down=down, pipeline=pipeline)


def why(
    project: Project,
    document: Document,
    *,
    node: str | None = None,
    sample: str | None = None,
    variant: str | None = None,
    variables: Mapping[str, str] | None = None,
) -> Why:
    """For each selected step: cached or will run, and which key components changed since the
    nearest earlier run (params, code files, contract, image, input data).

    Raises:
        UsageError: The document is invalid, or no step matches.
    """
    from wfc.ops.why import Why
    from wfc.ops.why import why as _why

    with reading(document) as path:
        found = _why(
            project, path, node=node, sample=sample, variant=variant, variables=dict(variables or {})
        )
        return Why(str(shown(document, path)), tuple(found))


def export(
    project: Project,
    run: str,
    slot: str | None,
    dest: str | os.PathLike[str],
    *,
    force: bool = False,
    pipeline: str | None = None,
) -> Exported:
    """Copy a run's output out of the store, verified by hash (a cached run exports the outputs it
    reused); into ``dest`` when it is a directory.

    Raises:
        UsageError: No such run or slot, or ``dest`` exists (without ``force``).
        StepFailed: The object is corrupt or missing in the store.
    """
    from wfc.ops.export import export as _export

    return _export(project, run, slot, Path(dest), force=force, pipeline=pipeline)


def export_results(
    project: Project,
    pipeline_run: str,
    dest: str | os.PathLike[str],
    *,
    force: bool = False,
    provenance: str | None = None,
) -> ExportedRun:
    """Copy every output of a pipeline run (an id or a unique prefix), verified, into a results
    folder ``dest/<node>/<sample>/<variant>/<file>`` with a ``manifest.json``; with ``provenance``
    also describe what the run did: ``ro-crate`` (``dest`` becomes a Workflow Run RO-Crate,
    Provenance Run Crate profile) or ``prov`` (``dest/provenance.json``, W3C PROV-JSON).

    Raises:
        UsageError: No such pipeline run or provenance format, no outputs, or ``dest`` is not empty
            (without ``force``).
        StepFailed: An object is corrupt or missing in the store.
    """
    from wfc.ops.provenance import provenance_format
    from wfc.ops.results import export_pipeline_run

    flavour = provenance_format(provenance) if provenance is not None else None
    return export_pipeline_run(project, pipeline_run, Path(dest), force=force, provenance=flavour)
