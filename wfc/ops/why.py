"""``wfc why`` and ``wfc plan --explain``: will a step be cached or run, and if it runs, which
components of its key differ from the nearest earlier run of that node (BRIEF §7).

The comparison run is the newest recorded run of the same node id and sample (and variant when
there is one), else of the same method and sample. Code and contract differences are named from
the listings kept in the store under their digests.

Explaining writes nothing: the database and the store are opened read-only (a corrupt output is
reported as missing, not quarantined) and samples are not restored from ``samples.lock.json``.
"""

from __future__ import annotations

import os
from contextlib import closing
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, ClassVar

from wfc.cache.explain import code_entries, contract_fields, diff_code, diff_members, diff_values
from wfc.compile.expand import step_name
from wfc.compile.variables import resolve_variables
from wfc.errors import UsageError, did_you_mean
from wfc.lineage import open_lineage
from wfc.lineage.db import Database, database
from wfc.lineage.query import inputs_of, latest_runs, run_by_id
from wfc.lineage.records import RunRecord
from wfc.model.pipeline import MethodNode, load_pipeline
from wfc.model.status import Status
from wfc.output import plural
from wfc.project import Project
from wfc.step.lifecycle import find_reusable
from wfc.step.resolve import InputItem, ResolvedStep, Resolver, UpstreamMissing
from wfc.store.local import ObjectCorrupt, ObjectMissing, ObjectStore


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
    with database(url, read_only=True) as db, closing(open_lineage(url, read_only=True)) as lineage:
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
        explainer = _Explainer(project, db, store, resolver)
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
    db: Database
    store: ObjectStore
    resolver: Resolver

    def explain(self, node: MethodNode, sample: str | None, variant: Any) -> Explanation:
        name = step_name(node.id, sample, variant.label)
        method = self.resolver.method(node.method)
        base = Explanation(name, node.id, sample, variant.label, "will run", None, None)
        try:
            step = self.resolver.resolve_in(node, sample, variant)
        except UpstreamMissing as exc:
            earlier = self._earlier(node.id, method.ref, sample, variant.label, None)
            reasons = [f"input data: unknown until upstream steps run ({', '.join(exc.missing)})"]
            if earlier is not None:
                reasons = self._partial(earlier, node, sample, variant) + reasons
            return _with(base, compared_with=earlier.id if earlier else None, reasons=reasons)
        if not method.spec.cache:
            return _with(base, key=step.key, reasons=["method declares cache: false"])
        found, why_not = find_reusable(self.resolver.lineage, self.store, step.key)
        if found is not None:
            return _with(
                base,
                status="cached",
                key=step.key,
                compared_with=found[0].id,
                reasons=[f"same key as run {found[0].id}: its outputs are reused"],
            )
        earlier = self._earlier(node.id, method.ref, sample, variant.label, step.key)
        if earlier is None:
            return _with(base, key=step.key, reasons=[f"never ran: no earlier run of node '{node.id}'"])
        if earlier.key == step.key:
            what = f"failed: {earlier.error}" if earlier.status == Status.FAILED else earlier.status
            detail = why_not if why_not and why_not.startswith("outputs missing") else f"it {what}"
            return _with(
                base,
                key=step.key,
                compared_with=earlier.id,
                reasons=[f"same key as run {earlier.id}, but {detail}"],
            )
        reasons = self._diff(earlier, step)
        return _with(base, key=step.key, compared_with=earlier.id, reasons=reasons or ["key format changed"])

    def _earlier(
        self, node: str, method: str, sample: str | None, variant: str | None, key: str | None
    ) -> RunRecord | None:
        runs = latest_runs(self.db, node, method, sample)
        runs = [r for r in runs if r.variant == variant] or runs
        different = [r for r in runs if r.key != key]
        same = [r for r in runs if r.key == key]
        return (same or different)[0] if runs else None

    def _partial(self, earlier: RunRecord, node: MethodNode, sample: str | None, variant: Any) -> list[str]:
        """Components known before the inputs are: method, code, contract, params, image."""
        method = self.resolver.method(node.method)
        params = self.resolver.params_of(node, sample, variant)
        image = self.resolver.lock(method.spec.env).image_id
        return self._common(
            earlier,
            method.ref,
            method.code_hash,
            method.contract_hash,
            method.documents,
            params,
            method.spec.env,
            image,
        )

    def _diff(self, earlier: RunRecord, step: ResolvedStep) -> list[str]:
        m = step.method
        lines = self._common(
            earlier,
            m.ref,
            m.code_hash,
            m.contract_hash,
            m.documents,
            step.params,
            step.env_name,
            step.env_digest,
        )
        if earlier.sample != step.sample:
            lines.append(f"sample: {earlier.sample} -> {step.sample}")
        lines += diff_members(earlier.members, step.members)
        return lines + self._inputs(earlier, step.inputs)

    def _common(
        self,
        earlier: RunRecord,
        ref: str,
        code: str,
        contract: str,
        documents: tuple[bytes, bytes],
        params: dict[str, Any],
        env_name: str,
        image: str,
    ) -> list[str]:
        lines = []
        if f"{earlier.module}/{earlier.method}" != ref:
            lines.append(f"method: {earlier.module}/{earlier.method} -> {ref}")
        if earlier.code_hash != code:
            old = self._document(earlier.code_hash)
            base = f"methods/{ref}"
            lines += (
                diff_code(code_entries(old), code_entries(documents[0]), base)
                if old
                else [f"code: {base} changed (the earlier listing is not in the store)"]
            )
        if earlier.contract_hash != contract:
            old = self._document(earlier.contract_hash)
            lines += (
                diff_values(contract_fields(old), contract_fields(documents[1]), "contract")
                if old
                else ["contract: method.yaml contract changed"]
            )
        lines += diff_values(earlier.params, params, "params")
        if earlier.env_name != env_name:
            lines.append(f"environment: {earlier.env_name} -> {env_name}")
        if earlier.env_digest != image:
            lines.append(
                f"environment: image digest changed ({_short(earlier.env_digest)} -> {_short(image)})"
            )
        return lines

    def _inputs(self, earlier: RunRecord, items: list[InputItem]) -> list[str]:
        old = inputs_of(self.db, earlier.id)
        lines = []
        for slot in sorted({i.slot for i in old} | {i.slot for i in items}):
            before = [i for i in old if i.slot == slot]
            after = [i for i in items if i.slot == slot]
            if [i.content_hash for i in before] == [i.digest for i in after]:
                continue
            if len(before) != len(after):
                had = plural(len(before), "input")
                lines.append(f"input data: slot '{slot}' had {had}, now {len(after)}")
            for b, a in zip(before, after, strict=False):
                if b.content_hash == a.digest:
                    continue
                if a.source_run_id is None:
                    version = (
                        f"version {b.sample_version} -> {a.sample_version}"
                        if b.sample_name == a.sample_name
                        else f"{b.sample_name} -> {a.sample_name}"
                    )
                    lines.append(f"input data: slot '{slot}': sample {a.sample_name} changed ({version})")
                else:
                    source = run_by_id(self.db, a.source_run_id)
                    who = (
                        step_name(source.node_id, source.sample, source.variant)
                        if source
                        else a.source_run_id
                    )
                    lines.append(
                        f"input data: slot '{slot}': upstream {who} re-ran and produced different bytes"
                        f" (run {a.source_run_id})"
                    )
        return lines

    def _document(self, digest: str) -> bytes | None:
        try:
            self.store.verify(digest)
        except (ObjectMissing, ObjectCorrupt):
            return None
        return self.store.path(digest).read_bytes()


def _short(digest: str) -> str:
    algo, _, hexpart = digest.partition(":")
    return f"{algo}:{hexpart[:12]}" if hexpart else digest[:12]


def _with(base: Explanation, **changes: Any) -> Explanation:
    return replace(base, **changes)
