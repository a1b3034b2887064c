"""Why a step runs: the nearest earlier run of it and the components of the key that differ
(BRIEF §7). ``run-step`` records this as the reason of an executed step, and ``wfc why`` /
``plan --explain`` show it, so both say the same thing (``params.factor: 2.0 -> 3.0``).

The earlier run is chosen in this order: the same node of the same pipeline, the same node in any
pipeline, then the same method; within each, the same sample and variant first, newest first.
Code and contract differences are named from the listings kept in the store under their digests.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from wfc.cache.explain import code_entries, contract_fields, diff_code, diff_members, diff_values
from wfc.compile.expand import step_name
from wfc.lineage.records import InputRecord, Lineage, RunRecord
from wfc.output import plural
from wfc.step.resolve import InputItem, ResolvedStep
from wfc.store.local import ObjectCorrupt, ObjectMissing, ObjectStore


@dataclass(frozen=True)
class Side:
    """What a step's key is made of, as far as it is known before its inputs are."""

    ref: str
    code_hash: str
    contract_hash: str
    documents: tuple[bytes, bytes]
    params: dict[str, Any]
    env_name: str
    image: str


def side_of(step: ResolvedStep) -> Side:
    """The key components of a resolved step."""
    m = step.method
    return Side(m.ref, m.code_hash, m.contract_hash, m.documents, step.params, step.env_name, step.env_digest)


@dataclass
class Comparer:
    """Finds the earlier run a step compares with and names what changed since."""

    lineage: Lineage
    store: ObjectStore

    def earlier(
        self,
        pipeline: str,
        node: str,
        method: str,
        sample: str | None,
        variant: str | None,
        key: str | None = None,
    ) -> RunRecord | None:
        """The run to compare with (see the module docstring); a run with the same key wins."""
        module, _, name = method.partition("/")
        candidates = self.lineage.earlier_runs(node, module, name)

        def rank(pair: tuple[RunRecord, str]) -> tuple[int, int, int, int]:
            run, pipeline_name = pair
            tier = 0 if run.node_id == node and pipeline_name == pipeline else 1 if run.node_id == node else 2
            return (tier, run.key != key, run.sample != sample, run.variant != variant)

        ranked = sorted(candidates, key=rank)  # stable: newest first within a rank
        return ranked[0][0] if ranked else None

    def reason(self, pipeline: str, step: ResolvedStep) -> str:
        """The reason an uncached step runs: what changed since its earlier run, in one line."""
        earlier = self.earlier(pipeline, step.node.id, step.method.ref, step.sample, step.variant, step.key)
        if earlier is None:
            return f"never ran: no earlier run of node '{step.node.id}'"
        if earlier.key == step.key:
            return f"same key as run {earlier.id}, but it {earlier.status}"
        return "; ".join(self.diff(earlier, step)) or "key format changed"

    def diff(self, earlier: RunRecord, step: ResolvedStep) -> list[str]:
        """Every key component of ``step`` that differs from ``earlier``."""
        lines = self.common(earlier, side_of(step))
        if earlier.sample != step.sample:
            lines.append(f"sample: {earlier.sample} -> {step.sample}")
        lines += diff_members(earlier.members, step.members)
        return lines + self.inputs(earlier, step.inputs)

    def common(self, earlier: RunRecord, now: Side) -> list[str]:
        """Differences in method, code, contract, params and environment."""
        lines = []
        if f"{earlier.module}/{earlier.method}" != now.ref:
            lines.append(f"method: {earlier.module}/{earlier.method} -> {now.ref}")
        if earlier.code_hash != now.code_hash:
            old = self._document(earlier.code_hash)
            base = f"methods/{now.ref}"
            lines += (
                diff_code(code_entries(old), code_entries(now.documents[0]), base)
                if old
                else [f"code: {base} changed (the earlier listing is not in the store)"]
            )
        if earlier.contract_hash != now.contract_hash:
            old = self._document(earlier.contract_hash)
            lines += (
                diff_values(contract_fields(old), contract_fields(now.documents[1]), "contract")
                if old
                else ["contract: method.yaml contract changed"]
            )
        lines += diff_values(earlier.params, now.params, "params")
        if earlier.env_name != now.env_name:
            lines.append(f"environment: {earlier.env_name} -> {now.env_name}")
        if earlier.env_digest != now.image:
            lines.append(
                f"environment: image digest changed ({_short(earlier.env_digest)} -> {_short(now.image)})"
            )
        return lines

    def inputs(self, earlier: RunRecord, items: list[InputItem]) -> list[str]:
        """Differences in input data, slot by slot."""
        old = self.lineage.inputs_of(earlier.id)
        lines = []
        for slot in sorted({i.slot for i in old} | {i.slot for i in items}):
            before = [i for i in old if i.slot == slot]
            after = [i for i in items if i.slot == slot]
            if [i.content_hash for i in before] == [i.digest for i in after]:
                continue
            if len(before) != len(after):
                lines.append(
                    f"input data: slot '{slot}' had {plural(len(before), 'input')}, now {len(after)}"
                )
            lines += [
                self._changed(slot, b, a)
                for b, a in zip(before, after, strict=False)
                if b.content_hash != a.digest
            ]
        return lines

    def _changed(self, slot: str, before: InputRecord, after: InputItem) -> str:
        if after.source_run_id is None:
            version = (
                f"version {before.sample_version} -> {after.sample_version}"
                if before.sample_name == after.sample_name
                else f"{before.sample_name} -> {after.sample_name}"
            )
            return f"input data: slot '{slot}': sample {after.sample_name} changed ({version})"
        source = self.lineage.run_by_id(after.source_run_id)
        who = step_name(source.node_id, source.sample, source.variant) if source else after.source_run_id
        return (
            f"input data: slot '{slot}': upstream {who} re-ran and produced different bytes"
            f" (run {after.source_run_id})"
        )

    def _document(self, digest: str) -> bytes | None:
        try:
            self.store.verify(digest)
        except (ObjectMissing, ObjectCorrupt):
            return None
        return self.store.path(digest).read_bytes()


def _short(digest: str) -> str:
    algo, _, hexpart = digest.partition(":")
    return f"{algo}:{hexpart[:12]}" if hexpart else digest[:12]
