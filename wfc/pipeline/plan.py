"""``wfc plan``: every concrete step of a pipeline with its merged params and, where the inputs
are already known, whether it will be cached or run and why.

Planning writes nothing: the database and the store are opened read-only, and samples known only
from ``samples.lock.json`` are planned from the lock, not restored."""

from __future__ import annotations

import os
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from wfc.compile.variables import resolve_variables
from wfc.lineage import open_lineage
from wfc.model.pipeline import MethodNode, load_pipeline
from wfc.project import Project
from wfc.step.lifecycle import find_reusable
from wfc.step.resolve import Resolver, UpstreamMissing


@dataclass(frozen=True)
class PlannedStep:
    """One concrete step as the plan sees it."""

    name: str
    node: str
    sample: str | None
    variant: str | None
    method: str
    params: dict[str, Any]
    status: str  # "cached" or "will run"
    reason: str
    key: str | None  # None while an upstream step has not run


@dataclass(frozen=True)
class Plan:
    """Every concrete step of a document with its params and predicted outcome (``wfc plan``)."""

    SCHEMA: ClassVar[str] = "wfc.plan/1"

    pipeline: str
    steps: tuple[PlannedStep, ...]


def plan(project: Project, pipeline_path: Path, variables: dict[str, str] | None = None) -> list[PlannedStep]:
    """Expand a pipeline and predict each step.

    Raises:
        UsageError: The document, a method or a param is invalid.
    """
    pipeline, _ = load_pipeline(pipeline_path)
    store = project.object_store().reader()  # a plan writes nothing: a corrupt output stays put
    values = resolve_variables(pipeline, os.environ, variables or {})
    planned: list[PlannedStep] = []
    seen: dict[str, str] = {}
    waiting: set[str] = set()  # steps whose inputs do not exist yet: their descendants wait too
    with closing(open_lineage(project.database_url, read_only=True)) as lineage:
        resolver = Resolver(project, pipeline, lineage, str(pipeline_path), values, read_only=True)
        for concrete in resolver.expansion.steps():
            node = pipeline.node(concrete.node)
            assert isinstance(node, MethodNode)
            params = resolver.params_of(node, concrete.sample, concrete.variant)
            key: str | None = None
            blocked = [up.name for up in resolver.expansion.upstream_steps(concrete) if up.name in waiting]
            try:
                if blocked:  # no need to try: an upstream step cannot be resolved yet
                    raise UpstreamMissing("", "", blocked)
                key = resolver.resolve_in(node, concrete.sample, concrete.variant).key
            except UpstreamMissing as exc:
                status, reason = "will run", f"after its upstream steps run ({', '.join(exc.missing)})"
                waiting.add(concrete.name)
            else:
                if not resolver.method(node.method).spec.cache:
                    status, reason = "will run", "method declares cache: false"
                elif key in seen:
                    status, reason = "cached", f"same key as {seen[key]}: runs once"
                else:
                    found, why = find_reusable(lineage, store, key)
                    status, reason = (
                        ("cached", f"outputs of run {found[0].id}") if found else ("will run", str(why))
                    )
                seen.setdefault(key, concrete.name)
            planned.append(
                PlannedStep(
                    concrete.name,
                    node.id,
                    concrete.sample,
                    concrete.variant.label,
                    node.method,
                    params,
                    status,
                    reason,
                    key,
                )
            )
    return planned
