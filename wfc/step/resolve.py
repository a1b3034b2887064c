"""Resolve a concrete step from a pipeline document, finding its inputs by content (BRIEF §6.1).

A root step's inputs are frozen sample versions. A downstream step's inputs are the recorded
outputs of its upstream steps, found by computing each upstream step's key (recursively, from the
samples) and looking up the completed run with that key. No sentinel files, no staging paths: the
answer is the same whoever launches the step.

Links and slots are checked by the one checker ``wfc validate`` uses (``wfc.compile.links``): the
first error about the step being resolved is raised in the words validate prints.

A read-only resolver (``wfc plan``, ``wfc why``, ``wfc validate``) writes nothing: a sample that
the database lacks but ``samples.lock.json`` lists is taken from the lock as it would be restored,
instead of being restored (see :meth:`Resolver.sample`).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any, Literal

from wfc.cache.hashing import hash_json
from wfc.cache.key import StepIdentity, step_key
from wfc.compile.expand import ConcreteStep, Expansion, Variant, sample_ref, step_name
from wfc.compile.links import check_links, slot_of
from wfc.compile.variables import substitute
from wfc.environments.build import read_lock
from wfc.errors import UsageError, did_you_mean
from wfc.lineage.records import Lineage, SampleRecord
from wfc.methods import Method, load_method
from wfc.model.environment import EnvLock
from wfc.model.method import MethodSpec
from wfc.model.pipeline import InputNode, Link, MethodNode, Pipeline
from wfc.project import Project
from wfc.runtime.base import Runtime
from wfc.samples import catalog_for, restore_from_lock, sample_from_lock


@dataclass(frozen=True)
class InputItem:
    """One input object of a step, with where it came from."""

    slot: str
    position: int
    digest: str
    kind: Literal["file", "dir"]
    name: str  # file name it is staged under
    sample_name: str | None = None
    sample_version: int | None = None
    source_run_id: str | None = None
    source_slot: str | None = None


@dataclass
class Warm:
    """Caches that the steps of one pipeline run share in one process (the run-pipeline worker):
    parsed documents, loaded methods and resolved steps. A resolved step is final once it exists:
    it is only made when every input it reads has a completed record."""

    pipelines: dict[tuple[str, int, int], tuple[Pipeline, bytes]] = field(default_factory=dict)
    methods: dict[str, Method] = field(default_factory=dict)
    steps: dict[tuple[str, str | None, Variant], ResolvedStep] = field(default_factory=dict)
    expansions: dict[int, Expansion] = field(default_factory=dict)
    locks: dict[str, EnvLock] = field(default_factory=dict)
    refs: dict[str, dict[str, int | None]] = field(default_factory=dict)  # input node -> sample -> version
    runtimes: list[Runtime] = field(default_factory=list)  # idle, connected runtimes
    images: set[str] = field(default_factory=set)  # image digests checked present
    guard: threading.Lock = field(default_factory=threading.Lock)  # for the runtime pool
    warned: set[str] = field(default_factory=set)  # Pushgateway URLs already warned about

    def close(self) -> None:
        """Release the pooled runtimes' connections (when the pipeline run or step is over)."""
        with self.guard:
            runtimes, self.runtimes = self.runtimes, []
        for runtime in runtimes:
            runtime.close()


class UpstreamMissing(UsageError):
    """Upstream steps of the step being resolved have no completed record yet."""

    def __init__(self, message: str, hint: str, missing: list[str]) -> None:
        super().__init__(message, hint)
        self.missing = missing


@dataclass(frozen=True)
class ResolvedStep:
    """A concrete step: node x sample-or-group x variant, with everything its key needs."""

    node: MethodNode
    method: Method
    params: dict[str, Any]
    env_name: str
    env_digest: str
    sample: str | None
    variant: str | None
    members: list[str] | None
    inputs: list[InputItem]
    identity: StepIdentity
    key: str

    @property
    def name(self) -> str:
        """``node``, ``node[sample]`` or ``node[sample|variant]`` (BRIEF §6b)."""
        return step_name(self.node.id, self.sample, self.variant)


