"""Resolve a concrete step from a pipeline document, finding its inputs by content (BRIEF §6.1).

A root step's inputs are frozen sample versions. A downstream step's inputs are the recorded
outputs of its upstream steps, found by computing each upstream step's key (recursively, from the
samples) and looking up the completed run with that key. No sentinel files, no staging paths: the
answer is the same whoever launches the step.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from wfc.cache.key import StepIdentity, step_key
from wfc.errors import UsageError, did_you_mean
from wfc.lineage.records import Lineage
from wfc.model.pipeline import InputNode, Link, MethodNode, Pipeline
from wfc.project import Project
from wfc.runtime.environments import read_lock
from wfc.step.methods import Method, load_method


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
        inner = f"{self.sample or ''}|{self.variant}" if self.variant else self.sample
        return f"{self.node.id}[{inner}]" if inner else self.node.id


@dataclass
class Resolver:
    """Resolves steps of one pipeline document against the project and its lineage database."""

    project: Project
    pipeline: Pipeline
    lineage: Lineage
    document: str = "PIPELINE"  # how the document is named in hints
    _methods: dict[str, Method] = field(default_factory=dict)
    _steps: dict[tuple[str, str | None, str | None], ResolvedStep] = field(default_factory=dict)

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
        samples = self.samples_of(node_id)
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
        memo = (node_id, sample, variant)
        if memo not in self._steps:
            self._steps[memo] = self._resolve(node, sample, variant)
        return self._steps[memo]

    def samples_of(self, node_id: str) -> list[str] | None:
        """The sample names a node runs once for, or None when it runs once in all."""
        node = self.pipeline.node(node_id)
        if isinstance(node, InputNode):
            return sorted(_sample_ref(s)[0] for s in node.samples) if node.mode == "each" else None
        found: list[str] | None = None
        first = ""
        for link in self.pipeline.links_into(node_id):
            if link.gather:
                continue
            upstream = self.samples_of(link.source.node)
            if upstream is None:
                continue
            if found is not None and set(found) != set(upstream):
                lacks_first = ", ".join(sorted(set(upstream) - set(found))) or "nothing"
                lacks_this = ", ".join(sorted(set(found) - set(upstream))) or "nothing"
                raise UsageError(
                    f"node '{node_id}' joins per-sample upstreams with different samples: "
                    f"'{first}' lacks {lacks_first}; '{link.source.node}' lacks {lacks_this}",
                    "give every per-sample upstream of a node the same samples",
                )
            found, first = upstream, link.source.node
        return found

    def method(self, ref: str) -> Method:
        """Load a method once per resolver."""
        if ref not in self._methods:
            self._methods[ref] = load_method(self.project, ref)
        return self._methods[ref]

    def _resolve(self, node: MethodNode, sample: str | None, variant: str | None) -> ResolvedStep:
        method = self.method(node.method)
        given = dict(node.params)
        if variant is not None:
            if variant not in node.variants:
                raise UsageError(
                    f"node '{node.id}' has no variant '{variant}'"
                    + did_you_mean(variant, list(node.variants)),
                    "variants: " + (", ".join(node.variants) or "none"),
                )
            given.update(node.variants[variant])
        params = method.spec.resolve_params(given, f"nodes[{node.id}].params")
        lock = read_lock(self.project, method.spec.env)
        inputs, members = self._inputs(node, method, sample)
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
            variant,
            members,
            inputs,
            identity,
            step_key(identity),
        )

    def _inputs(
        self, node: MethodNode, method: Method, sample: str | None
    ) -> tuple[list[InputItem], list[str] | None]:
        items: list[InputItem] = []
        members: set[str] = set()
        missing: list[ResolvedStep] = []
        for link in self.pipeline.links_into(node.id):
            slot = self._target_slot(node, method, link)
            position = sum(1 for i in items if i.slot == slot)
            for item in self._from_link(link, slot, sample, members, missing):
                items.append(_at(item, position))
                position += 1
        if missing:
            first = missing[0]
            example = f"wfc run-step {self.document} --node {first.node.id}" + (
                f" --sample {first.sample}" if first.sample else ""
            )
            raise UsageError(
                f"upstream steps of '{node.id}' have not run: {', '.join(m.name for m in missing)}",
                f"run them first, e.g. `{example}`",
            )
        for slot_name, declared in method.spec.inputs.items():
            count = sum(1 for i in items if i.slot == slot_name)
            if declared.required and count == 0:
                raise UsageError(
                    f"node '{node.id}': required input slot '{slot_name}' is not fed by any link",
                    f'add a link {{"from": "...", "to": "{node.id}.{slot_name}"}}',
                )
            if count > 1 and not declared.multiple:
                raise UsageError(
                    f"node '{node.id}': input slot '{slot_name}' receives {count} inputs but is not multiple",
                    f"declare inputs.{slot_name}.multiple: true in method.yaml, or feed it one input",
                )
        return items, (sorted(members) if members else None)

    def _target_slot(self, node: MethodNode, method: Method, link: Link) -> str:
        slots = list(method.spec.inputs)
        slot = link.target.slot
        if slot is None:
            if len(slots) != 1:
                raise UsageError(
                    f"link to '{node.id}' must name a slot: {method.ref} has inputs {slots}",
                    f'write "to": "{node.id}.SLOT"',
                )
            return slots[0]
        if slot not in method.spec.inputs:
            raise UsageError(
                f"link to '{node.id}.{slot}': {method.ref} has no input slot '{slot}'"
                + did_you_mean(slot, slots),
                "input slots: " + ", ".join(slots),
            )
        return slot

    def _from_link(
        self, link: Link, slot: str, sample: str | None, members: set[str], missing: list[ResolvedStep]
    ) -> list[InputItem]:
        source = self.pipeline.node(link.source.node)
        if isinstance(source, InputNode):
            if link.source.slot not in (None, "data"):
                raise UsageError(
                    f"input node '{source.id}' has one slot, 'data', not '{link.source.slot}'",
                    f'write "from": "{source.id}"',
                )
            refs = [_sample_ref(s) for s in source.samples]
            if source.mode == "each" and not link.gather:
                refs = [r for r in refs if r[0] == sample]
            else:
                members.update(r[0] for r in refs)
            return [self._sample_item(slot, name, version) for name, version in sorted(refs)]
        source_method = self.method(source.method)
        out_slots = list(source_method.spec.outputs)
        out_slot = link.source.slot
        if out_slot is None:
            if len(out_slots) != 1:
                raise UsageError(
                    f"link from '{source.id}' must name a slot: {source_method.ref} has outputs {out_slots}",
                    f'write "from": "{source.id}.SLOT"',
                )
            out_slot = out_slots[0]
        elif out_slot not in source_method.spec.outputs:
            raise UsageError(
                f"link from '{source.id}.{out_slot}': no such output slot{did_you_mean(out_slot, out_slots)}",
                "output slots: " + ", ".join(out_slots),
            )
        upstream_samples = self.samples_of(source.id)
        if link.gather and upstream_samples is not None:
            members.update(upstream_samples)
            wanted: list[str | None] = list(upstream_samples)
        else:
            wanted = [sample if upstream_samples is not None else None]
        items = []
        for s in wanted:
            item = self._upstream_item(source.id, s, slot, out_slot, missing)
            if item is not None:
                items.append(item)
        return items

    def _sample_item(self, slot: str, name: str, version: int | None) -> InputItem:
        row = self.lineage.sample_version(name, version)
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
        self, node_id: str, sample: str | None, slot: str, out_slot: str, missing: list[ResolvedStep]
    ) -> InputItem | None:
        upstream = self.resolve(node_id, sample)
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


def _sample_ref(text: str) -> tuple[str, int | None]:
    name, _, version = text.partition("@")
    if version and not version.isdigit():
        raise UsageError(
            f"bad sample reference '{text}': the version after @ must be a number",
            f"write {name} or {name}@2",
        )
    return name, int(version) if version else None
