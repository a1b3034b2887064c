"""``wfc why`` and ``wfc plan --explain``: will a step be cached or run, and if it runs, which
components of its key differ from the nearest earlier run of that node (BRIEF §7).

The comparison run and the differences come from :mod:`wfc.step.compare`, which also gives an
executed step its recorded reason, so ``why`` and a run's summary say the same thing.

Explaining writes nothing: the database and the store are opened read-only (a corrupt output is
reported as missing, not quarantined) and samples are not restored from ``samples.lock.json``.
"""

from __future__ import annotations

import os
from contextlib import closing
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, ClassVar

from wfc.compile.expand import step_name
from wfc.compile.variables import resolve_variables
from wfc.errors import UsageError, did_you_mean
from wfc.lineage import open_lineage
from wfc.lineage.records import RunRecord
from wfc.model.pipeline import MethodNode, load_pipeline
from wfc.model.status import Status
from wfc.project import Project
from wfc.step.compare import Comparer, Side
from wfc.step.lifecycle import find_reusable
from wfc.step.resolve import Resolver, UpstreamMissing
from wfc.store.local import ObjectStore


@dataclass(frozen=True)
class Explanation:
    """One concrete step: cached or will run, and why."""

    step: str
    node: str
    sample: str | None
    variant: str | None
    status: str  # "cached" or "will run"
    key: str | None
    compared_with: str | None
    reasons: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Why:
    """Whether each selected step will be cached or run, and what changed (``wfc why``)."""

    SCHEMA: ClassVar[str] = "wfc.why/1"

    pipeline: str
    steps: tuple[Explanation, ...]


def why(
    project: Project,
    pipeline_path: Path,
    *,
    node: str | None = None,
    sample: str | None = None,
    variant: str | None = None,
    variables: dict[str, str] | None = None,
) -> list[Explanation]:
    """Explain every concrete step of a pipeline, or those of one node (sample, variant).

    Raises:
        UsageError: The document is invalid, or no step matches the node, sample and variant.
    """
    pipeline, _ = load_pipeline(pipeline_path)
    values = resolve_variables(pipeline, os.environ, variables or {})
    store = project.object_store().reader()
    url = project.database_url
    with closing(open_lineage(url, read_only=True)) as lineage:
        resolver = Resolver(project, pipeline, lineage, str(pipeline_path), values, read_only=True)
        steps = [
            c
            for c in resolver.expansion.steps()
            if (node is None or c.node == node)
            and (sample is None or c.sample == sample)
            and (variant is None or c.variant.label == variant)
        ]
        if not steps:
            raise _no_match(pipeline_path, resolver.expansion.steps(), node, sample, variant)
        explainer = _Explainer(project, store, resolver)
        out = []
        for c in steps:
            method_node = pipeline.node(c.node)
            assert isinstance(method_node, MethodNode)
            out.append(explainer.explain(method_node, c.sample, c.variant))
        return out


def _no_match(
    path: Path, steps: list[Any], node: str | None, sample: str | None, variant: str | None
) -> UsageError:
    nodes = sorted({c.node for c in steps})
    if node is not None and node not in nodes:
        return UsageError(
            f"{path}: no method node '{node}'{did_you_mean(node, nodes)}", "nodes: " + ", ".join(nodes)
        )
    names = sorted(c.name for c in steps if node is None or c.node == node)
    asked = ", ".join(f"{k} '{v}'" for k, v in (("sample", sample), ("variant", variant)) if v is not None)
    return UsageError(f"{path}: node '{node}' has no step with {asked}", "its steps: " + ", ".join(names))


@dataclass
class _Explainer:
    project: Project
    store: ObjectStore
    resolver: Resolver

    def __post_init__(self) -> None:
        self.compare = Comparer(self.resolver.lineage, self.store)

    def explain(self, node: MethodNode, sample: str | None, variant: Any) -> Explanation:
        name = step_name(node.id, sample, variant.label)
        method = self.resolver.method(node.method)
        base = Explanation(name, node.id, sample, variant.label, "will run", None, None)
        pipeline = self.resolver.pipeline.name
        try:
            step = self.resolver.resolve_in(node, sample, variant)
        except UpstreamMissing as exc:
            earlier = self.compare.earlier(pipeline, node.id, method.ref, sample, variant.label)
            reasons = [f"input data: unknown until upstream steps run ({', '.join(exc.missing)})"]
            if earlier is not None:
                reasons = self._partial(earlier, node, sample, variant) + reasons
            return replace(base, compared_with=earlier.id if earlier else None, reasons=reasons)
        if not method.spec.cache:
            return replace(base, key=step.key, reasons=["method declares cache: false"])
        found, why_not = find_reusable(self.resolver.lineage, self.store, step.key)
        if found is not None:
            return replace(
                base,
                status="cached",
                key=step.key,
                compared_with=found[0].id,
                reasons=[f"same key as run {found[0].id}: its outputs are reused"],
            )
        earlier = self.compare.earlier(pipeline, node.id, method.ref, sample, variant.label, step.key)
        if earlier is None:
            return replace(base, key=step.key, reasons=[f"never ran: no earlier run of node '{node.id}'"])
        if earlier.key == step.key:
            what = f"failed: {earlier.error}" if earlier.status == Status.FAILED else earlier.status
            detail = why_not if why_not and why_not.startswith("outputs missing") else f"it {what}"
            return replace(
                base,
                key=step.key,
                compared_with=earlier.id,
                reasons=[f"same key as run {earlier.id}, but {detail}"],
            )
        reasons = self.compare.diff(earlier, step)
        return replace(
            base, key=step.key, compared_with=earlier.id, reasons=reasons or ["key format changed"]
        )

    def _partial(self, earlier: RunRecord, node: MethodNode, sample: str | None, variant: Any) -> list[str]:
        """Components known before the inputs are: method, code, contract, params, image."""
        method = self.resolver.method(node.method)
        side = Side(
            method.ref,
            method.code_hash,
            method.contract_hash,
            method.documents,
            self.resolver.params_of(node, sample, variant),
            method.spec.env,
            self.resolver.lock(method.spec.env).image_id,
        )
        return self.compare.common(earlier, side)