@dataclass
class Resolver:
    """Resolves steps of one pipeline document against the project and its lineage database.

    With ``read_only`` it writes nothing, not even a sample restored from ``samples.lock.json``
    (:meth:`sample`): what ``plan``, ``why`` and ``validate`` use.
    """

    project: Project
    pipeline: Pipeline
    lineage: Lineage
    document: str = "PIPELINE"  # how the document is named in hints
    variables: dict[str, Any] = field(default_factory=dict)  # resolved pipeline variables
    warm: Warm = field(default_factory=lambda: Warm())
    read_only: bool = False

    def __post_init__(self) -> None:
        if id(self.pipeline) not in self.warm.expansions:  # what a select picks: read once, if any
            catalog = catalog_for(self.project, self.pipeline)
            self.warm.expansions[id(self.pipeline)] = Expansion(self.pipeline, catalog)
        self.expansion = self.warm.expansions[id(self.pipeline)]
        self._methods = self.warm.methods
        self._steps = self.warm.steps
        self._checked: set[str] = set()  # nodes whose links passed the checker

    def resolve(self, node_id: str, sample: str | None = None, variant: str | None = None) -> ResolvedStep:
        """Resolve one concrete step.

        Raises:
            UsageError: Unknown node, sample or variant; invalid params; an upstream step that has
                no record yet (named, with the command that runs it).
        """
        node = self.pipeline.node(node_id)
        if isinstance(node, InputNode):
            raise UsageError(
                f"node '{node_id}' is an input node: it has no step to run", "run a method node that reads it"
            )
        samples = self.expansion.samples_of(node_id)
        if samples is None and sample is not None:
            raise UsageError(
                f"node '{node_id}' is not per-sample: it takes no --sample", "drop --sample for this node"
            )
        if samples is not None:
            if sample is None:
                raise UsageError(
                    f"node '{node_id}' runs once per sample: say which with --sample",
                    "samples: " + ", ".join(samples),
                )
            if sample not in samples:
                raise UsageError(
                    f"node '{node_id}' has no sample '{sample}'{did_you_mean(sample, samples)}",
                    "samples: " + ", ".join(samples),
                )
        return self.resolve_in(node, sample, self.expansion.find(node_id, variant))

    def resolve_in(self, node: MethodNode, sample: str | None, variant: Variant) -> ResolvedStep:
        """Resolve a step by its exact variant context (memoised). Its ancestors are resolved
        first, upstream to downstream, so that a deep chain never recurses deeply."""
        target = ConcreteStep(node.id, sample, variant)
        for step in self._unresolved_ancestors(target):
            upstream = self.pipeline.node(step.node)
            assert isinstance(upstream, MethodNode)
            self._memo(upstream, step.sample, step.variant)
        return self._memo(node, sample, variant)

    def _memo(self, node: MethodNode, sample: str | None, variant: Variant) -> ResolvedStep:
        memo = (node.id, sample, variant)
        if memo not in self._steps:
            self._steps[memo] = self._resolve(node, sample, variant)
        return self._steps[memo]

    def _unresolved_ancestors(self, step: ConcreteStep) -> list[ConcreteStep]:
        found: dict[tuple[str, str | None, Variant], ConcreteStep] = {}
        stack = [step]
        while stack:
            for up in self.expansion.upstream_steps(stack.pop()):
                memo = (up.node, up.sample, up.variant)
                if memo not in found and memo not in self._steps:
                    found[memo] = up
                    stack.append(up)
        position = {node: i for i, node in enumerate(self.expansion.order)}
        return sorted(found.values(), key=lambda s: position[s.node])

    def params_of(self, node: MethodNode, sample: str | None, variant: Variant) -> dict[str, Any]:
        """A step's resolved, typed params: node params < variant < sweep point < sample override.

        Raises:
            UsageError: An unknown, missing or mistyped param, or a variable without a value.
        """
        given = dict(node.params)
        choice = variant.choice(node.id)
        if choice is not None:
            given.update(dict(node.choices())[choice])
        if sample is not None:
            given.update(node.overrides.get(sample, {}))
        where = f"nodes[{node.id}].params"
        given = substitute(given, self.variables, self.pipeline, where)
        return self.method(node.method).spec.resolve_params(given, where)

    def fingerprint(self, node: MethodNode, sample: str | None, variant: Variant) -> str:
        """What a step's key depends on, short of upstream outputs: method code and contract,
        params, image and the content of the samples it reads directly. Snakemake re-runs a step
        whose fingerprint changed; upstream changes reach it through its inputs' markers."""
        method = self.method(node.method)
        samples = []
        for link in self.pipeline.links_into(node.id):
            source = self.pipeline.node(link.source.node)
            if isinstance(source, InputNode):
                for name, version in self._refs(source, link.gather, sample):
                    row = self.lineage.sample_version(name, version)
                    samples.append([name, row.content_hash if row else None])
        lock = self.lock(method.spec.env)
        identity = [
            method.code_hash,
            method.contract_hash,
            self.params_of(node, sample, variant),
            lock.image_id,
        ]
        return hash_json(["wfc.fingerprint", 1, identity, sorted(samples)])

    def _refs(self, source: InputNode, gather: bool, sample: str | None) -> list[tuple[str, int | None]]:
        """The sample references a step reads from an input node: its own sample, or all of them
        (sorted by name) for a ``mode: all`` node or a gather. Parsed once per node."""
        if source.id not in self.warm.refs:
            self.warm.refs[source.id] = dict(sorted(map(sample_ref, self.expansion.refs_of(source.id))))
        refs = self.warm.refs[source.id]
        if source.mode == "each" and not gather:
            return [(sample, refs[sample])] if sample in refs else []
        return list(refs.items())

    def lock(self, env: str) -> EnvLock:
        """An environment's lock, read once per warm process."""
        if env not in self.warm.locks:
            self.warm.locks[env] = read_lock(self.project, env)
        return self.warm.locks[env]

    def method(self, ref: str) -> Method:
        """Load a method once per resolver."""
        if ref not in self._methods:
            self._methods[ref] = load_method(self.project, ref)
        return self._methods[ref]

    def _resolve(self, node: MethodNode, sample: str | None, variant: Variant) -> ResolvedStep:
        method = self.method(node.method)
        params = self.params_of(node, sample, variant)
        lock = self.lock(method.spec.env)
        inputs, members = self._inputs(node, method, sample, variant)
        by_slot: dict[str, list[str]] = {}
        for item in inputs:
            by_slot.setdefault(item.slot, []).append(item.digest)
        identity = StepIdentity(
            module=method.module,
            method=method.name,
            code=method.code_hash,
            contract=method.contract_hash,
            params=params,
            env_digest=lock.image_id,
            inputs=by_slot,
            sample=sample,
            members=members,
        )
        return ResolvedStep(
            node,
            method,
            params,
            method.spec.env,
            lock.image_id,
            sample,
            variant.label,
            members,
            inputs,
            identity,
            step_key(identity),
        )

    def _inputs(
        self, node: MethodNode, method: Method, sample: str | None, variant: Variant
    ) -> tuple[list[InputItem], list[str] | None]:
        self._check_links(node)
        items: list[InputItem] = []
        members: set[str] = set()
        missing: list[ResolvedStep] = []
        for link in self.pipeline.links_into(node.id):
            slot = slot_of(link.target.slot, method.spec.inputs)
            assert slot is not None  # checked
            position = sum(1 for i in items if i.slot == slot)
            for item in self._from_link(link, slot, sample, variant, members, missing):
                items.append(_at(item, position))
                position += 1
        if missing:
            first = missing[0]
            example = (
                f"wfc run-step {self.document} --node {first.node.id}"
                + (f" --sample {first.sample}" if first.sample else "")
                + (f" --variant {first.variant}" if first.variant else "")
            )
            names = [m.name for m in missing]
            raise UpstreamMissing(
                f"upstream steps of '{node.id}' have not run: {', '.join(names)}",
                f"run them first, e.g. `{example}`",
                names,
            )
        return items, (sorted(members) if members else None)

    def _check_links(self, node: MethodNode) -> None:
        """Raise the first error the link checker finds in the links into ``node`` or its slots."""
        if node.id in self._checked:
            return
        specs: dict[str, MethodSpec | None] = {node.method: self.method(node.method).spec}
        for link in self.pipeline.links_into(node.id):
            source = self.pipeline.node(link.source.node)
            if isinstance(source, MethodNode):
                specs[source.method] = self.method(source.method).spec
        for problem in check_links(self.pipeline, specs, into=node.id, expansion=self.expansion):
            if problem.severity == "error":
                raise UsageError(problem.message, problem.hint)
        self._checked.add(node.id)

    def _from_link(
        self,
        link: Link,
        slot: str,
        sample: str | None,
        variant: Variant,
        members: set[str],
        missing: list[ResolvedStep],
    ) -> list[InputItem]:
        source = self.pipeline.node(link.source.node)
        if isinstance(source, InputNode):
            refs = self._refs(source, link.gather, sample)
            if source.mode == "all" or link.gather:
                members.update(name for name, _ in refs)
            return [self._sample_item(slot, name, version) for name, version in refs]
        out_slot = slot_of(link.source.slot, self.method(source.method).spec.outputs)
        assert out_slot is not None  # checked
        upstream_samples = self.expansion.samples_of(source.id)
        upstream_variant = self.expansion.restrict(variant, source.id)
        if link.gather and upstream_samples is not None:
            members.update(upstream_samples)
            wanted: list[str | None] = list(upstream_samples)
        else:
            wanted = [sample if upstream_samples is not None else None]
        items = []
        for s in wanted:
            item = self._upstream_item(source, s, upstream_variant, slot, out_slot, missing)
            if item is not None:
                items.append(item)
        return items

    def sample(self, name: str, version: int | None) -> SampleRecord | None:
        """A registered sample version (the newest when ``version`` is None), or None.

        On a fresh checkout (DVC, CI) the database may lack a sample that ``samples.lock.json``
        lists. Normally it is restored then: its source is stored, checked against the locked
        hash and registered. A read-only resolver restores nothing: it answers with the lock's
        entry as the restore would record it (the locked version and content hash, so plans and
        keys are those of the real run), after cheap checks only (the source exists; a file's
        size is the locked size). The locked hash is not re-computed: ``run-step`` and
        ``run-pipeline`` hash the source when they restore it and refuse content that differs.

        Raises:
            UsageError: The lock lists the sample but its source is missing or has changed.
        """
        row = self.lineage.sample_version(name, version)
        if row is not None:
            return row
        if self.read_only:
            return sample_from_lock(self.project, name, version)
        if restore_from_lock(self.project, self.lineage, name):  # a fresh checkout
            return self.lineage.sample_version(name, version)
        return None

    def _sample_item(self, slot: str, name: str, version: int | None) -> InputItem:
        row = self.sample(name, version)
        if row is None:
            what = f"{name}@{version}" if version else name
            raise UsageError(f"unknown sample '{what}'", f"register it with `wfc sample add {name} PATH`")
        return InputItem(
            slot,
            0,
            row.content_hash,
            "dir" if row.kind == "dir" else "file",
            row.original_name,
            sample_name=row.name,
            sample_version=row.version,
        )

    def _upstream_item(
        self,
        source: MethodNode,
        sample: str | None,
        variant: Variant,
        slot: str,
        out_slot: str,
        missing: list[ResolvedStep],
    ) -> InputItem | None:
        upstream = self._memo(source, sample, variant)
        found = self.lineage.find_completed(upstream.key)
        if found is None:
            missing.append(upstream)
            return None
        run, outputs = found
        out = next((o for o in outputs if o.slot == out_slot), None)
        if out is None:
            raise UsageError(
                f"upstream step {upstream.name} (run {run.id}) produced no '{out_slot}' output",
                "make the output required, or do not link an optional output that is absent",
            )
        name = out.path.rstrip("/").rsplit("/", 1)[-1]
        return InputItem(
            slot,
            0,
            out.content_hash,
            "dir" if out.kind == "dir" else "file",
            name,
            sample_name=sample,
            source_run_id=run.id,
            source_slot=out_slot,
        )


def _at(item: InputItem, position: int) -> InputItem:
    from dataclasses import replace

    return replace(item, position=position)
