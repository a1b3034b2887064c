"""The public Python API of wfc (BRIEF §19): the CLI, the canvas and tests all use it.

A few verbs with keyword options and frozen result values; no argv round-trips. Every ``--json``
output of the CLI is one of these values passed through :func:`to_json`, so the API and the CLI
cannot drift. Heavy modules are imported inside the verbs, so importing this module is cheap
(``wfc run-step`` uses it on its fast path).

    from wfc import api

    project = api.open_project("my-project")
    for problem in api.validate(project, "pipelines/rna.json"):
        print(problem.path, problem.message)
    outcome = api.run_pipeline(project, "pipelines/rna.json", cores=4, on_event=print)
    print(outcome.status, outcome.counts)

Documents are given as a path or as an already-loaded ``dict``. A ``dict`` that runs (``run_step``,
``run_pipeline``, ``compile``) is first written to ``.wfc/documents/<digest>.json`` so that
Snakemake, records and messages can name it; reads (``validate``, ``plan``, ``why``) write nothing.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from datetime import datetime
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from wfc.api.documents import Document, options, reading, runnable, shown
from wfc.output import to_document
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
    from wfc.pipeline.events import CancelToken, OnEvent
    from wfc.pipeline.plan import Plan as Plan
    from wfc.pipeline.run import PipelineOutcome as PipelineOutcome
    from wfc.pipeline.validate import Validation as Validation
    from wfc.runtime.base import OutputSink, Runtime
    from wfc.step.outcome import StepOutcome as StepOutcome
    from wfc.store.remote import Transfer as Transfer


# The values the verbs return, importable from here without paying for their modules until used.
_VALUES = {
    "Exported": "wfc.ops.export",
    "ExportedRun": "wfc.ops.results",
    "GcReport": "wfc.ops.care",
    "Health": "wfc.ops.doctor",
    "PipelineOutcome": "wfc.pipeline.run",
    "Plan": "wfc.pipeline.plan",
    "Problem": "wfc.model.problem",
    "Reproductions": "wfc.ops.reproduce",
    "WrittenReport": "wfc.ops.report",
    "RunHistory": "wfc.ops.history",
    "StepOutcome": "wfc.step.outcome",
    "StoreCheck": "wfc.ops.care",
    "Transfer": "wfc.store.remote",
    "Validation": "wfc.pipeline.validate",
    "Why": "wfc.ops.why",
}
__all__ = [
    "cache_gc",
    "cache_pull",
    "cache_push",
    "cache_verify",
    "compile",
    "doctor",
    "export",
    "export_results",
    "lineage",
    "logs",
    "method_nodes",
    "open_project",
    "pin",
    "plan",
    "report",
    "reproduce",
    "run_pipeline",
    "run_step",
    "runs",
    "show",
    "to_json",
    "validate",
    "why",
    "Document",
    *_VALUES,
]


def __getattr__(name: str) -> Any:
    """``api.Plan`` and the other result values, imported on first use (PEP 562)."""
    if name in _VALUES:
        import importlib

        return getattr(importlib.import_module(_VALUES[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def to_json(value: Any) -> Any:
    """An API value as plain JSON data: what the CLI prints under ``--json``."""
    return to_document(value)


def open_project(path: str | os.PathLike[str] | None = None, **settings: str | None) -> Project:
    """Find and load a project: ``path``, else ``$WFC_PROJECT``, else the nearest ``wfc.toml`` above
    the current directory. ``settings`` override any setting by key (``runtime="process"``,
    ``store="/data/store"``), over environment variables and ``wfc.toml``.

    Raises:
        UsageError: No project is found, or ``wfc.toml`` is invalid.
    """
    root = None if path is None else os.fspath(path)
    return Project.load(root, {k: v for k, v in settings.items() if v is not None})


def validate(
    project: Project,
    document: Document,
    *,
    environ: Mapping[str, str] | None = None,
    variables: Mapping[str, str] | None = None,
) -> list[Problem]:
    """Every problem of a pipeline document with its JSON path and a fix (empty when valid); type
    mismatches between linked slots are warnings. ``variables`` are given values (``--var``)."""
    from wfc.pipeline.validate import validate as _validate

    with reading(document) as path:
        return _validate(project, path, dict(os.environ if environ is None else environ), variables)


def plan(project: Project, document: Document, variables: Mapping[str, str] | None = None) -> Plan:
    """Every concrete step (node x sample x variant) with its merged params and whether it will be
    cached or run, and why.

    Raises:
        UsageError: The document, a method or a param is invalid.
    """
    from wfc.pipeline.plan import Plan
    from wfc.pipeline.plan import plan as _plan

    with reading(document) as path:
        return Plan(str(shown(document, path)), tuple(_plan(project, path, dict(variables or {}))))


def run_step(
    project: Project,
    document: Document,
    node: str,
    sample: str | None = None,
    variant: str | None = None,
    variables: Mapping[str, str] | None = None,
    runtime: str | Runtime | None = None,
    force: bool = False,
    *,
    pipeline_run_id: str | None = None,
    pipeline_run_key: str | None = None,
    bundle: str | None = None,
    output: OutputSink | None = None,
) -> StepOutcome:
    """Run one concrete step: a hit is recorded ``cached``, a miss executes in ``runtime`` (a name,
    ``docker`` or ``process``, or a :class:`~wfc.runtime.base.Runtime`; default: the project's).
    By hand it records into an ad-hoc pipeline run, else into ``pipeline_run_id`` or the run of an
    external ``pipeline_run_key``. A failed method is an outcome with status ``failed``.

    Raises:
        UsageError: Bad document, node, params, or upstream steps that have not run.
        InfraError: Docker or the database is unreachable.
    """
    from wfc.step.lifecycle import run_step as _run_step

    if isinstance(runtime, str):
        project = Project.load(project.root, {**options(project), "runtime": runtime})
        runtime = None
    return _run_step(
        project,
        runnable(project, document),
        node,
        sample,
        variant,
        pipeline_run_id=pipeline_run_id,
        pipeline_run_key=pipeline_run_key,
        force=force,
        output=output,
        runtime=runtime,
        variables=dict(variables or {}),
        bundle=bundle,
    )


def run_pipeline(
    project: Project,
    document: Document,
    *,
    cores: int = 1,
    keep_going: bool = False,
    variables: Mapping[str, str] | None = None,
    force: Iterable[str] = (),
    snakemake_args: Iterable[str] = (),
    on_event: OnEvent | None = None,
    cancel: CancelToken | None = None,
    logs: bool = False,
) -> PipelineOutcome:
    """Run every step of a pipeline with Snakemake and record the complete outcome.

    ``on_event`` receives typed :mod:`run events <wfc.pipeline.events>` in order (with the
    methods' output lines as ``StepLog`` when ``logs``); ``force`` names nodes whose steps execute
    even on a hit; setting ``cancel`` (e.g. a :class:`threading.Event`) stops the run as Ctrl-C
    does: containers removed, every step recorded, outcome ``cancelled``.

    Raises:
        UsageError: An invalid document, method, param or variable; an environment not built.
        InfraError: Docker or the database is unreachable (checked before anything runs).
        KeyboardInterrupt: Ctrl-C or SIGTERM, after cancelling the run (the record is complete).
    """
    from wfc.pipeline.run import run_pipeline as _run_pipeline

    return _run_pipeline(
        project,
        runnable(project, document),
        cores=cores,
        keep_going=keep_going,
        variables=dict(variables or {}),
        force=tuple(force),
        snakemake_args=tuple(snakemake_args),
        on_event=on_event,
        cancel=cancel,
        logs=logs,
    )


def method_nodes(project: Project, document: Document) -> list[str]:
    """The ids of a document's method nodes, in document order (what ``force`` may name).

    Raises:
        UsageError: The document is invalid.
    """
    from wfc.model.pipeline import MethodNode, load_pipeline

    with reading(document) as path:
        pipeline, _ = load_pipeline(path)
    return [n.id for n in pipeline.nodes if isinstance(n, MethodNode)]


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


def compile(
    project: Project,
    document: Document,
    backend: str = "snakemake",
    values: Iterable[str | os.PathLike[str]] = (),
    *,
    out_dir: str | os.PathLike[str] | None = None,
) -> dict[str, str]:
    """Render a pipeline for an engine (``snakemake``, ``argo`` or ``dvc``) configured by values
    files: its files by name, byte-for-byte deterministic. ``out_dir`` is where the files will
    be written: a backend whose commands run there (DVC) names project files relative to it.

    Raises:
        UsageError: Unknown backend, invalid document or method, or bad values.
    """
    from wfc.compile.values import load_values
    from wfc.pipeline.generate import generate
    from wfc.pipeline.validate import check_document

    merged = load_values([Path(v) for v in values])
    where = Path(out_dir) if out_dir is not None else None
    path = runnable(project, document)
    check_document(project, path, os.environ)  # what validate refuses never compiles
    return generate(project, path, backend, merged, out_dir=where)


from wfc.api.care import cache_gc, cache_pull, cache_push, cache_verify, doctor, pin  # noqa: E402
from wfc.api.proof import report, reproduce  # noqa: E402
