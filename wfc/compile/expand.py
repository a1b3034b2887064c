"""Expansion (BRIEF §10): which concrete steps a pipeline document has.

A concrete step is a method node x a sample (or none) x a *variant context*. A node is *varying*
when it declares ``variants`` or a ``sweep``; the context of a step assigns one choice to every
varying node among the step's node and its ancestors. So a step downstream of a two-value sweep
runs twice per sample, two swept upstreams give their cross product, and a node never runs for
the variants of nodes that are not its upstreams (ADR 0008).

An input node's samples are its ``samples`` list, or what its ``select`` picks from a *sample
catalog* (``{name: metadata}`` of the registered samples, given by the caller): this is the one
place a selection is made (:meth:`Expansion.refs_of`).

Pure model logic: no I/O.
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cached_property

from wfc.errors import UsageError, did_you_mean
from wfc.model.pipeline import InputNode, MethodNode, Pipeline
from wfc.output import plural

SampleCatalog = Mapping[str, Mapping[str, str]]
"""Registered sample names with the metadata of their newest versions."""
SELECT_HINT = (
    "list the samples and their metadata with `wfc sample list`; "
    "register samples with metadata with `wfc sample import SHEET`"
)


@dataclass(frozen=True)
class Variant:
    """A variant context: ``(varying node id, choice label)`` pairs, sorted by node id."""

    choices: tuple[tuple[str, str], ...] = ()
    label: str | None = None  # the name users see; None when nothing varies

    def choice(self, node_id: str) -> str | None:
        """This context's choice for a varying node."""
        return dict(self.choices).get(node_id)


@dataclass(frozen=True)
class ConcreteStep:
    """One step to run: node, sample (None when not per-sample), variant context."""

    node: str
    sample: str | None
    variant: Variant

    @property
    def name(self) -> str:
        """``node``, ``node[sample]`` or ``node[sample|variant]`` (BRIEF §6b)."""
        return step_name(self.node, self.sample, self.variant.label)


def step_name(node: str, sample: str | None, variant: str | None) -> str:
    """The display name of a step."""
    inner = f"{sample or ''}|{variant}" if variant else sample
    return f"{node}[{inner}]" if inner else node


def sample_ref(text: str) -> tuple[str, int | None]:
    """Split ``name`` or ``name@version``.

    Raises:
        UsageError: The version is not a number.
    """
    name, _, version = text.partition("@")
    if version and not version.isdigit():
        raise UsageError(
            f"bad sample reference '{text}': the version after @ must be a number",
            f"write {name} or {name}@2",
        )
    return name, int(version) if version else None


class NoSampleSelected(UsageError):
    """An input node's ``select`` matches no registered sample; ``problem`` says why without
    naming the node (``validate`` puts it at the node's ``select``)."""

    def __init__(self, node_id: str, problem: str) -> None:
        super().__init__(f"input node '{node_id}': {problem}", SELECT_HINT)
        self.problem = problem


def select_samples(select: Mapping[str, str | list[str]], catalog: SampleCatalog) -> list[str]:
    """The names of the catalog's samples whose metadata matches every column of ``select`` (a
    value, or any of a list of values), sorted."""
    wanted = {column: [v] if isinstance(v, str) else v for column, v in select.items()}
    return sorted(
        name
        for name, metadata in catalog.items()
        if all(metadata.get(column) in values for column, values in wanted.items())
    )


