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

from typing import TYPE_CHECKING, Any

from wfc.api.care import cache_gc, cache_pull, cache_push, cache_verify, doctor, pin
from wfc.api.documents import Document
from wfc.api.history import export, export_results, lineage, logs, runs, show, why
from wfc.api.proof import report, reproduce
from wfc.api.running import (
    compile,
    method_nodes,
    open_project,
    plan,
    run_pipeline,
    run_step,
    to_json,
    validate,
)

if TYPE_CHECKING:
    from wfc.model.problem import Problem as Problem
    from wfc.ops.care import GcReport as GcReport
    from wfc.ops.care import StoreCheck as StoreCheck
    from wfc.ops.doctor import Health as Health
    from wfc.ops.export import Exported as Exported
    from wfc.ops.history import RunHistory as RunHistory
    from wfc.ops.report import WrittenReport as WrittenReport
    from wfc.ops.reproduce import Reproductions as Reproductions
    from wfc.ops.results import ExportedRun as ExportedRun
    from wfc.ops.why import Why as Why
    from wfc.pipeline.plan import Plan as Plan
    from wfc.pipeline.run import PipelineOutcome as PipelineOutcome
    from wfc.pipeline.validate import Validation as Validation
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
