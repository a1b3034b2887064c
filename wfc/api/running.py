"""The API verbs that open a project and check, plan, run and compile pipelines: ``validate``,
``plan``, ``run_step``, ``run_pipeline``, ``method_nodes``, ``compile``, and ``to_json``."""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

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
    from wfc.ops.results import ExportedRun as ExportedRun
    from wfc.ops.why import Why as Why
    from wfc.pipeline.events import CancelToken, OnEvent
    from wfc.pipeline.plan import Plan as Plan
    from wfc.pipeline.run import PipelineOutcome as PipelineOutcome
    from wfc.pipeline.validate import Validation as Validation
    from wfc.runtime.base import OutputSink, Runtime
    from wfc.step.outcome import StepOutcome as StepOutcome
    from wfc.store.remote import Transfer as Transfer


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