class Expansion:
    """The concrete steps of one pipeline document; ``catalog`` is what ``select`` picks from."""

    def __init__(self, pipeline: Pipeline, catalog: SampleCatalog | None = None) -> None:
        self.pipeline = pipeline
        self.catalog: SampleCatalog = catalog or {}
        self._nodes = {n.id: n for n in pipeline.nodes}
        self._ancestors: dict[str, frozenset[str]] = {}
        self._samples: dict[str, list[str] | None] = {}
        self._refs: dict[str, list[str]] = {}
        self._variant_cache: dict[str, tuple[Variant, ...]] = {}

    @cached_property
    def order(self) -> list[str]:
        """Node ids in dependency order (upstreams first; ties by document order)."""
        position = {n.id: i for i, n in enumerate(self.pipeline.nodes)}
        waiting = {n.id: len(self.pipeline.links_into(n.id)) for n in self.pipeline.nodes}
        downstream: dict[str, list[str]] = {n.id: [] for n in self.pipeline.nodes}
        for link in self.pipeline.links:
            downstream[link.source.node].append(link.target.node)
        ready = [(position[n], n) for n, count in waiting.items() if count == 0]
        heapq.heapify(ready)
        done: list[str] = []
        while ready:
            _, node = heapq.heappop(ready)
            done.append(node)
            for nxt in downstream[node]:
                waiting[nxt] -= 1
                if waiting[nxt] == 0:
                    heapq.heappush(ready, (position[nxt], nxt))
        return done

    def ancestors(self, node_id: str) -> frozenset[str]:
        """Every node upstream of ``node_id``."""
        if not self._ancestors:
            for node in self.order:
                found: set[str] = set()
                for link in self.pipeline.links_into(node):
                    found.add(link.source.node)
                    found |= self._ancestors[link.source.node]
                self._ancestors[node] = frozenset(found)
        return self._ancestors[node_id]

    def refs_of(self, node_id: str) -> list[str]:
        """The sample references of an input node: its ``samples`` (``name`` or ``name@version``),
        or the names its ``select`` picks from the catalog (sorted; their newest versions).

        Raises:
            NoSampleSelected: The ``select`` matches no registered sample.
        """
        if node_id not in self._refs:
            node = self._nodes[node_id]
            assert isinstance(node, InputNode)
            if node.select is None:
                assert node.samples is not None  # the model requires one of the two
                self._refs[node_id] = list(node.samples)
            else:
                found = select_samples(node.select, self.catalog)
                if not found:
                    raise NoSampleSelected(node_id, self._nothing_matches(node.select))
                self._refs[node_id] = found
        return self._refs[node_id]

    def _nothing_matches(self, select: Mapping[str, str | list[str]]) -> str:
        if not self.catalog:
            return "select matches no sample: none is registered"
        columns = sorted({column for metadata in self.catalog.values() for column in metadata})
        for column in select:
            if column not in columns:
                return f"no registered sample has the metadata column '{column}'" + (
                    f"{did_you_mean(column, columns)}; columns: {', '.join(columns)}"
                    if columns
                    else "; no sample has metadata"
                )
        shown = ", ".join(
            f"{column}={value if isinstance(value, str) else '|'.join(value)}"
            for column, value in select.items()
        )
        return f"select {shown} matches no sample ({plural(len(self.catalog), 'sample')} registered)"

    def samples_of(self, node_id: str) -> list[str] | None:
        """The sample names a node runs once for, or None when it runs once in all.

        Raises:
            UsageError: Two per-sample upstreams have different samples.
        """
        if node_id not in self._samples:
            for node in self.order:  # upstreams first, so each lookup below is already known
                if node not in self._samples:
                    self._samples[node] = self._samples_here(node)
        return self._samples[node_id]

    def _samples_here(self, node_id: str) -> list[str] | None:
        node = self._nodes[node_id]
        if isinstance(node, InputNode):
            return sorted(sample_ref(s)[0] for s in self.refs_of(node_id)) if node.mode == "each" else None
        found: list[str] | None = None
        first = ""
        for link in self.pipeline.links_into(node_id):
            if link.gather:
                continue
            upstream = self._samples[link.source.node]
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

    def variants_of(self, node_id: str) -> list[Variant]:
        """Every variant context of a node (one empty context when nothing varies)."""
        return list(self._variants(node_id))

    def find(self, node_id: str, label: str | None) -> Variant:
        """The context of a node whose label is ``label``.

        Raises:
            UsageError: No such variant, or a variant is required and none was given.
        """
        variants = self._variants(node_id)
        labels = [v.label for v in variants if v.label]
        for variant in variants:
            if variant.label == label:
                return variant
        if label is None:
            raise UsageError(
                f"node '{node_id}' runs in variants: say which with --variant",
                "variants: " + ", ".join(labels),
            )
        raise UsageError(
            f"node '{node_id}' has no variant '{label}'{did_you_mean(label, labels)}",
            "variants: " + (", ".join(labels) or "none"),
        )

    def restrict(self, variant: Variant, node_id: str) -> Variant:
        """The part of a context that applies to ``node_id`` (its own and its ancestors' choices)."""
        wanted = tuple(c for c in variant.choices if c[0] in self._varying(node_id))
        for candidate in self._variants(node_id):
            if candidate.choices == wanted:
                return candidate
        raise AssertionError(f"context {wanted} is not a variant of {node_id}")  # pragma: no cover

    def upstream_steps(self, step: ConcreteStep) -> list[ConcreteStep]:
        """The method steps whose outputs ``step`` reads (a gather reads every sample's step)."""
        found: dict[tuple[str, str | None, Variant], ConcreteStep] = {}
        for link in self.pipeline.links_into(step.node):
            if not isinstance(self._nodes[link.source.node], MethodNode):
                continue
            source = link.source.node
            variant = self.restrict(step.variant, source)
            samples = self.samples_of(source)
            if link.gather and samples is not None:
                wanted: list[str | None] = list(samples)
            else:
                wanted = [step.sample if samples is not None else None]
            for sample in wanted:
                found[(source, sample, variant)] = ConcreteStep(source, sample, variant)
        return list(found.values())

    def steps(self) -> list[ConcreteStep]:
        """Every concrete step of every method node, in dependency order."""
        found = []
        for node_id in self.order:
            if isinstance(self._nodes[node_id], MethodNode):
                per_sample = self.samples_of(node_id)
                samples: list[str | None] = list(per_sample) if per_sample is not None else [None]
                for sample, variant in itertools.product(samples, self._variants(node_id)):
                    found.append(ConcreteStep(node_id, sample, variant))
        return found

    @cached_property
    def _varying_nodes(self) -> frozenset[str]:
        return frozenset(n.id for n in self.pipeline.nodes if isinstance(n, MethodNode) and n.choices())

    def _varying(self, node_id: str) -> list[str]:
        return sorted((self.ancestors(node_id) | {node_id}) & self._varying_nodes)

    def _method(self, node_id: str) -> MethodNode:
        node = self._nodes[node_id]
        assert isinstance(node, MethodNode)
        return node

    def _variants(self, node_id: str) -> tuple[Variant, ...]:
        if node_id not in self._variant_cache:
            self._variant_cache[node_id] = self._compute_variants(node_id)
        return self._variant_cache[node_id]

    def _compute_variants(self, node_id: str) -> tuple[Variant, ...]:
        varying = self._varying(node_id)
        if not varying:
            return (Variant(),)
        axes = [[(n, label) for label, _ in self._method(n).choices()] for n in varying]
        combos = [tuple(combo) for combo in itertools.product(*axes)]
        names = [label for axis in axes for _, label in axis]
        if len(set(names)) == len(names):
            labels = [",".join(label for _, label in combo) for combo in combos]
        else:  # two varying nodes share a choice name: qualify every choice with its node
            labels = [",".join(f"{n}:{label}" for n, label in combo) for combo in combos]
        return tuple(Variant(combo, label) for combo, label in zip(combos, labels, strict=True))
